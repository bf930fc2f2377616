package userauth

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testBase mounts the API under a path prefix so that a request built from
// an absolute path instead of the base URL misses every responder.
const testBase = "https://api.test/v1"

// newMock returns a Client whose requests go to a fresh httpmock transport,
// with retries waiting only a millisecond or two.
func newMock(t *testing.T, opts ...Option) (*Client, *httpmock.MockTransport) {
	t.Helper()
	mt := httpmock.NewMockTransport()
	base := []Option{
		WithHTTPClient(&http.Client{Transport: mt}),
		WithRetry(3, time.Millisecond, 2*time.Millisecond),
	}
	c, err := NewClient(testBase, append(base, opts...)...)
	require.NoError(t, err)
	return c, mt
}

// endpointCall calls one endpoint with valid input.
type endpointCall struct {
	name string
	path string
	call func(context.Context, *Client) error
}

func endpointCalls() []endpointCall {
	return []endpointCall{
		{"Login", "/auth/token", func(ctx context.Context, c *Client) error {
			_, err := c.Login(ctx, LoginRequest{Email: "ann@example.com", Password: "pw-SECRET-1"})
			return err
		}},
		{"MagicLinkLogin", "/auth/magic_link", func(ctx context.Context, c *Client) error {
			_, err := c.MagicLinkLogin(ctx, MagicLinkLoginRequest{Email: "ann@example.com", RecaptchaResponse: "captcha-SECRET-2"})
			return err
		}},
		{"RefreshToken", "/auth/token/refresh", func(ctx context.Context, c *Client) error {
			_, err := c.RefreshToken(ctx, RefreshRequest{RefreshToken: "rt-SECRET-3"})
			return err
		}},
		{"TwoFactorAuthentication", "/auth/2fa", func(ctx context.Context, c *Client) error {
			_, err := c.TwoFactorAuthentication(ctx, Confirm2FA{Code: "918273", RefreshToken: "rt-SECRET-4"})
			return err
		}},
	}
}

// okBody is a valid 200 body for the endpoint at path.
func okBody(path string) string {
	if path == "/auth/magic_link" {
		return `{"message":"sent"}`
	}
	return `{"access_token":"at","refresh_token":"rt"}`
}

func TestNewClientBaseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		opts    []Option
		want    string
		wantErr string
	}{
		{"empty means default", "", nil, "https://a.y.at/", ""},
		{"https with prefix", "https://example.com/api/v2", nil, "https://example.com/api/v2/", ""},
		{"trailing slash kept", "https://example.com/api/", nil, "https://example.com/api/", ""},
		{"http loopback ip", "http://127.0.0.1:8080", nil, "http://127.0.0.1:8080/", ""},
		{"http ipv6 loopback", "http://[::1]:9", nil, "http://[::1]:9/", ""},
		{"http localhost", "http://localhost:1234", nil, "http://localhost:1234/", ""},
		{"http remote refused", "http://a.y.at", nil, "", "only allowed to loopback"},
		{"http remote allowed", "http://api.internal", []Option{WithInsecureHTTP()}, "http://api.internal/", ""},
		{"relative", "/auth", nil, "", "scheme must be http or https"},
		{"other scheme", "ftp://example.com", nil, "", "scheme must be http or https"},
		{"no host", "https://", nil, "", "no host"},
		{"user info", "https://user:hunter2@example.com", nil, "", "user information"},
		{"query", "https://example.com/?a=1", nil, "", "query and fragment"},
		{"fragment", "https://example.com/#x", nil, "", "query and fragment"},
		{"unparsable", "https://exa mple.com:x:y/", nil, "", "invalid base URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClient(tt.in, tt.opts...)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.NotContains(t, err.Error(), "hunter2")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, c.BaseURL().String())
		})
	}
}

func TestNewClientOptionsValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opt  Option
	}{
		{"nil http client", WithHTTPClient(nil)},
		{"negative retries", WithRetry(-1, time.Second, time.Second)},
		{"absurd retries", WithRetry(1000, time.Second, time.Second)},
		{"negative min wait", WithRetry(1, -time.Second, time.Second)},
		{"max below min", WithRetry(1, 2*time.Second, time.Second)},
		{"zero timeout", WithTimeout(0)},
		{"negative timeout", WithTimeout(-time.Second)},
		{"empty user agent", WithUserAgent("  ")},
		{"header injection", WithUserAgent("x\r\nX-Evil: 1")},
		{"zero body limit", WithMaxResponseBytes(0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClient("", tt.opt)
			require.Error(t, err)
			assert.Nil(t, c)
			assert.True(t, strings.HasPrefix(err.Error(), "userauth: "), "got %q", err)
		})
	}
}

func TestOptionsLastOneWins(t *testing.T) {
	t.Parallel()
	c, mt := newMock(t, WithRetry(5, time.Millisecond, time.Millisecond), WithoutRetries(),
		WithUserAgent("first/1"), WithUserAgent("svc/2"))
	var ua string
	mt.RegisterResponder(http.MethodPost, testBase+"/auth/token", func(r *http.Request) (*http.Response, error) {
		ua = r.Header.Get("User-Agent")
		return httpmock.NewStringResponse(503, ""), nil
	})
	_, err := c.Login(context.Background(), LoginRequest{Email: "a@b.c", Password: "p"})
	var se *ServerError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 1, mt.GetTotalCallCount(), "WithoutRetries came last")
	assert.Equal(t, "userauth-go/"+Version+" svc/2", ua)
}

func TestWithHTTPClientIsCopied(t *testing.T) {
	t.Parallel()
	rt := roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, errors.New("unused") })
	hc := &http.Client{Timeout: 7 * time.Second, Transport: rt}
	c, err := NewClient("", WithHTTPClient(hc))
	require.NoError(t, err)
	assert.Nil(t, hc.CheckRedirect, "caller's client left alone")
	assert.Equal(t, 7*time.Second, hc.Timeout, "caller's client left alone")
	assert.Equal(t, 7*time.Second, c.httpClient.Timeout, "caller's timeout kept, per attempt")
	assert.NotNil(t, c.httpClient.CheckRedirect)
	assert.NotNil(t, c.httpClient.Transport)

	c, err = NewClient("", WithHTTPClient(hc), WithTimeout(time.Second))
	require.NoError(t, err)
	assert.Equal(t, time.Second, c.httpClient.Timeout)

	c, err = NewClient("", WithHTTPClient(&http.Client{}))
	require.NoError(t, err)
	assert.Equal(t, DefaultTimeout, c.httpClient.Timeout, "zero timeout replaced")
}

// TestOwnConnectionPool checks that a Client never uses (and so never
// closes the idle connections of) http.DefaultTransport, which the whole
// program shares.
func TestOwnConnectionPool(t *testing.T) {
	t.Parallel()
	for name, opts := range map[string][]Option{
		"no options":               nil,
		"client without transport": {WithHTTPClient(&http.Client{})},
	} {
		t.Run(name, func(t *testing.T) {
			a, err := NewClient("", opts...)
			require.NoError(t, err)
			b, err := NewClient("", opts...)
			require.NoError(t, err)
			tr, ok := a.httpClient.Transport.(*http.Transport)
			require.True(t, ok, "got %T, want *http.Transport", a.httpClient.Transport)
			assert.NotSame(t, http.DefaultTransport, tr)
			assert.NotSame(t, tr, b.httpClient.Transport, "each Client pools its own connections")
		})
	}
}

// TestRetryTable checks each row of the retry policy on each endpoint, by
// the number of attempts the transport saw.
func TestRetryTable(t *testing.T) {
	t.Parallel()
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	dns := &net.DNSError{Err: "no such host", Name: "api.test", IsNotFound: true}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	status := func(code int, retryAfter string) httpmock.Responder {
		return func(*http.Request) (*http.Response, error) {
			r := httpmock.NewStringResponse(code, `{"error":{"code":"x","reason":"y"}}`)
			if retryAfter != "" {
				r.Header.Set("Retry-After", retryAfter)
			}
			return r, nil
		}
	}
	const all = 4 // 1 attempt + 3 retries
	rows := []struct {
		name string
		resp httpmock.Responder
		// attempts for Login, and for the three others
		login, others int
	}{
		{"connection refused", httpmock.NewErrorResponder(refused), all, all},
		{"dns failure", httpmock.NewErrorResponder(dns), all, all},
		{"429", status(429, ""), all, all},
		{"429 retry-after", status(429, "0"), all, all},
		{"503 retry-after", status(503, "0"), all, all},
		{"503 no retry-after", status(503, ""), all, 1},
		{"502", status(502, ""), all, 1},
		{"504", status(504, ""), all, 1},
		{"connection reset waiting", httpmock.NewErrorResponder(reset), all, 1},
		{"unexpected eof", httpmock.NewErrorResponder(io.ErrUnexpectedEOF), all, 1},
		{"500", status(500, ""), 1, 1},
		{"501", status(501, ""), 1, 1},
		{"400", status(400, ""), 1, 1},
		{"401", status(401, ""), 1, 1},
		{"409", status(409, ""), 1, 1},
		{"422", status(422, ""), 1, 1},
		{"other error", httpmock.NewErrorResponder(errors.New("boom")), 1, 1},
	}
	for _, row := range rows {
		for _, ep := range endpointCalls() {
			t.Run(row.name+"/"+ep.name, func(t *testing.T) {
				c, mt := newMock(t)
				mt.RegisterResponder(http.MethodPost, testBase+ep.path, row.resp)
				err := ep.call(context.Background(), c)
				require.Error(t, err)
				want := row.others
				if ep.name == "Login" {
					want = row.login
				}
				assert.Equal(t, want, mt.GetTotalCallCount(), "attempts")

				// The error after the last attempt is the last answer's.
				var ae *APIError
				var te *TransportError
				switch {
				case errors.As(err, &ae):
					assert.Equal(t, "/v1"+ep.path, ae.Path)
					assert.NotContains(t, err.Error(), "giving up")
				case errors.As(err, &te):
					assert.Equal(t, want, te.Attempts)
					assert.Equal(t, "/v1"+ep.path, te.Path)
				default:
					t.Fatalf("got %T %v, want *APIError or *TransportError", err, err)
				}
			})
		}
	}
}

func TestRetryThenSuccess(t *testing.T) {
	t.Parallel()
	c, mt := newMock(t)
	mt.RegisterResponder(http.MethodPost, testBase+"/auth/token", httpmock.ResponderFromMultipleResponses([]*http.Response{
		httpmock.NewStringResponse(502, "bad gateway"),
		httpmock.NewStringResponse(502, "bad gateway"),
		httpmock.NewStringResponse(200, `{"access_token":"at2","refresh_token":"rt2"}`),
	}))
	tr, err := c.Login(context.Background(), LoginRequest{Email: "a@b.c", Password: "p"})
	require.NoError(t, err)
	assert.Equal(t, "at2", tr.AccessToken)
	assert.Equal(t, 3, mt.GetTotalCallCount())
}

func TestRetryBodyReplayed(t *testing.T) {
	t.Parallel()
	c, mt := newMock(t)
	var bodies []string
	mt.RegisterResponder(http.MethodPost, testBase+"/auth/token", func(r *http.Request) (*http.Response, error) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
		if len(bodies) < 3 {
			return httpmock.NewStringResponse(504, ""), nil
		}
		return httpmock.NewStringResponse(200, `{"access_token":"a","refresh_token":"r"}`), nil
	})
	_, err := c.Login(context.Background(), LoginRequest{Email: "a@b.c", Password: "p"})
	require.NoError(t, err)
	require.Len(t, bodies, 3)
	for _, b := range bodies {
		assert.JSONEq(t, `{"email":"a@b.c","password":"p"}`, b)
	}
}

func TestRetryAfterCapped(t *testing.T) {
	t.Parallel()
	// The server asks for an hour; the client waits at most maxWait. The
	// context is only a guard that turns a hang into a failure.
	c, mt := newMock(t, WithRetry(2, time.Millisecond, 5*time.Millisecond))
	mt.RegisterResponder(http.MethodPost, testBase+"/auth/token/refresh", func(*http.Request) (*http.Response, error) {
		r := httpmock.NewStringResponse(429, "")
		r.Header.Set("Retry-After", "3600")
		return r, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := c.RefreshToken(ctx, RefreshRequest{RefreshToken: "rt"})
	var ce *ClientError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, 429, ce.StatusCode)
	assert.Equal(t, time.Hour, ce.RetryAfter)
	assert.Equal(t, 3, mt.GetTotalCallCount())
	assert.NoError(t, ctx.Err())
}

func TestBackoffWaits(t *testing.T) {
	t.Parallel()
	const minWait, maxWait = 100 * time.Millisecond, time.Second
	c, err := NewClient("", WithRetry(5, minWait, maxWait))
	require.NoError(t, err)
	resp := func(code int, retryAfter string) *http.Response {
		r := &http.Response{StatusCode: code, Header: http.Header{}}
		if retryAfter != "" {
			r.Header.Set("Retry-After", retryAfter)
		}
		return r
	}
	wait := func(i int, r *http.Response) time.Duration { return backoff(minWait, maxWait, i, r) }
	longest := func(attempts int, r *http.Response) time.Duration {
		return (&call{c: c, attempts: attempts}).longestWait(r)
	}

	assert.Equal(t, time.Second, wait(0, resp(503, "1")), "Retry-After in seconds")
	assert.Equal(t, time.Second, wait(0, resp(429, "30")), "Retry-After capped at maxWait")
	assert.Equal(t, time.Second, longest(1, resp(429, "30")))
	date := time.Now().Add(400 * time.Millisecond).UTC().Format(http.TimeFormat)
	assert.LessOrEqual(t, wait(0, resp(429, date)), time.Second, "HTTP-date Retry-After capped")
	assert.NotEqual(t, 5*time.Second, wait(0, resp(500, "5")), "Retry-After only counts on 429 and 503")
	w := backoff(2*time.Second, 4*time.Second, 0, nil)
	assert.True(t, w >= time.Second && w <= 2*time.Second, "got %v, want the bounds of the arguments, [1s, 2s]", w)

	for n, bounds := range map[int][2]time.Duration{
		1: {50 * time.Millisecond, 100 * time.Millisecond},
		2: {100 * time.Millisecond, 200 * time.Millisecond},
		3: {200 * time.Millisecond, 400 * time.Millisecond},
		5: {500 * time.Millisecond, time.Second},
		9: {500 * time.Millisecond, time.Second},
	} {
		assert.Equal(t, bounds[1], longest(n, resp(502, "")), "attempt %d", n)
		for range 50 {
			w := wait(n-1, resp(502, ""))
			require.GreaterOrEqual(t, w, bounds[0], "after attempt %d", n)
			require.LessOrEqual(t, w, bounds[1], "after attempt %d", n)
		}
	}
}

func TestCancelDuringRetryWait(t *testing.T) {
	t.Parallel()
	// A wait of ten seconds; cancelling during it must return at once.
	c, mt := newMock(t, WithRetry(3, 10*time.Second, 10*time.Second))
	ctx, cancel := context.WithCancel(context.Background())
	mt.RegisterResponder(http.MethodPost, testBase+"/auth/token", func(*http.Request) (*http.Response, error) {
		time.AfterFunc(20*time.Millisecond, cancel)
		return httpmock.NewStringResponse(502, ""), nil
	})
	done := make(chan error, 1)
	go func() {
		_, err := c.Login(ctx, LoginRequest{Email: "a@b.c", Password: "p"})
		done <- err
	}()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, context.Canceled)
		var te *TransportError
		require.ErrorAs(t, err, &te)
		assert.Equal(t, "/v1/auth/token", te.Path)
	case <-time.After(5 * time.Second):
		t.Fatal("Login still waiting 5s after its context was cancelled")
	}
	assert.Equal(t, 1, mt.GetTotalCallCount())
}

func TestNoWaitPastDeadline(t *testing.T) {
	t.Parallel()
	// The backoff (10s) would outlast the deadline (2s): the client answers
	// with the last typed error at once instead of sleeping into a timeout.
	c, mt := newMock(t, WithRetry(3, 10*time.Second, 10*time.Second))
	mt.RegisterResponder(http.MethodPost, testBase+"/auth/token", httpmock.NewStringResponder(503, ""))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := c.Login(ctx, LoginRequest{Email: "a@b.c", Password: "p"})
	var se *ServerError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 503, se.StatusCode)
	assert.NoError(t, ctx.Err(), "returned before the deadline")
	assert.Equal(t, 1, mt.GetTotalCallCount())
}

func TestContextAlreadyCancelled(t *testing.T) {
	t.Parallel()
	for _, ep := range endpointCalls() {
		t.Run(ep.name, func(t *testing.T) {
			c, mt := newMock(t)
			mt.RegisterResponder(http.MethodPost, testBase+ep.path, httpmock.NewStringResponder(200, okBody(ep.path)))
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			err := ep.call(ctx, c)
			assert.ErrorIs(t, err, context.Canceled)
			assert.Equal(t, 0, mt.GetTotalCallCount())
		})
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	c, mt := newMock(t)
	mt.RegisterResponder(http.MethodPost, testBase+"/auth/token", func(*http.Request) (*http.Response, error) {
		r := httpmock.NewStringResponse(307, "")
		r.Header.Set("Location", "https://evil.test/steal")
		return r, nil
	})
	mt.RegisterResponder(http.MethodPost, "https://evil.test/steal", httpmock.NewStringResponder(200, okBody("")))
	_, err := c.Login(context.Background(), LoginRequest{Email: "a@b.c", Password: "p"})
	var ue *UnexpectedStatusError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, 307, ue.StatusCode)
	assert.Equal(t, 1, mt.GetCallCountInfo()["POST "+testBase+"/auth/token"])
	assert.Equal(t, 0, mt.GetCallCountInfo()["POST https://evil.test/steal"])
}

func TestResponseTooLarge(t *testing.T) {
	t.Parallel()
	big := `{"access_token":"` + strings.Repeat("a", 2048) + `","refresh_token":"r"}`
	tests := []struct {
		name string
		resp httpmock.Responder
	}{
		{"content-length", httpmock.NewStringResponder(200, big).SetContentLength()},
		{"unknown length", httpmock.NewStringResponder(200, big)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mt := newMock(t, WithMaxResponseBytes(1024))
			mt.RegisterResponder(http.MethodPost, testBase+"/auth/token", tt.resp)
			_, err := c.Login(context.Background(), LoginRequest{Email: "a@b.c", Password: "p"})
			require.ErrorIs(t, err, ErrResponseTooLarge)
			var de *DecodeError
			require.ErrorAs(t, err, &de)
			assert.Equal(t, 200, de.StatusCode)
			assert.Contains(t, err.Error(), "1024-byte limit")
		})
	}
}

// endlessBody yields bytes forever and counts them.
type endlessBody struct{ n atomic.Int64 }

func (b *endlessBody) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	b.n.Add(int64(len(p)))
	return len(p), nil
}
func (b *endlessBody) Close() error { return nil }

func TestResponseTooLargeStopsReading(t *testing.T) {
	t.Parallel()
	body := &endlessBody{}
	c, mt := newMock(t, WithMaxResponseBytes(4096))
	mt.RegisterResponder(http.MethodPost, testBase+"/auth/token", func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: body, ContentLength: -1}, nil
	})
	_, err := c.Login(context.Background(), LoginRequest{Email: "a@b.c", Password: "p"})
	require.ErrorIs(t, err, ErrResponseTooLarge)
	assert.Less(t, body.n.Load(), int64(64<<10), "bytes read from an endless body")
}

// The tests below use real loopback servers: connection-level faults are
// what httpmock cannot show.

func TestLoopbackConnectionRefusedRetriedEverywhere(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now

	for _, ep := range endpointCalls() {
		t.Run(ep.name, func(t *testing.T) {
			c, err := NewClient("http://"+addr, WithRetry(2, time.Millisecond, time.Millisecond))
			require.NoError(t, err)
			err = ep.call(context.Background(), c)
			var te *TransportError
			require.ErrorAs(t, err, &te)
			assert.Equal(t, 3, te.Attempts)
			assert.ErrorIs(t, err, syscall.ECONNREFUSED)
			assert.Contains(t, err.Error(), "3 attempts")
		})
	}
}

// hangupServer reads each request, then closes the connection without
// answering, counting the requests it saw.
func hangupServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestLoopbackHangupAfterSend(t *testing.T) {
	t.Parallel()
	for _, ep := range endpointCalls() {
		t.Run(ep.name, func(t *testing.T) {
			srv, n := hangupServer(t)
			c, err := NewClient(srv.URL, WithHTTPClient(srv.Client()), WithRetry(2, time.Millisecond, time.Millisecond))
			require.NoError(t, err)
			err = ep.call(context.Background(), c)
			var te *TransportError
			require.ErrorAs(t, err, &te)
			want := int32(1)
			if ep.name == "Login" {
				want = 3
			}
			assert.Equal(t, want, n.Load(), "requests the server saw")
		})
	}
}

func TestLoopbackTimeoutPerAttempt(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)

	c, err := NewClient(srv.URL, WithHTTPClient(srv.Client()), WithTimeout(50*time.Millisecond),
		WithRetry(1, time.Millisecond, time.Millisecond))
	require.NoError(t, err)

	_, err = c.Login(context.Background(), LoginRequest{Email: "a@b.c", Password: "pw-0451"})
	var te *TransportError
	require.ErrorAs(t, err, &te)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout())
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "no answer within the per-attempt timeout (50ms)", "says which deadline ran out")
	assert.Equal(t, int32(2), n.Load(), "Login is retried after a timeout")

	n.Store(0)
	_, err = c.RefreshToken(context.Background(), RefreshRequest{RefreshToken: "rt"})
	require.ErrorAs(t, err, &te)
	assert.Equal(t, int32(1), n.Load(), "a refresh is never replayed after a timeout")
}

func TestLoopbackContextDeadline(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c, err := NewClient(srv.URL, WithHTTPClient(srv.Client()))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = c.MagicLinkLogin(ctx, MagicLinkLoginRequest{Email: "a@b.c"})
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

// roundTripFunc is an http.RoundTripper made of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestRequestContext checks what the transport sees of each attempt: the
// caller's context values (httptrace hooks, request IDs), an attempt
// deadline within the timeout, a request of its own per call (its retries
// reuse it) with the body replayed and the headers set, and a caller
// cancellation.
func TestRequestContext(t *testing.T) {
	t.Parallel()
	type key struct{}
	var (
		mu   sync.Mutex
		seen []*http.Request
	)
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		seen = append(seen, r)
		n := len(seen)
		mu.Unlock()
		assert.Equal(t, "trace-7", r.Context().Value(key{}), "the caller's values reach the transport")
		deadline, ok := r.Context().Deadline()
		if assert.True(t, ok, "each attempt has a deadline") {
			assert.WithinDuration(t, time.Now().Add(time.Minute), deadline, 5*time.Second)
		}
		assert.JSONEq(t, `{"email":"ann@example.com","password":"pw"}`, string(body))
		assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
		assert.Equal(t, "/v1/auth/token", r.URL.Path)
		status := http.StatusOK
		if n%2 == 1 {
			status = http.StatusBadGateway // each call's first attempt
		}
		return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(okBody("/auth/token"))), Request: r}, nil
	})
	c, err := NewClient(testBase, WithHTTPClient(&http.Client{Transport: rt}),
		WithRetry(1, time.Millisecond, time.Millisecond), WithTimeout(time.Minute))
	require.NoError(t, err)

	ctx := context.WithValue(context.Background(), key{}, "trace-7")
	for range 2 {
		_, err := c.Login(ctx, LoginRequest{Email: "ann@example.com", Password: "pw"})
		require.NoError(t, err)
	}
	require.Len(t, seen, 4)
	assert.NotSame(t, seen[0].URL, seen[2].URL, "no two calls share a URL")
	for _, r := range seen {
		r.URL.Path = "/changed" // a transport that rewrites the URL harms no later call
	}
	_, err = c.Login(ctx, LoginRequest{Email: "ann@example.com", Password: "pw"})
	require.NoError(t, err)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = c.Login(cctx, LoginRequest{Email: "ann@example.com", Password: "pw"})
	assert.ErrorIs(t, err, context.Canceled)
}

func TestLoopbackTLS(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		_, _ = io.WriteString(w, `{"access_token":"a","refresh_token":"r"}`)
	}))
	defer srv.Close()

	// The default client verifies certificates: the test server's is
	// self-signed, so the call fails, and is not retried.
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c, err := NewClient(srv.URL, WithHTTPClient(&http.Client{Transport: tr}))
	require.NoError(t, err)
	_, err = c.Login(context.Background(), LoginRequest{Email: "a@b.c", Password: "p"})
	var te *TransportError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, 1, te.Attempts)
	assert.True(t, isCertError(err), "got %v", err)
	assert.Equal(t, int32(0), n.Load())

	c, err = NewClient(srv.URL, WithHTTPClient(srv.Client()))
	require.NoError(t, err)
	got, err := c.Login(context.Background(), LoginRequest{Email: "a@b.c", Password: "p"})
	require.NoError(t, err)
	assert.Equal(t, "a", got.AccessToken)
}

func TestLoggerSeesNoSecrets(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, mt := newMock(t, WithLogger(logger))
	mt.RegisterResponder(http.MethodPost, testBase+"/auth/token", httpmock.ResponderFromMultipleResponses([]*http.Response{
		httpmock.NewStringResponse(503, ""),
		httpmock.NewStringResponse(200, `{"access_token":"at-SECRET","refresh_token":"rt-SECRET"}`),
	}))
	_, err := c.Login(context.Background(), LoginRequest{Email: "a@b.c", Password: "pw-SECRET"})
	require.NoError(t, err)
	out := buf.String()
	assert.Contains(t, out, `"path":"/v1/auth/token"`)
	assert.Contains(t, out, `"status":503`)
	assert.Contains(t, out, `"attempt":2`)
	assert.Contains(t, out, `"userauth: retrying"`)
	assert.NotContains(t, out, "SECRET")
}

// TestLoopbackSwitchingProtocols is a server that answers 101 and keeps
// the connection open: the call must end at once with the typed error, not
// read the switched connection as an error body until someone gives up.
func TestLoopbackSwitchingProtocols(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
		_ = buf.Flush()
		<-release
	}))
	defer srv.Close()
	defer close(release)

	c, err := NewClient(srv.URL, WithTimeout(time.Hour))
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		_, err := c.Login(context.Background(), LoginRequest{Email: "a@b.c", Password: "p"})
		done <- err
	}()
	select {
	case err := <-done:
		var ue *UnexpectedStatusError
		require.ErrorAs(t, err, &ue)
		assert.Equal(t, http.StatusSwitchingProtocols, ue.StatusCode)
	case <-time.After(10 * time.Second):
		t.Fatal("Login still waiting 10s after a 101 answer")
	}
}
