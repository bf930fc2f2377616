package userauth_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tarilabs/userauth"
)

// encodeURIComponent is JavaScript's encodeURIComponent: every byte but
// A-Z a-z 0-9 - _ . ! ~ * ' ( ) percent-encoded, %20 for a space.
func encodeURIComponent(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.!~*'()", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// TestHostileURLEncodedEchoBesideAStrayPercent: a 401 echoes the password
// URL-encoded as JavaScript's encodeURIComponent writes it, in a text that
// also holds a "%" that starts no escape ("100%"), in the body, the
// request id and a header. The echo is scrubbed everywhere.
func TestHostileURLEncodedEchoBesideAStrayPercent(t *testing.T) {
	t.Parallel()
	const pw = "open sesame&co=1"
	echo := encodeURIComponent(pw) // open%20sesame%26co%3D1: in no listed form
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-Id", "100% "+echo)
		w.Header().Set("WWW-Authenticate", `Basic realm="100%", hint="`+echo+`"`)
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, jsonNoHTML(map[string]string{"error": "100% sure the password " + echo + " is wrong"}))
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL, userauth.WithoutRetries())
	_, err := c.Login(context.Background(), userauth.LoginRequest{Email: "ann@example.com", Password: pw})
	if !errors.Is(err, userauth.ErrInvalidCredentials) {
		t.Fatalf("err = %v", err)
	}
	assertNoExposure(t, err, pw, echo)
}

// TestHostileURIComponentEchoCutAtTheBodyLimit: an encodeURIComponent echo
// of the password cut in two by the 4 KiB that APIError.Body keeps: no
// piece of it is kept.
func TestHostileURIComponentEchoCutAtTheBodyLimit(t *testing.T) {
	t.Parallel()
	const pw = "correct&horse battery&staple=42"
	echo := encodeURIComponent(pw)
	body := strings.Repeat("x", 4096-24) + echo + strings.Repeat("y", 6000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL, userauth.WithoutRetries())
	_, err := c.Login(context.Background(), userauth.LoginRequest{Email: "ann@example.com", Password: pw})
	var ae *userauth.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v", err)
	}
	if i := bytes.Index(ae.Body, []byte("correct%26horse")); i >= 0 {
		t.Errorf("APIError.Body keeps %q of the URL-encoded password %q", ae.Body[i:], pw)
	}
}

// TestHostileBase64Echo: a 401 from the refresh endpoint echoes the
// refresh token base64-encoded, in the body and the request id: scrubbed.
func TestHostileBase64Echo(t *testing.T) {
	t.Parallel()
	const rt = "rt-5f2c9a7e0b1d4c38a9e6f70123456789"
	b64 := base64.StdEncoding.EncodeToString([]byte(rt))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-Id", b64)
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":"refresh token `+b64+` revoked"}`)
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL, userauth.WithoutRetries())
	_, err := c.RefreshToken(context.Background(), userauth.RefreshRequest{RefreshToken: rt})
	var ce *userauth.ClientError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	assertNoExposure(t, err, b64)
}

// TestHostileCheckResponsePathAfterARedirectIsCleaned: after a same-host
// redirect the http.Client followed, CheckResponse's APIError.Path is the
// server's Location: its control characters and bidi overrides are
// replaced before they reach Error().
func TestHostileCheckResponsePathAfterARedirectIsCleaned(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/account" {
			w.Header().Set("Location", "/x%1B%5B2J%1B%5D0;pwned%07%E2%80%AEevil")
			w.WriteHeader(http.StatusFound)
			return
		}
		w.WriteHeader(http.StatusForbidden)
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL)
	resp, err := c.APIKeyClient("k-0123456789abcdef").Get(srv.URL + "/account")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	err = userauth.CheckResponse(resp)
	var ce *userauth.ClientError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	assertClean(t, "Error()", err.Error())
	assertClean(t, "APIError.Path", ce.Path)
}

// TestHostileCheckResponsePathAfterARedirectHoldsNoKey: a same-host
// redirect whose Location carries the API key the server received: the
// key is redacted from APIError.Path and Error().
func TestHostileCheckResponsePathAfterARedirectHoldsNoKey(t *testing.T) {
	t.Parallel()
	const key = "pk_live_7f3a9c2e5b8d4f1a"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/account" {
			w.Header().Set("Location", "/keys/"+r.Header.Get("X-Api-Key")+"/revoked")
			w.WriteHeader(http.StatusFound)
			return
		}
		w.WriteHeader(http.StatusForbidden)
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL)
	resp, err := c.APIKeyClient(key).Get(srv.URL + "/account")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	err = userauth.CheckResponse(resp)
	var ce *userauth.ClientError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	assertNoExposure(t, err, key)
}

// TestHostileEchoWithOtherWhiteSpace: the password "open sesame 42"
// echoed with tabs, newlines, no-break or ideographic spaces for its
// spaces. Cleaning the text makes every run of white space one space,
// which would rebuild the password; it is redacted instead.
func TestHostileEchoWithOtherWhiteSpace(t *testing.T) {
	t.Parallel()
	const pw = "open sesame 42"
	for name, echo := range map[string]string{
		"tab":            "open\tsesame\t42",
		"newline":        "open\nsesame\n42",
		"no-break space": "open\u00a0sesame\u00a042",
		"ideographic":    "open\u3000sesame\u300042",
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				io.WriteString(w, jsonNoHTML(map[string]any{"error": "wrong password: " + echo,
					"fields": map[string]any{"password": []any{map[string]string{"code": echo, "message": echo}}}}))
			}))
			t.Cleanup(srv.Close)
			c := newClient(t, srv.URL, userauth.WithoutRetries())
			_, err := c.Login(context.Background(), userauth.LoginRequest{Email: "ann@example.com", Password: pw})
			if !errors.Is(err, userauth.ErrInvalidCredentials) {
				t.Fatalf("err = %v", err)
			}
			assertNoExposure(t, err, pw)
		})
	}
}

// TestHostileRequires2FAEchoInOtherForms: a 200 Login answer whose
// requires_2fa echoes the password with a tab for its space, or
// URL-encoded beside a stray "%": the TokenResponse never shows it, in
// any format or log line.
func TestHostileRequires2FAEchoInOtherForms(t *testing.T) {
	t.Parallel()
	const pw = "open sesame&co=1"
	for name, echo := range map[string]string{
		"tabs":          `open\tsesame&co=1`,
		"stray percent": "100% " + encodeURIComponent(pw),
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `{"access_token":"at","refresh_token":"rt","requires_2fa":"`+echo+`"}`)
			}))
			t.Cleanup(srv.Close)
			c := newClient(t, srv.URL, userauth.WithoutRetries())
			tok, err := c.Login(context.Background(), userauth.LoginRequest{Email: "ann@example.com", Password: pw})
			if err != nil {
				t.Fatal(err)
			}
			var logged bytes.Buffer
			slog.New(slog.NewTextHandler(&logged, nil)).Info("login", "tok", tok)
			for what, got := range map[string]string{
				"%v": fmt.Sprintf("%v", tok), "%+v": fmt.Sprintf("%+v", tok), "%#v": fmt.Sprintf("%#v", tok),
				"Requires2FA.String()": tok.Requires2FA.String(), "slog": logged.String(),
			} {
				for _, needle := range []string{pw, encodeURIComponent(pw)} {
					if strings.Contains(got, needle) {
						t.Errorf("%s shows %q: %s", what, needle, got)
					}
				}
			}
		})
	}
}

// TestTransportBearerNeverToAuthThroughDotSegments: requests through the
// store's client to /x/../auth/token, /./auth/token/refresh and //auth/2fa,
// which servers and proxies resolve to the auth endpoints, carry no
// bearer.
func TestTransportBearerNeverToAuthThroughDotSegments(t *testing.T) {
	t.Parallel()
	spy := newBearerSpy(t)
	_, hc := storeClient(t, spy.srv.URL())
	paths := []string{"/x/../auth/token", "/./auth/token/refresh", "//auth/2fa"}
	for _, p := range paths {
		resp, err := hc.Post(spy.srv.URL()+p, "application/json", nil)
		require.NoError(t, err)
		resp.Body.Close()
	}
	resp, err := hc.Get(spy.srv.URL() + "/x/../account") // not an auth endpoint
	require.NoError(t, err)
	resp.Body.Close()
	got := spy.bearers()
	for _, p := range paths {
		if a := got[p]; a != "" {
			t.Errorf("%s (an /auth/ endpoint once dot segments are resolved) got %q", p, a)
		}
	}
	assert.Equal(t, "Bearer at-secret", got["/x/../account"], "the API's other endpoints get the bearer")
}

// bearerSpy is a raw server that records the Authorization header of each
// request, by its request URI, and answers 204.
type bearerSpy struct {
	srv *rawServer
	mu  sync.Mutex
	got map[string]string
}

func newBearerSpy(t *testing.T) *bearerSpy {
	b := &bearerSpy{got: map[string]string{}}
	b.srv = newRawServer(t, func(_ *rawServer, c net.Conn, req *http.Request, _ []byte) {
		b.mu.Lock()
		b.got[req.RequestURI] = req.Header.Get("Authorization")
		b.mu.Unlock()
		io.WriteString(c, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
	})
	return b
}

// bearers returns the headers recorded so far, and forgets them.
func (b *bearerSpy) bearers() map[string]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	got := b.got
	b.got = map[string]string{}
	return got
}

// storeClient returns a Client for base, and the HTTPClient of a store of
// it that holds a session.
func storeClient(t *testing.T, base string) (*userauth.Client, *http.Client) {
	t.Helper()
	c := newClient(t, base)
	store, err := userauth.NewTokenStore(c, nil)
	require.NoError(t, err)
	_, err = store.SetToken(context.Background(), &userauth.TokenResponse{AccessToken: "at-secret", RefreshToken: "rt-secret"})
	require.NoError(t, err)
	return c, store.HTTPClient()
}

// TestHostileMagicLinkNullBody: a 2xx magic-link answer whose body is
// null is a DecodeError: the answer is not a JSON object.
func TestHostileMagicLinkNullBody(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, "null")
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL, userauth.WithoutRetries())
	res, err := c.MagicLinkLogin(context.Background(), userauth.MagicLinkLoginRequest{Email: "ann@example.com"})
	var de *userauth.DecodeError
	if !errors.As(err, &de) {
		t.Errorf("MagicLinkLogin on a `null` body = %+v, %v; want a *DecodeError", res, err)
	}
}
