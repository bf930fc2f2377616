package userauth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// The retry policy. A call is repeated only where repeating it cannot do
// harm, and what that means depends on the endpoint:
//
//	failure                                   replay-safe  send-once  at-most-once
//	request never sent (DNS, refused dial)    retry        retry      retry
//	HTTP/2 stream never processed (GOAWAY     retry        retry      retry
//	  NO_ERROR below it, REFUSED_STREAM)
//	429 Too Many Requests                     retry        retry      retry
//	503 with Retry-After                      retry        retry      -
//	502, 504, 503 without Retry-After         retry        -          -
//	reset, EOF or timeout awaiting the answer retry        -          -
//	500, 501, other 4xx, TLS certificate      -            -          -
//
// Login (POST /auth/token) is replay-safe: repeating it is harmless. The
// other endpoints are send-once: a replay could e-mail the user twice,
// present a rotated refresh token twice (which the server takes for theft)
// or spend a one-time code. A retry of those is made only where the server
// surely did not act (it never got the request, or it said so with 429 or a
// 503 that names a time to come back).

// retryPolicy says which failed attempts of a call may be repeated.
type retryPolicy uint8

const (
	retryReplaySafe retryPolicy = iota // repeating the call is harmless
	retrySendOnce                      // only where the server surely did not act
	retryAtMostOnce                    // as send-once, and never after any 5xx
)

// retryable says whether an attempt that ended with resp or err may be
// tried again under policy p.
func (p retryPolicy) retryable(resp *http.Response, err error) bool {
	if err != nil {
		switch {
		case isCertError(err):
			return false
		case neverSent(err):
			return true
		}
		return p == retryReplaySafe && brokeWaiting(err)
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		return true
	case http.StatusServiceUnavailable:
		return p == retryReplaySafe || (p == retrySendOnce && resp.Header.Get("Retry-After") != "")
	case http.StatusBadGateway, http.StatusGatewayTimeout:
		return p == retryReplaySafe
	}
	return false
}

// call is the state of one API call across its attempts. Each call has
// its own go-retryablehttp client, whose hooks are the call's methods.
type call struct {
	c        *Client
	method   string
	path     string // as it goes on the wire, with the base URL's prefix
	policy   retryPolicy
	secrets  []string  // of the request: never shown
	signs    *echo     // of the secrets, made when first needed (see echo)
	attempts int       // made so far
	start    time.Time // of the current attempt; set only when logging
}

// retryClient returns the go-retryablehttp client that runs cl: the
// Client's http.Client with each attempt bounded, its retry bounds, and
// cl's hooks.
func (c *Client) retryClient(cl *call) *retryablehttp.Client {
	rc := &retryablehttp.Client{
		HTTPClient:   c.attempts,
		RetryMax:     c.maxRetries,
		RetryWaitMin: c.minWait,
		RetryWaitMax: c.maxWait,
		CheckRetry:   cl.checkRetry,
		Backoff:      backoff,
		ErrorHandler: lastAnswer,
		// Logger nil: go-retryablehttp logs nothing of its own.
	}
	if c.logger != nil {
		rc.RequestLogHook = func(retryablehttp.Logger, *http.Request, int) { cl.start = time.Now() }
	}
	return rc
}

// checkRetry runs after each attempt, with the caller's context.
func (cl *call) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	cl.attempts++
	if ctx.Err() != nil {
		// The caller gave up: neither retry nor call it a transport fault.
		return false, ctx.Err()
	}
	retry := cl.attempts <= cl.c.maxRetries && cl.policy.retryable(resp, err)
	if retry {
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= cl.longestWait(resp) {
			retry = false // waiting could outlast the caller; answer now
		}
	}
	if l := cl.c.logger; l != nil {
		cl.log(ctx, l, resp, err, retry)
	}
	return retry, nil
}

// longestWait bounds the wait that would follow the attempt just made.
func (cl *call) longestWait(resp *http.Response) time.Duration {
	if ra, ok := retryAfter(resp); ok {
		return min(ra, cl.c.maxWait)
	}
	return backoffCap(cl.c.minWait, cl.c.maxWait, cl.attempts-1)
}

// transportError is the error of a call that got no answer. A cause whose
// text shows a secret or control characters (net/http quotes what it
// could not parse of an answer) is given a safe text.
func (cl *call) transportError(err error) *TransportError {
	return &TransportError{Method: cl.method, Path: cl.path, Attempts: cl.attempts, Err: cl.echo().cause(err)}
}

// cause returns err, or err behind a safe text: the text of its innermost
// cause (net/http's words with the server's bytes inside) withheld whole
// when it echoes a secret, the words around it kept, control characters
// cleaned. An innermost cause of the SDK's own (sdkWords) is never checked.
func (e *echo) cause(err error) error {
	if err == nil {
		return nil
	}
	root := err
	for u := errors.Unwrap(root); u != nil; u = errors.Unwrap(root) {
		root = u
	}
	msg, safe := err.Error(), err.Error()
	if _, ours := root.(interface{ sdkWords() }); !ours && e.in(root.Error()) {
		if before, after, found := strings.Cut(msg, root.Error()); found {
			safe = before + withheld + after
		} else {
			safe = withheld
		}
	}
	if safe = clean(safe, len(safe)); safe == msg {
		return err
	}
	return &cleanedError{msg: safe, err: err}
}

// cleanedError is a cause shown by a safe text; it still unwraps to it.
type cleanedError struct {
	msg string
	err error
}

func (e *cleanedError) Error() string { return e.msg }
func (e *cleanedError) Unwrap() error { return e.err }

// echo tells the server's text that echoes a secret of the call.
func (cl *call) echo() *echo {
	if cl.signs == nil {
		cl.signs = echoOf(cl.secrets)
	}
	return cl.signs
}

func (cl *call) log(ctx context.Context, l *slog.Logger, resp *http.Response, err error, retry bool) {
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	attrs := []slog.Attr{
		slog.String("method", cl.method),
		slog.String("path", cl.path),
		slog.Int("status", status),
		slog.Int("attempt", cl.attempts),
		slog.Duration("duration", time.Since(cl.start)),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", cl.echo().cause(err).Error()))
	}
	l.LogAttrs(ctx, slog.LevelDebug, "userauth: attempt", attrs...)
	if retry {
		l.LogAttrs(ctx, slog.LevelInfo, "userauth: retrying",
			slog.String("method", cl.method), slog.String("path", cl.path),
			slog.Int("status", status), slog.Int("attempt", cl.attempts))
	}
}

// lastAnswer is the go-retryablehttp ErrorHandler: it runs when the last
// attempt still asked for a retry, or checkRetry returned an error. An
// answer is handed back as it is, so the caller gets the typed error of
// that answer, not a "giving up" string.
func lastAnswer(resp *http.Response, err error, _ int) (*http.Response, error) {
	if err == nil && resp != nil {
		return resp, nil
	}
	if resp != nil {
		resp.Body.Close()
	}
	return nil, err
}

// backoff is the go-retryablehttp Backoff: the wait before retry number
// i+1 (i counts from 0). It is the server's Retry-After on a 429 or 503,
// capped at maxWait; otherwise minWait doubled i times, capped at maxWait,
// with "equal jitter" (a random point in its upper half) so that clients
// failing together do not retry together.
func backoff(minWait, maxWait time.Duration, i int, resp *http.Response) time.Duration {
	if ra, ok := retryAfter(resp); ok {
		return min(ra, maxWait)
	}
	d := backoffCap(minWait, maxWait, i)
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// backoffCap is the longest jittered wait before retry number i+1.
func backoffCap(minWait, maxWait time.Duration, i int) time.Duration {
	d := minWait
	for ; i > 0 && d < maxWait; i-- {
		d *= 2
	}
	return min(d, maxWait)
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
	return errors.Is(err, syscall.ECONNREFUSED) || h2Unprocessed(err)
}

// h2Unprocessed recognises net/http's HTTP/2 errors for a stream the server
// provably did not process: a graceful shutdown's GOAWAY whose last stream
// is below the request's (what a server sends on a rolling restart), and
// REFUSED_STREAM (RFC 9113, 8.7). net/http resends such a request by itself
// only when it can rewind the body, and GetBody is cleared (newRequest) so
// that it never resends one after a PROTOCOL_ERROR reset, which the server
// may have acted on; it then reports these two only as text. The whole text
// of the innermost error must be net/http's, from start to end: a server's
// bytes that net/http quotes elsewhere (a header line, GOAWAY debug data)
// never match. TestAStreamTheServerDidNotProcessIsSentAgainOnEveryEndpoint
// holds the text to the Go in use.
func h2Unprocessed(err error) bool {
	for u := errors.Unwrap(err); u != nil; u = errors.Unwrap(err) {
		err = u
	}
	return h2UnprocessedText.MatchString(err.Error())
}

var h2UnprocessedText = regexp.MustCompile(`^http2: Transport: cannot retry err \[` +
	`(http2: Transport received Server's graceful shutdown GOAWAY|stream error: stream ID \d+; REFUSED_STREAM; received from peer)` +
	`\] after Request\.Body was written; define Request\.GetBody to avoid this error$`)

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

// attemptTimeout bounds each request that goes through it, from dialling
// to the end of its body, with a context.WithTimeout of the request's
// context; nothing when the request's own deadline comes first. Each
// attempt of a call goes through it on its own, while the call's request
// keeps the caller's context, which go-retryablehttp's wait between
// attempts honours.
type attemptTimeout struct {
	base    http.RoundTripper
	timeout time.Duration
}

func (t attemptTimeout) RoundTrip(req *http.Request) (*http.Response, error) {
	if deadline, ok := req.Context().Deadline(); ok && time.Until(deadline) <= t.timeout {
		return t.base.RoundTrip(req)
	}
	ctx, cancel := context.WithTimeout(req.Context(), t.timeout)
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded && req.Context().Err() == nil {
			err = &attemptTimeoutError{timeout: t.timeout, err: err}
		}
		cancel()
		return nil, err
	}
	resp.Body = cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// CloseIdleConnections passes go-retryablehttp's call after a failure on
// to the transport.
func (t attemptTimeout) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// attemptTimeoutError is an attempt that got no answer within the
// per-attempt timeout. It matches context.DeadlineExceeded and is a
// timeout (net.Error), so the retry policy treats it as one.
type attemptTimeoutError struct {
	timeout time.Duration
	err     error
}

func (e *attemptTimeoutError) Error() string {
	return "no answer within the per-attempt timeout (" + e.timeout.String() + ")"
}
func (e *attemptTimeoutError) Unwrap() error { return e.err }
func (e *attemptTimeoutError) Timeout() bool { return true }

// cancelOnClose ends an attempt's context when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
