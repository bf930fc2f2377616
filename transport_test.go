package userauth

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tarilabs/userauth/userauthtest"
)

// TestAPIKeyClientAgainstTheService authenticates with an API key on the
// fake, then checks where the key is sent: to the API host only.
func TestAPIKeyClientAgainstTheService(t *testing.T) {
	t.Parallel()
	srv, c, _ := fakeAPI(t)
	key, err := srv.AddAPIKey(ann.Email)
	require.NoError(t, err)

	var mu sync.Mutex
	var otherSaw []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		otherSaw = append(otherSaw, r.Header.Get(apiKeyHeader))
		mu.Unlock()
	}))
	defer other.Close()

	hc := c.APIKeyClient(key)
	resp, err := hc.Get(srv.URL + userauthtest.PathSensitive)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	assert.Contains(t, string(body), ann.Email)

	resp, err = hc.Get(other.URL + "/anything")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, []string{""}, otherSaw, "the key never goes to another host")

	resp, err = c.APIKeyClient("wrong").Get(srv.URL + userauthtest.PathAccount)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

func TestAPIKeyClientRefuses(t *testing.T) {
	t.Parallel()
	c, err := NewClient("http://api.internal.test", WithInsecureHTTP())
	require.NoError(t, err)
	var ve *ValidationError
	_, err = c.APIKeyClient("k-SECRET").Get("http://api.internal.test/account")
	require.ErrorAs(t, err, &ve, "never over plain http to a host that is not loopback")
	assert.NotContains(t, err.Error(), "k-SECRET")

	c, err = NewClient("http://127.0.0.1:9")
	require.NoError(t, err)
	for _, key := range []string{"", "a\r\nX-Evil: 1"} {
		_, err = c.APIKeyClient(key).Get("http://127.0.0.1:9/account")
		assert.ErrorAs(t, err, &ve, "key %q", key)
	}
	hc := c.APIKeyClient("k-SECRET")
	for _, s := range []string{fmt.Sprint(hc), fmt.Sprintf("%+v", hc.Transport), fmt.Sprintf("%#v", hc.Transport), fmt.Sprintf("%v", hc.Transport)} {
		assert.NotContains(t, s, "k-SECRET")
	}
}

// TestCheckResponseScrubsCredentials: a server that echoes the request's
// bearer token or API key into an error gets them scrubbed.
func TestCheckResponseScrubsCredentials(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `{"error":"no access for %s / %s"}`, r.Header.Get("Authorization"), r.Header.Get(apiKeyHeader))
	}))
	defer srv.Close()
	c, err := NewClient(srv.URL)
	require.NoError(t, err)
	resp, err := c.APIKeyClient("k-SECRET").Get(srv.URL + "/account")
	require.NoError(t, err)
	defer resp.Body.Close()
	cerr := CheckResponse(resp)
	require.Error(t, cerr)
	assert.NotContains(t, cerr.Error(), "k-SECRET")
	body, _ := io.ReadAll(resp.Body)
	assert.True(t, strings.Contains(string(body), "k-SECRET"), "the body itself stays whole for the caller")

	storage := NewMemoryStorage()
	require.NoError(t, savePair(context.Background(), storage, &Token{AccessToken: "at-SECRET", RefreshToken: "rt"}))
	store := mustStore(t, c, storage)
	resp, err = store.HTTPClient().Get(srv.URL + "/account")
	require.NoError(t, err)
	defer resp.Body.Close()
	cerr = CheckResponse(resp)
	require.Error(t, cerr)
	assert.NotContains(t, cerr.Error(), "at-SECRET")
}
