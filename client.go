package userauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-cleanhttp"
	"github.com/hashicorp/go-retryablehttp"
)

// Version is the version of this SDK; it starts the User-Agent header.
const Version = "0.1.0"

// The vendor's hosts of the API.
const (
	// DefaultBaseURL is the production API, used when NewClient is given
	// "".
	DefaultBaseURL = "https://a.y.at"
	// SandboxBaseURL is the vendor's sandbox, for trying an integration
	// without touching production accounts.
	SandboxBaseURL = "https://a.yat.fyi"
)

// Defaults of a Client made without options.
const (
	// DefaultMaxRetries is how many times a failed call is retried, when
	// the failure is one that is safe to retry for that endpoint.
	DefaultMaxRetries = 3
	// DefaultMinRetryWait is the first backoff; it doubles on each retry.
	DefaultMinRetryWait = 100 * time.Millisecond
	// DefaultMaxRetryWait caps the backoff and any Retry-After the server
	// asks for.
	DefaultMaxRetryWait = 5 * time.Second
	// DefaultTimeout bounds each attempt, from dialling to the end of the
	// body.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxResponseBytes bounds the body of an answer that is read.
	DefaultMaxResponseBytes = 1 << 20
)

// Client calls the endpoints of the User Authentication API. It is the Go
// counterpart of the Kotlin UserAuthenticationApi. A Client is safe for
// concurrent use and should be reused: it holds no per-user state, so one
// Client can serve any number of users and token stores.
type Client struct {
	baseURL    *url.URL
	httpClient *http.Client // the transport and timeout given; never follows redirects
	attempts   *http.Client // httpClient with each attempt bounded by the timeout
	userAgent  string
	headers    [2]http.Header           // of a request without and with a JSON body; values shared, read-only
	templates  map[string]*http.Request // per endpoint path: its request, URL parsed; copied per call, never sent
	logger     *slog.Logger
	maxRetries int
	minWait    time.Duration
	maxWait    time.Duration
	maxBody    int64
}

// NewClient returns a Client for the API at baseURL ("" means
// DefaultBaseURL). baseURL must be an absolute https:// URL, or http:// to a
// loopback host (or to any host with WithInsecureHTTP); it may have a path
// prefix, and must have no user information, query or fragment.
//
// Without options the client retries DefaultMaxRetries times where that is
// safe, bounds each attempt by DefaultTimeout and each body by
// DefaultMaxResponseBytes, sends its requests through a connection pool of
// its own, and logs nothing.
func NewClient(baseURL string, opts ...Option) (*Client, error) {
	o := defaultOptions()
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	base, err := parseBaseURL(baseURL, o.insecureHTTP)
	if err != nil {
		return nil, err
	}

	hc, attempts := o.httpClients()
	ua := "userauth-go/" + Version
	if o.userAgent != "" {
		ua += " " + o.userAgent
	}
	templates, err := newTemplates(base)
	if err != nil {
		return nil, err
	}
	accept, agent := []string{"application/json"}, []string{ua}
	return &Client{
		baseURL:    base,
		httpClient: hc,
		attempts:   attempts,
		userAgent:  ua,
		templates:  templates,
		headers: [2]http.Header{
			{"Accept": accept, "User-Agent": agent},
			{"Accept": accept, "User-Agent": agent, "Content-Type": accept},
		},
		logger:     o.logger,
		maxRetries: o.maxRetries,
		minWait:    o.minWait,
		maxWait:    o.maxWait,
		maxBody:    o.maxBody,
	}, nil
}

// httpClients returns the http.Client the options give (copied, never
// changed), and the one the API calls go through, which bounds each
// attempt by the timeout.
func (o *clientOptions) httpClients() (hc, attempts *http.Client) {
	hc = new(http.Client)
	if o.httpClient != nil {
		*hc = *o.httpClient
	}
	if hc.Transport == nil {
		// Not http.DefaultTransport: go-retryablehttp closes the idle
		// connections of the transport after a failed call, and those of
		// the default one belong to the whole program.
		hc.Transport = cleanhttp.DefaultPooledTransport()
	}
	if o.timeoutSet || hc.Timeout == 0 {
		hc.Timeout = o.timeout
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	// The API calls bound each attempt themselves (see attemptTimeout):
	// http.Client.Timeout would start a goroutine per request around a
	// transport that is not net/http's own.
	attempts = new(http.Client)
	*attempts = *hc
	attempts.Transport, attempts.Timeout = attemptTimeout{base: hc.Transport, timeout: hc.Timeout}, 0
	return hc, attempts
}

// newTemplates makes the request of each endpoint at base, to be copied
// by each call rather than parsed again.
func newTemplates(base *url.URL) (map[string]*http.Request, error) {
	templates := make(map[string]*http.Request)
	for _, ep := range []endpoint{epLogin, epMagicLink, epRefresh, epTwoFactor, epLogout, epBackupDisable} {
		r, err := http.NewRequest(ep.method, base.String()+ep.path, nil)
		if err != nil {
			return nil, fmt.Errorf("userauth: invalid base URL: %w", err)
		}
		templates[ep.path] = r
	}
	return templates, nil
}

// CloseIdleConnections closes the connections the Client keeps open for
// later calls, as http.Client.CloseIdleConnections does; the Client stays
// usable. Call it when a Client made for a short task is done with.
func (c *Client) CloseIdleConnections() { c.httpClient.CloseIdleConnections() }

// BaseURL returns the API's base URL, always ending in a slash.
func (c *Client) BaseURL() *url.URL {
	u := *c.baseURL
	return &u
}

func parseBaseURL(raw string, insecure bool) (*url.URL, error) {
	if raw == "" {
		raw = DefaultBaseURL
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the raw URL may hold credentials: keep it out
		}
		return nil, fmt.Errorf("userauth: invalid base URL: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, errors.New("userauth: invalid base URL: scheme must be http or https")
	case u.Host == "":
		return nil, errors.New("userauth: invalid base URL: no host")
	case u.User != nil:
		return nil, errors.New("userauth: invalid base URL: user information is not allowed")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, errors.New("userauth: invalid base URL: query and fragment are not allowed")
	case u.Scheme == "http" && !insecure && !isLoopback(u.Hostname()):
		return nil, errors.New("userauth: invalid base URL: http:// is only allowed to loopback hosts; use https:// or WithInsecureHTTP")
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	u.RawPath = ""
	return u, nil
}

// isLoopback reports whether host names this machine: a loopback address,
// or localhost itself (a name under .localhost may be resolved by DNS, to
// anywhere).
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// endpoint describes one API call.
type endpoint struct {
	method string
	path   string      // relative to the base URL
	policy retryPolicy // what may be retried (see retry.go)
}

// The endpoints of the API.
var (
	epLogin     = endpoint{http.MethodPost, "auth/token", retryReplaySafe}
	epMagicLink = endpoint{http.MethodPost, "auth/magic_link", retrySendOnce}
	epRefresh   = endpoint{http.MethodPost, "auth/token/refresh", retrySendOnce}
	epTwoFactor = endpoint{http.MethodPost, "auth/2fa", retrySendOnce}
	epLogout    = endpoint{http.MethodPost, "logout", retryAtMostOnce}
	// A backup code works once.
	epBackupDisable = endpoint{http.MethodPost, "account/2fa/backup_disable", retrySendOnce}
)

// request is a call's input.
type request interface {
	// body is the request's JSON body, or nil for none.
	body() ([]byte, error)
	// validate rejects the request before anything is sent.
	validate() error
	// secrets lists the values that must never show in an error.
	secrets() []string
	// retryPolicy narrows the endpoint's retry policy for this request.
	retryPolicy(endpoint retryPolicy) retryPolicy
}

// answer is the decoded 2xx body of a call.
type answer interface {
	// decode reads the body of a 2xx answer and its header, reports an
	// answer that lacks what the contract promises, and redacts the
	// request's secrets from what it keeps should the server echo them.
	decode(body []byte, h http.Header, secrets []string) error
}

// post validates in, posts it to ep with retries, and decodes the 2xx
// answer. It is the body of every endpoint method.
func post[T any, PT interface {
	*T
	answer
}](ctx context.Context, c *Client, ep endpoint, in request) (*T, error) {
	if ctx == nil {
		return nil, &ValidationError{Field: "ctx", Reason: "must not be nil"}
	}
	if err := in.validate(); err != nil {
		return nil, err
	}
	out := PT(new(T))
	if err := c.do(ctx, ep, in, out); err != nil {
		return nil, err
	}
	return out, nil
}

// do sends in to ep, with retries, and decodes a 2xx answer into out. Any
// other outcome is a typed error: *ClientError, *ServerError,
// *UnexpectedStatusError, *DecodeError or *TransportError. The secrets of
// in are scrubbed from error bodies.
func (c *Client) do(ctx context.Context, ep endpoint, in request, out answer) error {
	cl := &call{c: c, method: ep.method, path: c.baseURL.Path + ep.path, policy: in.retryPolicy(ep.policy), secrets: in.secrets()}
	if err := ctx.Err(); err != nil {
		return cl.transportError(err)
	}
	req, err := c.newRequest(ctx, ep, in)
	if err != nil {
		return fmt.Errorf("userauth: %s %s: %w", cl.method, cl.path, err)
	}
	resp, err := c.retryClient(cl).Do(req)
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err() // the caller's context ended, not an attempt
		}
		return cl.transportError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return newStatusError(cl.method, cl.path, ep.path, resp, cl.echo())
	}
	if _, ok := out.(interface{ statusOnly() }); ok {
		discard(resp) // any 2xx is the answer; the body says nothing more
		return nil
	}
	return c.decode(cl, resp, out)
}

// newRequest builds the request of one call to ep, with in as its JSON
// body, and in's bearer token when it has one.
func (c *Client) newRequest(ctx context.Context, ep endpoint, in request) (*retryablehttp.Request, error) {
	data, err := in.body()
	if err != nil {
		return nil, fmt.Errorf("encoding request: %w", err)
	}
	// A copy of the endpoint's template with a URL and header of its own
	// (header values are shared: no RoundTripper may change them in place).
	r := c.templates[ep.path].WithContext(ctx)
	u := *r.URL
	r.URL = &u
	h := c.headers[0]
	if len(data) > 0 {
		h = c.headers[1]
	}
	r.Header = make(http.Header, len(h)+1)
	for k, v := range h {
		r.Header[k] = v
	}
	if b, ok := in.(interface{ bearer() string }); ok {
		r.Header["Authorization"] = []string{"Bearer " + b.bearer()}
	}
	req, err := retryablehttp.FromRequest(r) // r has no body yet: nothing is read
	if err != nil {
		return nil, err
	}
	if data != nil {
		if err := req.SetBody(data); err != nil {
			return nil, err
		}
	}
	// Without GetBody, net/http's HTTP/2 transport cannot send the request
	// again by itself after a stream reset: only this package's retry
	// policy repeats a call. A request without a body gets an empty one,
	// as HTTP/2 repeats a request with none at will.
	req.GetBody = nil
	return req, nil
}

// decode reads a 2xx answer into out, within the body limit.
func (c *Client) decode(cl *call, resp *http.Response, out answer) error {
	decodeErr := func(err error) error {
		return &DecodeError{Method: cl.method, Path: cl.path, StatusCode: resp.StatusCode,
			ContentType: cl.echo().text(resp.Header.Get("Content-Type"), maxMessageLen), Err: cl.echo().cause(err)}
	}
	if resp.ContentLength > c.maxBody {
		return decodeErr(tooLargeError(c.maxBody))
	}
	data, err := readBody(resp, c.maxBody)
	if err != nil {
		te := cl.transportError(fmt.Errorf("reading answer: %w", err))
		te.StatusCode = resp.StatusCode
		return te
	}
	if int64(len(data)) > c.maxBody {
		return decodeErr(tooLargeError(c.maxBody))
	}
	if err := out.decode(data, resp.Header, cl.secrets); err != nil {
		return decodeErr(jsonCause(err))
	}
	return nil
}

// readBody reads at most limit+1 bytes of the body: in one allocation when
// the length is announced (a zero length is read as unknown, as a
// hand-built http.Response often leaves it unset with a body behind it).
func readBody(resp *http.Response, limit int64) ([]byte, error) {
	if n := resp.ContentLength; n > 0 && n <= limit {
		buf := make([]byte, n)
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	return io.ReadAll(io.LimitReader(resp.Body, limit+1))
}

// tooLargeError is a body over the limit; it matches ErrResponseTooLarge.
type tooLargeError int64

func (e tooLargeError) Error() string {
	return fmt.Sprintf("body larger than the %d-byte limit", int64(e))
}

func (e tooLargeError) Is(target error) bool { return target == ErrResponseTooLarge }
func (tooLargeError) sdkWords()              {}
