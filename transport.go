package userauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"golang.org/x/oauth2"
)

// Transport returns an http.RoundTripper that sends requests through base
// (nil means the transport of the store's Client) and authenticates those
// for the API.
//
// It adds "Authorization: Bearer <access token>" only to requests with the
// scheme and host of the Client's base URL, and never to the /auth/
// endpoints; any other request goes out untouched. Requests are cloned,
// never changed. Then, at most once each, in whichever order the server
// asks:
//
//   - on 401, if the request carried an older token than the current one it
//     is repeated with the current one; otherwise one renewal is shared by
//     all the requests that met the 401, and the request is repeated;
//   - on 424 (2FA grace period expired), with a TwoFactorHandler, one 2FA
//     step is shared and the request repeated; without one, the 424
//     answer is returned: CheckResponse(resp) then matches
//     ErrTwoFactorExpired.
//
// A request is repeated only when its body can be replayed (no body, or
// GetBody set, as http.NewRequest does for in-memory bodies); otherwise the
// renewal or 2FA step still runs, so that the next request carries a good
// token, and the 401 or 424 answer is returned as it is. Errors of the token store
// (ErrLoginRequired, *TwoFactorRequiredError, ...) are returned as the
// RoundTrip error, so the http.Client's *url.Error wraps them for errors.Is.
//
// The RoundTripper bounds nothing by itself: give the http.Client that uses
// it a Timeout, or its requests a context with a deadline (HTTPClient does
// the first).
func (s *TokenStore) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil && s.made() == nil {
		base = s.client.httpClient.Transport
	}
	return &transport{s: s, base: base}
}

// HTTPClient returns an http.Client that authenticates its requests to the
// API with this store's tokens (see Transport). Its Timeout, the Client's
// per-attempt timeout (DefaultTimeout unless WithTimeout or WithHTTPClient
// said otherwise), bounds each request whole, the renewal and the repeat
// after a 401 or 424 included; set the returned client's Timeout to change
// it, or build your own http.Client around Transport. It follows redirects
// as http.Client does; the bearer token never goes to another host.
func (s *TokenStore) HTTPClient() *http.Client {
	if s.made() != nil {
		return &http.Client{Transport: s.Transport(nil)} // its requests fail with the store's error
	}
	return &http.Client{Transport: s.Transport(nil), Timeout: s.client.httpClient.Timeout}
}

type transport struct {
	s    *TokenStore
	base http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.s.made(); err != nil {
		closeBody(req)
		return nil, err
	}
	if !t.s.authenticates(req) {
		return t.base.RoundTrip(req)
	}
	ctx := req.Context()
	sn, err := t.s.usable(ctx)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	resp, err := t.base.RoundTrip(withBearer(req, req.Body, sn.bearer))
	renewed, steppedUp := false, false
	for err == nil {
		var kind goalKind
		switch {
		case resp.StatusCode == http.StatusUnauthorized && !renewed:
			kind, renewed = goalRefused, true
		case resp.StatusCode == http.StatusFailedDependency && t.s.cfg.handler != nil && !steppedUp:
			kind, steppedUp = goalStepUp, true
		default:
			return resp, nil
		}
		// One transaction for every request refused with this pair.
		g := goal{kind: kind, used: sn.paired(), cause: digest(fmt.Sprint(kind, " ", req.Method, " ", req.URL.Host, requestPath(req.URL)))}
		body, replayable := replayableBody(req)
		got, rerr := t.s.shared(ctx, g)
		switch {
		case errors.Is(rerr, errRefusalStands) || (!replayable && rerr == nil):
			// The endpoint's own answer; or a request that cannot be
			// repeated, whose refused token is renewed for the next one.
			return resp, nil
		case !replayable:
			return resp, nil
		case rerr != nil:
			discard(resp)
			if body != nil {
				body.Close()
			}
			return nil, rerr
		}
		discard(resp)
		sn = got
		resp, err = t.base.RoundTrip(withBearer(req, body, sn.bearer))
	}
	return nil, err
}

// authenticates reports whether req goes to the API, outside /auth/: its
// path, and the base URL's, read as a server or proxy may read them, dot
// segments and doubled slashes resolved, in any case.
func (s *TokenStore) authenticates(req *http.Request) bool {
	if !s.client.ownsURL(req) {
		return false
	}
	p, auth := cleanPath(requestPath(req.URL)), s.client.authPath() // auth ends in "/"
	return !strings.EqualFold(p, auth[:len(auth)-1]) && !hasPrefixFold(p, auth)
}

// hasPrefixFold reports whether s begins with prefix, in any case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// requestPath is the path u sends: its Path, or, for an opaque URL (which
// net/http sends as it is), the opaque part without a //host prefix,
// unescaped.
func requestPath(u *url.URL) string {
	if u.Opaque == "" {
		return u.Path
	}
	p := u.Opaque
	if rest, ok := strings.CutPrefix(p, "//"); ok {
		_, p, _ = strings.Cut(rest, "/")
		p = "/" + p
	}
	return unescapeURL(p)
}

// authPath is the API's /auth/ path, cleaned: never sent a bearer.
func (c *Client) authPath() string {
	return strings.TrimSuffix(cleanPath(c.baseURL.Path), "/") + "/auth/"
}

// cleanPath is p, rooted, with its dot segments and doubled slashes
// resolved (a path already clean is returned as it is).
func cleanPath(p string) string {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return path.Clean(p)
}

// ownsURL reports whether req goes to the scheme and host of the Client's
// base URL, and names no other host in its Host header (which a proxy or
// CDN in front of several sites routes by).
func (c *Client) ownsURL(req *http.Request) bool {
	u, base := req.URL, c.baseURL
	return u != nil && strings.EqualFold(u.Scheme, base.Scheme) && sameHost(u.Host, base.Host, base.Scheme) &&
		(req.Host == "" || sameHost(req.Host, base.Host, base.Scheme))
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
	return withHeader(req, body, "Authorization", bearer)
}

// withHeader returns a shallow copy of req with body and its own header,
// in which key (in canonical form) is set to value.
func withHeader(req *http.Request, body io.ReadCloser, key, value string) *http.Request {
	r := new(http.Request)
	*r = *req
	r.Header = make(http.Header, len(req.Header)+1)
	for k, v := range req.Header {
		r.Header[k] = v
	}
	r.Header[key] = []string{value}
	r.Body = body
	return r
}

// replayableBody returns a fresh copy of req's body for another attempt.
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
// token and its expiry, never the refresh token. When the expiry is
// unknown, they carry the moment the store renews the token anyway: oauth2
// reads a zero Expiry as never expiring.
//
// An http.Client from oauth2.NewClient does not recover from a revoked
// token: oauth2's transport hands a 401 back without renewing, and the
// token it caches stays in use until its expiry. For requests to the API,
// prefer HTTPClient or Transport, which renew once on a 401 and repeat the
// request.
func (s *TokenStore) TokenSource(ctx context.Context) oauth2.TokenSource {
	return tokenSource{ctx: ctx, s: s}
}

type tokenSource struct {
	ctx context.Context
	s   *TokenStore
}

func (ts tokenSource) Token() (*oauth2.Token, error) {
	if ts.ctx == nil {
		return nil, errNilContext
	}
	sn, err := ts.s.usable(ts.ctx)
	if err != nil {
		return nil, err
	}
	t := sn.token()
	if t.Expiry.IsZero() {
		t.Expiry = sn.refreshAt // unknown: renewed then
	}
	return &oauth2.Token{AccessToken: t.AccessToken, TokenType: "Bearer", Expiry: t.Expiry}, nil
}

// apiKeyHeader carries an API key, the service's alternative to a bearer
// token for server-to-server calls.
const apiKeyHeader = "X-Api-Key"

// APIKeyClient returns an http.Client that authenticates its requests to
// the API with key, an API key of a partner backend, in the X-Api-Key
// header. The key is added only to requests for the scheme and host of the
// Client's base URL, never to another host (a redirect elsewhere goes out
// without it), and never over plain http to a host that is not loopback,
// whatever WithInsecureHTTP allowed: such a request fails instead. An empty
// key, or one a header cannot carry, fails every request to the API with a
// *ValidationError. The key is a secret: the client's transport never
// prints it, and CheckResponse scrubs it from an echo.
//
// The client's Timeout is the Client's per-attempt timeout; requests go
// through the Client's transport and are not retried.
func (c *Client) APIKeyClient(key string) *http.Client {
	return &http.Client{Transport: &apiKeyTransport{c: c, key: key}, Timeout: c.httpClient.Timeout}
}

type apiKeyTransport struct {
	c   *Client
	key string
}

func (t *apiKeyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.c.httpClient.Transport
	if !t.c.ownsURL(req) {
		return base.RoundTrip(req)
	}
	var err error
	switch {
	case req.URL.Scheme == "http" && !isLoopback(req.URL.Hostname()):
		err = &ValidationError{Field: "url", Reason: "is plain http to a host that is not loopback; an API key is never sent in clear text"}
	case t.key == "":
		err = &ValidationError{Field: "api key", Reason: "is empty"}
	case !validHeaderValue(t.key):
		err = &ValidationError{Field: "api key", Reason: "holds characters a header cannot carry"}
	}
	if err != nil {
		closeBody(req)
		return nil, err
	}
	r := withHeader(req, req.Body, apiKeyHeader, t.key)
	return base.RoundTrip(r)
}

// String keeps %v and %+v from printing the key.
func (t *apiKeyTransport) String() string {
	return "userauth.apiKeyTransport{key:" + secret(t.key) + "}"
}

// GoString keeps %#v from printing the key.
func (t *apiKeyTransport) GoString() string { return t.String() }

// unescapeURL undoes the %XX escapes in s, leaving a % that starts no
// escape as it is: url.PathUnescape refuses the whole text for one.
func unescapeURL(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			v, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			b.WriteByte(byte(v))
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
