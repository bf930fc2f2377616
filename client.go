package userauth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// Version is the version of this SDK; it starts the User-Agent header.
const Version = "0.1.0"

// DefaultBaseURL is the production API, used when NewClient is given "".
const DefaultBaseURL = "https://api.y.at"

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

// Client calls the four endpoints of the User Authentication API. It is the
// Go counterpart of the Kotlin UserAuthenticationApi. A Client is safe for
// concurrent use and should be reused: it holds no per-user state, so one
// Client can serve any number of users and token stores.
type Client struct {
	baseURL    *url.URL
	httpClient *http.Client // Timeout zero: attempts are bounded by contexts
	timeout    time.Duration
	userAgent  []string // the User-Agent header value, shared read-only
	jsonType   []string // "application/json", shared read-only
	logger     *slog.Logger
	maxRetries int
	minWait    time.Duration
	maxWait    time.Duration
	maxBody    int64
	endpoints  [numEndpoints]endpoint
	retry      *retryablehttp.Client
	watchdog   watchdog // ends attempts at their timeout
}

// Option configures a Client. Options are applied in order, so the last one
// of a kind wins; an invalid value makes NewClient fail.
type Option func(*clientOptions) error

type clientOptions struct {
	httpClient   *http.Client
	maxRetries   int
	minWait      time.Duration
	maxWait      time.Duration
	timeout      time.Duration
	timeoutSet   bool
	userAgent    string
	logger       *slog.Logger
	maxBody      int64
	insecureHTTP bool
}

// WithHTTPClient sets the http.Client whose Transport carries the requests.
// Retries wrap it. The client is copied, never changed: its Timeout is kept
// unless WithTimeout is given (and replaced by DefaultTimeout when zero),
// and redirects are never followed whatever its CheckRedirect says.
func WithHTTPClient(hc *http.Client) Option {
	return func(o *clientOptions) error {
		if hc == nil {
			return errors.New("userauth: WithHTTPClient: nil *http.Client")
		}
		o.httpClient = hc
		return nil
	}
}

// WithRetry sets how many times a failed call is retried (0 turns retries
// off) and the bounds of the jittered exponential backoff between attempts.
// maxWait also caps how long a Retry-After header can make the client wait.
func WithRetry(maxRetries int, minWait, maxWait time.Duration) Option {
	return func(o *clientOptions) error {
		switch {
		case maxRetries < 0 || maxRetries > 100:
			return fmt.Errorf("userauth: WithRetry: maxRetries %d out of range [0, 100]", maxRetries)
		case minWait < 0:
			return fmt.Errorf("userauth: WithRetry: negative minWait %v", minWait)
		case maxWait < minWait:
			return fmt.Errorf("userauth: WithRetry: maxWait %v below minWait %v", maxWait, minWait)
		}
		o.maxRetries, o.minWait, o.maxWait = maxRetries, minWait, maxWait
		return nil
	}
}

// WithoutRetries makes every call a single attempt.
func WithoutRetries() Option {
	return func(o *clientOptions) error {
		o.maxRetries = 0
		return nil
	}
}

// WithTimeout bounds each attempt, from dialling to the end of the body
// (as http.Client.Timeout would). The context bounds the whole call, retries
// included. The default is DefaultTimeout.
func WithTimeout(d time.Duration) Option {
	return func(o *clientOptions) error {
		if d <= 0 {
			return fmt.Errorf("userauth: WithTimeout: %v is not positive", d)
		}
		o.timeout, o.timeoutSet = d, true
		return nil
	}
}

// WithUserAgent appends s to the User-Agent header, which always starts
// with "userauth-go/<Version>".
func WithUserAgent(s string) Option {
	return func(o *clientOptions) error {
		s = strings.TrimSpace(s)
		if s == "" {
			return errors.New("userauth: WithUserAgent: empty user agent")
		}
		if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return errors.New("userauth: WithUserAgent: control character in user agent")
		}
		o.userAgent = s
		return nil
	}
}

// WithLogger makes the client log each attempt (method, path, status,
// attempt number and duration) at debug level and each retry at info level.
// Bodies, headers and secrets are never logged. A nil logger, the default,
// logs nothing.
func WithLogger(l *slog.Logger) Option {
	return func(o *clientOptions) error {
		o.logger = l
		return nil
	}
}

// WithMaxResponseBytes bounds the body of a successful answer; a larger one
// fails with an error matching ErrResponseTooLarge, without the rest being
// read. The default is DefaultMaxResponseBytes (1 MiB).
func WithMaxResponseBytes(n int64) Option {
	return func(o *clientOptions) error {
		if n <= 0 {
			return fmt.Errorf("userauth: WithMaxResponseBytes: %d is not positive", n)
		}
		o.maxBody = n
		return nil
	}
}

// WithInsecureHTTP allows a plain http:// base URL for a host that is not a
// loopback address. Without it such a URL is refused, because passwords and
// tokens would cross the network in clear text.
func WithInsecureHTTP() Option {
	return func(o *clientOptions) error {
		o.insecureHTTP = true
		return nil
	}
}

// NewClient returns a Client for the API at baseURL ("" means
// DefaultBaseURL). baseURL must be an absolute https:// URL, or http:// to a
// loopback host (or to any host with WithInsecureHTTP); it may have a path
// prefix, and must have no user information, query or fragment.
//
// Without options the client retries DefaultMaxRetries times where that is
// safe, bounds each attempt by DefaultTimeout and each body by
// DefaultMaxResponseBytes, and logs nothing.
func NewClient(baseURL string, opts ...Option) (*Client, error) {
	o := clientOptions{
		maxRetries: DefaultMaxRetries,
		minWait:    DefaultMinRetryWait,
		maxWait:    DefaultMaxRetryWait,
		timeout:    DefaultTimeout,
		maxBody:    DefaultMaxResponseBytes,
	}
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

	var hc http.Client
	if o.httpClient != nil {
		hc = *o.httpClient
	}
	timeout := o.timeout
	if !o.timeoutSet && hc.Timeout != 0 {
		timeout = hc.Timeout
	}
	// Each attempt gets a context with this deadline from the Client's
	// watchdog (timeout.go) instead of http.Client.Timeout, which would
	// set up a runtime timer per request.
	hc.Timeout = 0
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	ua := "userauth-go/" + Version
	if o.userAgent != "" {
		ua += " " + o.userAgent
	}
	c := &Client{
		baseURL:    base,
		httpClient: &hc,
		timeout:    timeout,
		userAgent:  []string{ua},
		jsonType:   []string{"application/json"},
		logger:     o.logger,
		maxRetries: o.maxRetries,
		minWait:    o.minWait,
		maxWait:    o.maxWait,
		maxBody:    o.maxBody,
	}
	for id := range c.endpoints {
		ep := endpointFor(endpointID(id))
		tmpl, err := http.NewRequest(http.MethodPost, base.String()+strings.TrimPrefix(ep.path, "/"), nil)
		if err != nil {
			return nil, fmt.Errorf("userauth: invalid base URL: %w", err)
		}
		ep.tmpl = tmpl
		ep.path = base.Path + strings.TrimPrefix(ep.path, "/")
		c.endpoints[id] = ep
	}
	c.retry = c.newRetryClient()
	return c, nil
}

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

// isLoopback reports whether host names this machine.
func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

type endpointID int

const (
	epLogin endpointID = iota
	epMagicLink
	epRefresh
	epTwoFactor
	numEndpoints
)

// endpoint describes one API call. replaySafe endpoints may be repeated
// after an attempt whose fate is unknown (the request may have reached the
// server); the others only when the request surely never left.
type endpoint struct {
	path       string        // as it goes on the wire, with the base URL's prefix
	tmpl       *http.Request // POST to the endpoint's URL; copied per call, never sent
	replaySafe bool
}

// endpointFor describes the endpoint id, before the base URL is applied.
func endpointFor(id endpointID) endpoint {
	switch id {
	case epLogin:
		return endpoint{path: "/auth/token", replaySafe: true}
	case epMagicLink:
		return endpoint{path: "/auth/magic_link"}
	case epRefresh:
		return endpoint{path: "/auth/token/refresh"}
	default:
		return endpoint{path: "/auth/2fa"}
	}
}

// request is the body of a call: JSON-encoded as it is, with secret values
// that must never show in an error.
type request interface {
	secrets() []string
}

// do posts in as JSON to the endpoint, with retries, and decodes a 2xx
// answer into out. Any other outcome is a typed error: *ClientError,
// *ServerError, *UnexpectedStatusError, *DecodeError or *TransportError.
// The secrets of in are scrubbed from error bodies.
func (c *Client) do(ctx context.Context, id endpointID, in request, out interface{ check() error }) error {
	ep := &c.endpoints[id]
	if err := ctx.Err(); err != nil {
		return &TransportError{Method: http.MethodPost, Path: ep.path, Err: err}
	}
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("userauth: %s %s: encoding request: %w", http.MethodPost, ep.path, err)
	}
	a := &attempts{Context: ctx, c: c, ep: ep}
	defer a.stop()
	req, err := c.newRequest(a.next(), ep, body)
	if err != nil {
		return fmt.Errorf("userauth: %s %s: %w", http.MethodPost, ep.path, err)
	}
	a.req = req

	resp, err := c.retry.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err() // the caller's context ended, not an attempt's
		}
		return &TransportError{Method: http.MethodPost, Path: ep.path, Attempts: a.n, Err: err}
	}
	defer resp.Body.Close()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return newStatusError(http.MethodPost, ep.path, resp, data, in.secrets(), time.Now())
	}
	decodeErr := func(err error) error {
		return &DecodeError{Method: http.MethodPost, Path: ep.path, StatusCode: resp.StatusCode,
			ContentType: resp.Header.Get("Content-Type"), Err: err}
	}
	if resp.ContentLength > c.maxBody {
		return decodeErr(tooLargeError(c.maxBody))
	}
	data, err := readBody(resp, c.maxBody)
	if err != nil {
		return &TransportError{Method: http.MethodPost, Path: ep.path, Attempts: a.n, Err: fmt.Errorf("reading answer: %w", err)}
	}
	if int64(len(data)) > c.maxBody {
		return decodeErr(tooLargeError(c.maxBody))
	}
	if err := json.Unmarshal(data, out); err != nil {
		return decodeErr(err)
	}
	if err := out.check(); err != nil {
		return decodeErr(err)
	}
	return nil
}

// newRequest is the request of one call to ep, built from the endpoint's
// template (made by http.NewRequest in NewClient) instead of parsing the URL
// again: a shallow copy with its own URL, header and context.
func (c *Client) newRequest(ctx context.Context, ep *endpoint, body []byte) (*retryablehttp.Request, error) {
	r := ep.tmpl.WithContext(ctx)
	u := *ep.tmpl.URL
	r.URL = &u
	// The header values are shared, read-only slices: no allocation each.
	r.Header = http.Header{
		"Content-Type": c.jsonType,
		"Accept":       c.jsonType,
		"User-Agent":   c.userAgent,
	}
	req, err := retryablehttp.FromRequest(r) // r has no body yet: nothing is read
	if err != nil {
		return nil, err
	}
	if err := req.SetBody(body); err != nil {
		return nil, err
	}
	return req, nil
}

// readBody reads at most limit+1 bytes of the body, in one allocation when
// the length is announced. A zero length is read as unknown, because a
// hand-built http.Response (a test double, a caching transport) often
// leaves ContentLength unset with a body behind it.
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

// newRetryClient is the one go-retryablehttp client of a Client, with this
// package's CheckRetry, Backoff, ErrorHandler and PrepareRetry. The state of
// each call (its endpoint, attempt count and attempt context) travels in
// the request's context, so nothing is built per call.
func (c *Client) newRetryClient() *retryablehttp.Client {
	rc := &retryablehttp.Client{
		HTTPClient:   c.httpClient,
		RetryMax:     c.maxRetries,
		RetryWaitMin: c.minWait,
		RetryWaitMax: c.maxWait,
		CheckRetry:   c.checkRetry,
		Backoff:      c.backoff,
		ErrorHandler: errorHandler,
		PrepareRetry: prepareRetry,
		// Logger nil: go-retryablehttp logs nothing of its own.
	}
	if c.logger != nil {
		rc.RequestLogHook = func(_ retryablehttp.Logger, r *http.Request, _ int) {
			if a := attemptsOf(r.Context()); a != nil {
				a.start = time.Now()
			}
		}
	}
	return rc
}

// attempts is the retry state of one call. It is also the caller's context
// with itself as the value of attemptsKey, so that the hooks of the one
// go-retryablehttp client find it from the request; attempt contexts derive
// from it.
type attempts struct {
	context.Context // the caller's
	c               *Client
	ep              *endpoint
	req             *retryablehttp.Request
	cur             *attemptCtx // the current attempt's context; nil if none
	first           attemptCtx  // the first attempt's, allocated with the call
	n               int         // attempts made
	start           time.Time   // of the current attempt; set only when logging
}

type attemptsKey struct{}

// Value returns a for attemptsKey, and otherwise the caller's values.
func (a *attempts) Value(key any) any {
	if key == (attemptsKey{}) {
		return a
	}
	return a.Context.Value(key)
}

func attemptsOf(ctx context.Context) *attempts {
	a, _ := ctx.Value(attemptsKey{}).(*attempts)
	return a
}

// next starts the context of an attempt: the caller's, bounded by the
// per-attempt timeout, unless the caller's own deadline comes first.
func (a *attempts) next() context.Context {
	a.stop()
	if d, ok := a.Deadline(); ok && time.Until(d) <= a.c.timeout {
		return a
	}
	c := &a.first
	if a.n > 0 {
		c = new(attemptCtx)
	}
	a.c.watchdog.start(c, a, a.c.timeout)
	a.cur = c
	return c
}

// stop ends the current attempt's context, if any.
func (a *attempts) stop() {
	if a.cur != nil {
		a.c.watchdog.end(a.cur)
		a.cur = nil
	}
}

// prepareRetry gives the next attempt a fresh timeout.
func prepareRetry(r *http.Request) error {
	if a := attemptsOf(r.Context()); a != nil {
		*r = *r.WithContext(a.next())
	}
	return nil
}

// checkRetry is called after each attempt with the attempt's context; its
// decisions use the caller's.
func (c *Client) checkRetry(actx context.Context, resp *http.Response, err error) (bool, error) {
	a := attemptsOf(actx)
	if a == nil {
		return false, nil
	}
	a.n++
	ctx := context.Context(a)
	if ctx.Err() != nil {
		// The caller gave up: neither retry nor call it a transport fault.
		return false, ctx.Err()
	}
	retry := c.retryable(a.ep, resp, err)
	if retry {
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= c.longestWait(a.n, resp) {
			retry = false // waiting could outlast the caller; answer now
		}
	}
	if retry {
		// Wait on the caller's context: the attempt's may have timed out
		// already. prepareRetry gives the next attempt its own.
		a.req.Request = a.req.Request.WithContext(ctx)
	}
	if l := c.logger; l != nil {
		a.log(ctx, l, resp, err, retry && a.n <= c.maxRetries)
	}
	return retry, nil
}

func (a *attempts) log(ctx context.Context, l *slog.Logger, resp *http.Response, err error, retry bool) {
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	attrs := []slog.Attr{
		slog.String("method", http.MethodPost),
		slog.String("path", a.ep.path),
		slog.Int("status", status),
		slog.Int("attempt", a.n),
		slog.Duration("duration", time.Since(a.start)),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	l.LogAttrs(ctx, slog.LevelDebug, "userauth: attempt", attrs...)
	if retry {
		l.LogAttrs(ctx, slog.LevelInfo, "userauth: retrying",
			slog.String("method", http.MethodPost), slog.String("path", a.ep.path),
			slog.Int("status", status), slog.Int("attempt", a.n))
	}
}

// errorHandler runs when the last attempt still asked for a retry, or
// CheckRetry returned an error. An answer is handed back as it is, so the
// caller gets the typed error of that answer, not a "giving up" string.
func errorHandler(resp *http.Response, err error, _ int) (*http.Response, error) {
	if err == nil && resp != nil {
		return resp, nil
	}
	if resp != nil {
		resp.Body.Close()
	}
	return nil, err
}

// retryable says whether an attempt at ep that ended with resp or err
// should be tried again.
//
// Every endpoint is retried when the request surely never reached the
// server, on 429, and on 503 with Retry-After. Replay-safe endpoints
// (/auth/token) are also retried on 502, 504, 503 without Retry-After, and
// on a connection that broke or timed out while waiting for the answer. The
// others are not: a replay could e-mail twice, present a rotated refresh
// token twice (which the server treats as theft) or spend a one-time code.
func (c *Client) retryable(ep *endpoint, resp *http.Response, err error) bool {
	if err != nil {
		switch {
		case isCertError(err):
			return false
		case neverSent(err):
			return true
		}
		return ep.replaySafe && brokeWaiting(err)
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		return true
	case http.StatusServiceUnavailable:
		return ep.replaySafe || resp.Header.Get("Retry-After") != ""
	case http.StatusBadGateway, http.StatusGatewayTimeout:
		return ep.replaySafe
	}
	return false
}

// backoff is the wait before retry number i+1 (i counts from 0): the
// server's Retry-After on a 429 or 503, capped at maxWait; otherwise
// minWait doubled i times, capped at maxWait, with "equal jitter" (a random
// point in its upper half) so that clients failing together do not retry
// together.
func (c *Client) backoff(minWait, maxWait time.Duration, i int, resp *http.Response) time.Duration {
	if ra, ok := retryAfter(resp); ok {
		return min(ra, maxWait)
	}
	d := c.backoffCap(i + 1)
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// backoffCap is the longest jittered wait after attempt n (from 1).
func (c *Client) backoffCap(n int) time.Duration {
	d := c.minWait
	for i := 1; i < n && d < c.maxWait; i++ {
		d *= 2
	}
	return min(d, c.maxWait)
}

// longestWait bounds the wait that would follow attempt n.
func (c *Client) longestWait(n int, resp *http.Response) time.Duration {
	if ra, ok := retryAfter(resp); ok {
		return min(ra, c.maxWait)
	}
	return c.backoffCap(n)
}

// retryAfter reads the Retry-After of a 429 or 503 answer.
func retryAfter(resp *http.Response) (time.Duration, bool) {
	if resp == nil || (resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable) {
		return 0, false
	}
	return parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
}

// neverSent reports a failure that happened before the request could reach
// the server: name resolution, or a refused or failed dial.
func neverSent(err error) bool {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return true
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// brokeWaiting reports a connection that reset, closed or timed out after
// the request may have been sent.
func brokeWaiting(err error) bool {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// isCertError reports a TLS failure that no retry can mend.
func isCertError(err error) bool {
	var (
		unknownAuthority x509.UnknownAuthorityError
		invalid          x509.CertificateInvalidError
		hostname         x509.HostnameError
		verify           *tls.CertificateVerificationError
		record           tls.RecordHeaderError
	)
	return errors.As(err, &unknownAuthority) || errors.As(err, &invalid) ||
		errors.As(err, &hostname) || errors.As(err, &verify) || errors.As(err, &record)
}
