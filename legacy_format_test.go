package userauth_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tarilabs/userauth"
	"github.com/tarilabs/userauth/userauthtest"
)

// TestTokenFileOfAnEarlierVersionIsUpgraded: a token file as versions
// before session records wrote it (a bare token) is read as a record of
// generation 1; the session goes on, and the next write upgrades the file.
func TestTokenFileOfAnEarlierVersionIsUpgraded(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	resp, err := e.client.Login(ctx, atkAnn)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "tokens.json")
	old, err := json.Marshal(map[string]any{"access_token": resp.AccessToken, "refresh_token": resp.RefreshToken,
		"expiry": e.srv.Now().Add(15 * time.Minute)})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, old, 0o600))

	storage, err := userauth.NewFileStorage(path)
	require.NoError(t, err)
	rec, err := storage.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), rec.Generation)
	assert.Equal(t, userauth.PhaseActive, rec.Phase)
	assert.Equal(t, resp.RefreshToken, rec.Token.RefreshToken)

	s := e.store(t, storage)
	got, err := s.AccessToken(ctx)
	require.NoError(t, err)
	assert.Equal(t, resp.AccessToken, got, "the session goes on")
	e.srv.Advance(16 * time.Minute)
	_, err = s.AccessToken(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathRefresh))

	var upgraded map[string]any
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &upgraded))
	assert.Contains(t, upgraded, "generation", "the file now holds a record")
	assert.Equal(t, "active", upgraded["phase"])
	assert.Equal(t, e.client.BaseURL().String(), upgraded["api"], "and names its API")
}
