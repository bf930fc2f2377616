package userauth_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tarilabs/userauth"
)

// The store's bearer goes only where it belongs: never to the API's /auth/
// endpoints, however their path is spelt.

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

// TestTransportBearerNeverToAuthThroughAnOpaqueURL: a request whose
// URL.Opaque names an auth endpoint (net/http sends Opaque as the request
// target, and URL.Path is then empty) carries no bearer.
func TestTransportBearerNeverToAuthThroughAnOpaqueURL(t *testing.T) {
	t.Parallel()
	spy := newBearerSpy(t)
	_, hc := storeClient(t, spy.srv.URL())
	u, _ := url.Parse(spy.srv.URL())
	for _, opaque := range []string{"/auth/token", "/AUTH/2fa"} {
		req, _ := http.NewRequest(http.MethodPost, spy.srv.URL()+"/account", nil)
		req.URL = &url.URL{Scheme: u.Scheme, Host: u.Host, Opaque: opaque}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	got := spy.bearers()
	if len(got) == 0 {
		t.Fatal("no request reached the server")
	}
	for uri, a := range got {
		if a != "" {
			t.Errorf("request to %s (URL.Opaque) carried the bearer %q", uri, a)
		}
	}
}

// TestTransportBearerNeverToAuthUnderAnUncleanBasePath: a base URL whose
// path has a doubled slash or a dot segment (https://host//v1/, from
// joining strings): a request to <base>auth/token built with
// BaseURL().JoinPath, which servers resolve to the auth endpoint, carries
// no bearer.
func TestTransportBearerNeverToAuthUnderAnUncleanBasePath(t *testing.T) {
	t.Parallel()
	spy := newBearerSpy(t)
	for _, base := range []string{spy.srv.URL() + "//v1/", spy.srv.URL() + "/v1/./"} {
		c, hc := storeClient(t, base)
		resp, err := hc.Post(c.BaseURL().JoinPath("auth", "token").String(), "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for uri, a := range spy.bearers() {
			if a != "" {
				t.Errorf("base %q: request to %s (the API's auth endpoint) carried the bearer %q", base, uri, a)
			}
		}
	}
}
