package userauth_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tarilabs/userauth"
	"github.com/tarilabs/userauth/userauthtest"
)

// TestStoredPairNearExpiryIsDueByTheSkewOfItsLifetime: a pair read from
// storage with 20 s left of a 15-minute lifetime is within the 30 s skew:
// it is renewed, not handed out as fresh. (The skew was once capped at half
// of what was left, so such a pair counted as fresh for 10 more seconds,
// and a command printed a token that expired in its user's hands.)
func TestStoredPairNearExpiryIsDueByTheSkewOfItsLifetime(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	storage := userauth.NewMemoryStorage()
	ctx := context.Background()
	first := e.annStore(t, storage)
	tok, err := first.Token(ctx)
	require.NoError(t, err)
	e.srv.Advance(time.Until(tok.Expiry) - 20*time.Second)

	// A new process reads the pair.
	s := e.store(t, storage, userauth.WithBlockingRefresh())
	got, err := s.Token(ctx)
	require.NoError(t, err)
	assert.NotEqual(t, tok.AccessToken, got.AccessToken, "a pair within the skew of its expiry is renewed first")
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathRefresh))
	assert.Greater(t, got.Expiry.Sub(e.srv.Now()), 14*time.Minute, "the renewed token has its whole lifetime")
}

// TestShortLivedTokenIsNotRenewedOnArrival: the skew is capped at half the
// token's lifetime, so a 40 s token is used for 20 s before it is due.
func TestShortLivedTokenIsNotRenewedOnArrival(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t, userauthtest.WithAccessTTL(40*time.Second))
	s := e.annStore(t, nil, userauth.WithBlockingRefresh())
	ctx := context.Background()
	first, err := s.AccessToken(ctx)
	require.NoError(t, err)
	e.srv.Advance(19 * time.Second)
	again, err := s.AccessToken(ctx)
	require.NoError(t, err)
	assert.Equal(t, first, again)
	assert.Zero(t, e.srv.Calls(userauthtest.PathRefresh))
	e.srv.Advance(2 * time.Second)
	renewed, err := s.AccessToken(ctx)
	require.NoError(t, err)
	assert.NotEqual(t, first, renewed)
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathRefresh))
}
