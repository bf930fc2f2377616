package userauth

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

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

// defaultOptions are the settings of a Client made without options.
func defaultOptions() clientOptions {
	return clientOptions{
		maxRetries: DefaultMaxRetries,
		minWait:    DefaultMinRetryWait,
		maxWait:    DefaultMaxRetryWait,
		timeout:    DefaultTimeout,
		maxBody:    DefaultMaxResponseBytes,
	}
}

// WithHTTPClient sets the http.Client whose Transport carries the requests
// (a nil Transport means a pooled transport of the Client's own, never
// http.DefaultTransport). Retries wrap it. The client is copied, never
// changed: its Timeout is kept as the per-attempt timeout unless
// WithTimeout is given (and replaced by DefaultTimeout when zero), and
// redirects are never followed whatever its CheckRedirect says.
//
// After a failed call the Client closes the idle connections of this
// transport (go-retryablehttp does, so that a retry dials afresh): give the
// Client a transport of its own rather than one the rest of the program
// shares.
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

// WithTimeout bounds each attempt of an API call, from dialling to the
// end of the body, and is the Timeout of the http.Clients the SDK hands
// out (TokenStore.HTTPClient, APIKeyClient). The context bounds the whole
// call, retries included. The default is the Timeout of the http.Client
// given with WithHTTPClient, when it has one, else DefaultTimeout.
//
// A call whose context has no deadline can take (retries+1) times the
// timeout, plus the waits between attempts: with the defaults, about two
// minutes for a Login to a server that accepts connections and never
// answers. Give calls a context with a deadline (a service's start-up
// especially), or a shorter timeout.
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
