package userauth

import (
	"context"
	"io"
	"net/http"
	"strings"

	"golang.org/x/oauth2"
)

// Transport returns an http.RoundTripper that sends requests through base
// (nil means the Transport of the store's Client, or
// http.DefaultTransport) and authenticates those for the API.
//
// It adds "Authorization: Bearer <access token>" only to requests with the
// scheme and host of the Client's base URL, and never to the /auth/
// endpoints; any other request goes out untouched. Requests are cloned,
// never changed. Then:
//
//   - on 401, if the request carried an older token than the current one it
//     is repeated once with the current one; otherwise one refresh is shared
//     by all the requests that met the 401, and the request is repeated once;
//   - on 424 (2FA grace period expired), with a TwoFactorHandler, one 2FA
//     step is shared and the request repeated once; without one, the 424
//     answer is returned: CheckResponse(resp) then matches
//     ErrTwoFactorExpired.
//
// A request is repeated only when its body can be replayed (no body, or
// GetBody set, as http.NewRequest does for in-memory bodies); otherwise the
// 401 or 424 answer is returned as it is. Errors of the token store
// (ErrLoginRequired, *TwoFactorRequiredError, ...) are returned as the
// RoundTrip error, so the http.Client's *url.Error wraps them for errors.Is.
func (s *TokenStore) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = s.client.httpClient.Transport
	}
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{s: s, base: base}
}

// HTTPClient returns an http.Client that authenticates its requests to the
// API with this store's tokens (see Transport). It follows redirects as
// http.Client does; the bearer token never goes to another host.
func (s *TokenStore) HTTPClient() *http.Client {
	return &http.Client{Transport: s.Transport(nil)}
}

type transport struct {
	s    *TokenStore
	base http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !t.s.authenticates(req) {
		return t.base.RoundTrip(req)
	}
	ctx := req.Context()
	sess := t.s.cur.Load()
	if !sess.fresh(t.s.now()) {
		var err error
		if sess, err = t.s.slow(ctx); err != nil {
			closeBody(req)
			return nil, err
		}
	}
	resp, err := t.base.RoundTrip(withBearer(req, req.Body, sess.bearer))
	if err != nil {
		return nil, err
	}

	var kind renewKind
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		kind = renewForced
	case resp.StatusCode == http.StatusFailedDependency && t.s.handler != nil:
		kind = renewStepUp
	default:
		return resp, nil
	}
	body, ok := replayableBody(req)
	if !ok {
		return resp, nil
	}
	next, err := t.s.renewAfter(ctx, kind, sess.tok.AccessToken)
	if err != nil {
		if body != nil {
			body.Close()
		}
		discard(resp)
		return nil, err
	}
	discard(resp)
	return t.base.RoundTrip(withBearer(req, body, next.bearer))
}

// authenticates reports whether req goes to the API, outside /auth/.
func (s *TokenStore) authenticates(req *http.Request) bool {
	u, base := req.URL, s.client.baseURL
	if u == nil || !strings.EqualFold(u.Scheme, base.Scheme) || !sameHost(u.Host, base.Host, base.Scheme) {
		return false
	}
	return !strings.HasPrefix(u.Path, base.Path+"auth/")
}

// sameHost compares hosts case-insensitively, taking an explicit default
// port as no port.
func sameHost(a, b, scheme string) bool {
	strip := func(h string) string {
		switch {
		case scheme == "https" && strings.HasSuffix(h, ":443"):
			return h[:len(h)-4]
		case scheme == "http" && strings.HasSuffix(h, ":80"):
			return h[:len(h)-3]
		}
		return h
	}
	return strings.EqualFold(strip(a), strip(b))
}

// withBearer returns a shallow copy of req with its own header, carrying
// the Authorization header and body.
func withBearer(req *http.Request, body io.ReadCloser, bearer string) *http.Request {
	r := new(http.Request)
	*r = *req
	r.Header = make(http.Header, len(req.Header)+1)
	for k, v := range req.Header {
		r.Header[k] = v
	}
	r.Header["Authorization"] = []string{bearer}
	r.Body = body
	return r
}

// replayableBody returns a fresh copy of req's body for a second attempt.
func replayableBody(req *http.Request) (io.ReadCloser, bool) {
	if req.Body == nil || req.Body == http.NoBody {
		return req.Body, true
	}
	if req.GetBody == nil {
		return nil, false
	}
	b, err := req.GetBody()
	if err != nil {
		return nil, false
	}
	return b, true
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// discard reads a little of a response body, so the connection can be
// reused, and closes it.
func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
}

// TokenSource adapts the store to golang.org/x/oauth2, for libraries that
// take an oauth2.TokenSource. Token calls on it use ctx, as the oauth2
// interface has no context of its own. The returned tokens carry the access
// token and its expiry, never the refresh token.
func (s *TokenStore) TokenSource(ctx context.Context) oauth2.TokenSource {
	return tokenSource{ctx: ctx, s: s}
}

type tokenSource struct {
	ctx context.Context
	s   *TokenStore
}

func (ts tokenSource) Token() (*oauth2.Token, error) {
	t, err := ts.s.Token(ts.ctx)
	if err != nil {
		return nil, err
	}
	return &oauth2.Token{AccessToken: t.AccessToken, TokenType: "Bearer", Expiry: t.Expiry}, nil
}
