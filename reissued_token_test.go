package userauth_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tarilabs/userauth"
)

// TestReissuedIdenticalTokenCostsOneRenewalPerRefusal: the server answers
// every refresh and 2FA step with the very same access token (a JWT of the
// same claims issued within the same second: nothing forbids it). A 401
// costs one refresh and a 424 one 2FA code: the pair is told apart by the
// generation that stored it, not by its tokens.
func TestReissuedIdenticalTokenCostsOneRenewalPerRefusal(t *testing.T) {
	t.Parallel()
	var refreshes, steps, things, sensitive atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		switch r.URL.Path {
		case "/auth/token/refresh":
			n := refreshes.Add(1)
			fmt.Fprintf(w, `{"access_token":"same-access","refresh_token":"rt-%d"}`, n)
		case "/auth/2fa":
			n := steps.Add(1)
			fmt.Fprintf(w, `{"access_token":"same-access","refresh_token":"rt-2fa-%d"}`, n)
		case "/things":
			if things.Add(1) == 1 {
				w.WriteHeader(http.StatusUnauthorized)
			}
		case "/sensitive":
			if sensitive.Add(1) == 1 {
				w.WriteHeader(http.StatusFailedDependency)
			}
		}
	}))
	defer srv.Close()
	c, err := userauth.NewClient(srv.URL, userauth.WithHTTPClient(srv.Client()))
	require.NoError(t, err)
	var codes atomic.Int32
	s, err := userauth.NewTokenStore(c, nil, userauth.WithTwoFactorHandler(func(context.Context, userauth.TwoFactorMethod) (string, error) {
		codes.Add(1)
		return "123456", nil
	}))
	require.NoError(t, err)
	ctx := context.Background()
	_, err = s.SetToken(ctx, &userauth.TokenResponse{AccessToken: "same-access", RefreshToken: "rt-0"})
	require.NoError(t, err)

	get := func(path string) int {
		resp, err := s.HTTPClient().Get(srv.URL + path)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusOK, get("/things"))
	assert.Equal(t, int32(1), refreshes.Load(), "one refresh for one 401")
	assert.Equal(t, http.StatusOK, get("/sensitive"))
	assert.Equal(t, int32(1), steps.Load(), "one 2FA step for one 424")
	assert.Equal(t, int32(1), codes.Load(), "one code asked")
}
