package userauth_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tarilabs/userauth"
	"github.com/tarilabs/userauth/userauthtest"
)

// wipeable is a shared storage that can restart empty, as a cache without
// persistence does (redis-server --save ”).
type wipeable struct {
	mu sync.Mutex
	m  *userauth.MemoryStorage
}

func newWipeable() *wipeable { return &wipeable{m: userauth.NewMemoryStorage()} }

func (w *wipeable) cur() *userauth.MemoryStorage {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.m
}

func (w *wipeable) wipe() {
	w.mu.Lock()
	w.m = userauth.NewMemoryStorage()
	w.mu.Unlock()
}

func (w *wipeable) Load(ctx context.Context) (*userauth.Record, error) { return w.cur().Load(ctx) }
func (w *wipeable) Save(ctx context.Context, r *userauth.Record) error { return w.cur().Save(ctx, r) }
func (w *wipeable) Lock(ctx context.Context) (func(), error)           { return w.cur().Lock(ctx) }

// TestStorageRestartedEmptyGetsTheSessionBack: the shared storage loses
// everything while the stores hold a good pair. Empty storage means
// nothing known, not a logout: the next renewal writes the pair back and
// goes on, the other store adopts it, and nobody is told to log in.
func TestStorageRestartedEmptyGetsTheSessionBack(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := newWipeable()
	a, b := e.sharedSession(t, storage)
	storage.wipe()

	e.srv.Advance(16 * time.Minute)
	_, err := a.AccessToken(ctx)
	require.NoError(t, err, "a store holding a good pair is not logged out by an empty storage")
	_, err = b.AccessToken(ctx)
	require.NoError(t, err)
	tokA, _ := a.AccessToken(ctx)
	tokB, _ := b.AccessToken(ctx)
	assert.Equal(t, tokA, tokB, "both on the renewed pair")
	saved, err := loadPair(ctx, storage)
	require.NoError(t, err)
	require.NotNil(t, saved, "the session is back in storage")
	assert.Equal(t, tokA, saved.AccessToken)
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathRefresh))
	assert.Zero(t, e.srv.ReuseDetected())

	// A logout is remembered as such: a record, which b's renewal finds
	// newer than the pair it holds.
	require.NoError(t, a.Logout(ctx))
	rec, err := storage.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, userauth.PhaseLoggedOut, rec.Phase)
	e.srv.Advance(16 * time.Minute)
	_, err = b.AccessToken(ctx)
	assert.ErrorIs(t, err, userauth.ErrLoginRequired)
	rec, err = storage.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, userauth.PhaseLoggedOut, rec.Phase, "nobody wrote the session back")
}
