package userauth_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tarilabs/userauth/userauthtest"
)

// TestEndpointThatAlwaysAnswers401CostsOneRefresh: an endpoint answers 401
// to a valid token (a permissions error reported as 401, a misrouted
// proxy). The first 401 renews the pair; the same endpoint refusing the
// pair renewed for it is its own answer: 50 requests cost one refresh, and
// other endpoints go on with the session.
func TestEndpointThatAlwaysAnswers401CostsOneRefresh(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	s := e.annStore(t, nil)
	e.srv.Fail(userauthtest.PathSensitive, 1000, userauthtest.Fault{Status: http.StatusUnauthorized})
	hc := s.HTTPClient()
	for range 50 {
		resp, err := hc.Get(e.srv.URL + userauthtest.PathSensitive)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	}
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathRefresh), "one refresh for an endpoint that refuses every token")
	assert.Equal(t, 51, e.srv.Calls(userauthtest.PathSensitive), "each request sent once, the first repeated once")
	assert.Zero(t, e.srv.ReuseDetected())
	_, err := s.Account(context.Background())
	require.NoError(t, err, "the session is fine for the other endpoints")
}
