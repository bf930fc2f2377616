package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/tarilabs/userauth"
)

// The vendor's hosts, the variable that names another, and the default
// wait.
const (
	productionURL  = userauth.DefaultBaseURL
	sandboxURL     = userauth.SandboxBaseURL
	envBaseURL     = "USERAUTH_BASE_URL"
	defaultTimeout = 30 * time.Second
)

// apiFlags are the flags of every command that talks to the API.
type apiFlags struct {
	baseURL  string
	sandbox  bool
	insecure bool
	timeout  time.Duration
}

// addAPIFlags adds the API flags to fs. withSession says whether the
// command falls back on the saved session's API.
func addAPIFlags(fs *flagSet, withSession bool) *apiFlags {
	a := &apiFlags{}
	def := "$" + envBaseURL + ", else production"
	if withSession {
		def = "$" + envBaseURL + ", else the saved session's API, else production"
	}
	fs.StringVar(&a.baseURL, "base-url", "", "the API's base `URL` (default: "+def+", "+productionURL+")")
	fs.BoolVar(&a.sandbox, "sandbox", false, "use the sandbox API, "+sandboxURL+" (production is "+productionURL+")")
	fs.BoolVar(&a.insecure, "insecure", false, "allow a plain http:// URL to another machine (passwords and tokens then cross the network in clear text)")
	fs.DurationVar(&a.timeout, "timeout", defaultTimeout, "give up when the API has not answered within this `duration`")
	return a
}

// check reports flag values that make no sense.
func (a *apiFlags) check() error {
	if a.timeout <= 0 {
		return usagef("--timeout must be positive, not %v", a.timeout)
	}
	return nil
}

// explicit returns the API that the command line or the environment
// names, normalised, and which of them names it; "" when none does.
func (a *apiFlags) explicit(e *env) (api, source string, err error) {
	raw := ""
	switch {
	case a.baseURL != "":
		raw, source = a.baseURL, "--base-url"
	case a.sandbox:
		raw, source = sandboxURL, "--sandbox"
	case e.getenv(envBaseURL) != "":
		raw, source = e.getenv(envBaseURL), envBaseURL
	default:
		return "", "", nil
	}
	api, err = normalizeURL(raw)
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", source, err)
	}
	return api, source, nil
}

// normalizeURL returns the API base URL raw as scheme://host[:port][/path]:
// lower-case scheme and host, no default port, no trailing slash. Two URLs
// of one API normalise alike. Errors never quote raw, which may hold a
// password.
func normalizeURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", errors.New("not a URL")
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme != "http" && scheme != "https":
		return "", errors.New("the API URL must start with https://")
	case u.Hostname() == "":
		return "", errors.New("the API URL has no host")
	case u.User != nil:
		return "", errors.New("the API URL must not hold a user name or password")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", errors.New("the API URL must have no query or fragment")
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if port != "" {
		host = net.JoinHostPort(host, port)
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return scheme + "://" + host + strings.TrimRight(path.Clean("/"+u.EscapedPath()), "/"), nil
}

// remote is the API a command talks to, and how it waits for it.
type remote struct {
	url      string
	timeout  time.Duration
	insecure bool
	line     *statusLine
}

// remote returns the remote for api, a normalised URL. It refuses plain
// http:// to another machine without --insecure.
func (a *apiFlags) remote(e *env, api string) (*remote, error) {
	if u, err := url.Parse(api); err == nil && u.Scheme == "http" && !a.insecure && !isLoopback(u.Hostname()) {
		return nil, fmt.Errorf("%s is plain http:// to another machine, where passwords and tokens cross the network in clear text: use https://, or add --insecure to allow it", api)
	}
	return &remote{url: api, timeout: a.timeout, insecure: a.insecure, line: newStatusLine(e, api)}, nil
}

// isLoopback reports whether host names this machine, as the SDK judges
// it for plain http.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// client returns an SDK client for the remote. On a terminal its retries
// show on the status line.
func (r *remote) client() (*userauth.Client, error) {
	opts := []userauth.Option{userauth.WithUserAgent("userauth-cli"), userauth.WithTimeout(r.timeout)}
	if r.insecure {
		opts = append(opts, userauth.WithInsecureHTTP())
	}
	if r.line.on {
		opts = append(opts, userauth.WithLogger(slog.New(retryWatcher{r.line})))
	}
	return userauth.NewClient(r.url, opts...)
}

// do runs f, one wait for the API, bounded by --timeout and shown on the
// status line. A wait that outlasts the timeout is a timeoutError.
func (r *remote) do(ctx context.Context, f func(ctx context.Context) error) error {
	tctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	stop := r.line.show()
	err := f(tctx)
	stop()
	if err != nil && ctx.Err() == nil && (tctx.Err() != nil || errors.Is(err, context.DeadlineExceeded)) {
		return timeoutError{api: r.url, timeout: r.timeout, err: err}
	}
	return err
}

// timeoutError is a wait for the API that outlasted --timeout.
type timeoutError struct {
	api     string
	timeout time.Duration
	err     error // what the SDK returned
}

// Error names the API and the timeout.
func (t timeoutError) Error() string {
	return fmt.Sprintf("no answer from %s within %v: try again later, or with a longer --timeout", t.api, t.timeout)
}

// Unwrap returns what the SDK returned, so that errors.Is still sees, say,
// userauth.ErrNotRevoked.
func (t timeoutError) Unwrap() error { return t.err }
