package userauth_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tarilabs/userauth"
	"github.com/tarilabs/userauth/userauthtest"
)

// TestStoreNeverSendsAnotherAPIsTokens: a token file written by a store of
// API A, opened by a store of API B. The record names A: B's store sends
// none of its tokens to B (neither the access token nor, in a refresh, the
// refresh token) and answers ErrLoginRequired; a Login there replaces the
// session, and the file then names B.
func TestStoreNeverSendsAnotherAPIsTokens(t *testing.T) {
	t.Parallel()
	a, b := newAtkEnv(t), newAtkEnv(t)
	ctx := context.Background()
	storage, err := userauth.NewFileStorage(t.TempDir() + "/tokens.json")
	require.NoError(t, err)
	_ = a.annStore(t, storage)

	s := b.store(t, storage)
	_, err = s.AccessToken(ctx)
	assert.ErrorIs(t, err, userauth.ErrLoginRequired)
	assert.ErrorContains(t, err, "another API")
	_, err = s.Refresh(ctx)
	assert.ErrorIs(t, err, userauth.ErrLoginRequired)
	resp, err := s.HTTPClient().Get(b.srv.URL + userauthtest.PathAccount)
	if err == nil {
		resp.Body.Close()
	}
	assert.ErrorIs(t, err, userauth.ErrLoginRequired)
	assert.Empty(t, b.srv.AllCalls(), "B was sent nothing of A's session")

	_, err = s.Login(ctx, atkAnn)
	require.NoError(t, err)
	rec, err := storage.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, b.client.BaseURL().String(), rec.API)
}
