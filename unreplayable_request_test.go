package userauth_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tarilabs/userauth/userauthtest"
)

// TestRefusedTokenIsRenewedEvenWhenTheRequestCannotBeRepeated: a request
// whose body cannot be replayed (a pipe, a file upload) meets a 401. It
// gets the 401, but the token is renewed, so the next request carries a
// good one: a client that only uploads recovers.
func TestRefusedTokenIsRenewedEvenWhenTheRequestCannotBeRepeated(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	s := e.annStore(t, nil)
	ctx := context.Background()
	before, err := s.AccessToken(ctx)
	require.NoError(t, err)
	e.srv.ExpireAccessTokens() // revoked before its exp

	upload := func() int {
		pr, pw := io.Pipe()
		go func() { _, _ = io.Copy(pw, strings.NewReader(`{"name":"ci"}`)); pw.Close() }()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.srv.URL+"/api_keys", pr)
		require.NoError(t, err)
		require.Nil(t, req.GetBody, "a pipe cannot be replayed")
		req.Header.Set("Content-Type", "application/json")
		resp, err := s.HTTPClient().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusUnauthorized, upload(), "the request that met the 401 gets it")
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathRefresh))
	after, err := s.AccessToken(ctx)
	require.NoError(t, err)
	assert.NotEqual(t, before, after)
	assert.Less(t, upload(), 300, "the next upload carries the renewed token")
}
