package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path"
	"strings"

	"github.com/tarilabs/userauth"
)

// The vendor's hosts, and the variable that names another.
const (
	productionURL = userauth.DefaultBaseURL
	sandboxURL    = userauth.SandboxBaseURL
	envBaseURL    = "USERAUTH_BASE_URL"
)

// apiFlags are the flags of every command that talks to the API.
type apiFlags struct {
	baseURL  string
	sandbox  bool
	insecure bool
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
	return a
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

// remote is the API a command talks to.
type remote struct {
	url      string
	insecure bool
}

// remote returns the remote for api, a normalised URL. It refuses plain
// http:// to another machine without --insecure.
func (a *apiFlags) remote(e *env, api string) (*remote, error) {
	if u, err := url.Parse(api); err == nil && u.Scheme == "http" && !a.insecure && !isLoopback(u.Hostname()) {
		return nil, fmt.Errorf("%s is plain http:// to another machine, where passwords and tokens cross the network in clear text: use https://, or add --insecure to allow it", api)
	}
	return &remote{url: api, insecure: a.insecure}, nil
}

// isLoopback reports whether host names this machine, as the SDK judges
// it for plain http.
func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// client returns an SDK client for the remote.
func (r *remote) client() (*userauth.Client, error) {
	opts := []userauth.Option{userauth.WithUserAgent("userauth-cli")}
	if r.insecure {
		opts = append(opts, userauth.WithInsecureHTTP())
	}
	return userauth.NewClient(r.url, opts...)
}

// do runs f, one wait for the API.
func (r *remote) do(ctx context.Context, f func(ctx context.Context) error) error {
	return f(ctx)
}
