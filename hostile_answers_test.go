package userauth_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tarilabs/userauth"
)

// Answers that are not what the contract promises, and what the SDK shows
// of them: a redirect's path in CheckResponse, a null magic-link body, and
// a store that remembers a refused token.

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

// TestStoreFormatShowsNoToken: after the server refuses a renewal, the
// store remembers the refused refresh token; %v, %+v, %#v and slog of the
// *TokenStore never print it.
func TestStoreFormatShowsNoToken(t *testing.T) {
	t.Parallel()
	const rt = "rt-secret-0123456789abcdef"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized) // /account and the refresh alike
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL, userauth.WithoutRetries())
	store, err := userauth.NewTokenStore(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.SetToken(context.Background(), &userauth.TokenResponse{AccessToken: "at-secret", RefreshToken: rt}); err != nil {
		t.Fatal(err)
	}
	resp, err := store.HTTPClient().Get(c.BaseURL().JoinPath("account").String())
	if err == nil {
		resp.Body.Close()
	}
	if !errors.Is(err, userauth.ErrLoginRequired) {
		t.Fatalf("GET /account after a refused renewal: %v; want ErrLoginRequired", err)
	}
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("state", "store", store)
	for what, s := range map[string]string{
		"%v":       fmt.Sprintf("%v", store),
		"%+v":      fmt.Sprintf("%+v", store),
		"%#v":      fmt.Sprintf("%#v", store),
		"slog.Any": logs.String(),
	} {
		if strings.Contains(s, rt) || strings.Contains(s, "at-secret") {
			t.Errorf("%s of the *TokenStore holds the refresh token: %s", what, s)
		}
	}
}

// TestCheckResponseWithholdsAKeyEchoedAfterACrossHostRedirect: after a
// redirect to another host, the last request carries no credential (the
// transport leaves it off), yet the other host may echo the key from the
// redirect's path: the credentials of every request of the chain count.
func TestCheckResponseWithholdsAKeyEchoedAfterACrossHostRedirect(t *testing.T) {
	t.Parallel()
	const key = "pk_live_7f3a9c2e5b8d4f1a"
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"error":"no route %s"}`, r.URL.Path)
	}))
	t.Cleanup(other.Close)
	otherURL := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, otherURL+"/keys/"+r.Header.Get("X-Api-Key")+"/revoked", http.StatusFound)
	}))
	t.Cleanup(api.Close)
	resp, err := newClient(t, api.URL).APIKeyClient(key).Get(api.URL + "/account")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	assertNoExposure(t, userauth.CheckResponse(resp), key)
}

// TestCheckResponseLeavesTheCallersPathAlone: without a redirect the path
// is the caller's own, never checked against the credentials: the error is
// the same whatever the key.
func TestCheckResponseLeavesTheCallersPathAlone(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotFound) }))
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL)
	errFor := func(key string) string {
		resp, err := c.APIKeyClient(key).Get(srv.URL + "/v1/customers/42/invoices")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return userauth.CheckResponse(resp).Error()
	}
	if a, b := errFor("sk_customers_4f1a9c"), errFor("sk_unrelated_key_77"); a != b {
		t.Errorf("the key changed the caller's path:\n%s\n%s", a, b)
	}
}
