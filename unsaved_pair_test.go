package userauth_test

// A pair storage refused: kept, handed out, written back; and never lost to
// another store's guess that its renewal was abandoned.

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tarilabs/userauth"
	"github.com/tarilabs/userauth/userauthtest"
)

// TestUnsavedAnswerSurvivesAnotherStoreEndingItsSpending: A's rotated pair
// is refused by storage (its spending record stays there) and A goes idle.
// B, seeing that spending record unchanged for twice the refresh timeout,
// ends the session; A's next renewal writes its pair back over that end: it
// is the answer to the very spending B gave up on.
func TestUnsavedAnswerSurvivesAnotherStoreEndingItsSpending(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := &failingStorage{MemoryStorage: userauth.NewMemoryStorage()}
	to := userauth.WithRefreshTimeout(time.Second)
	a := e.annStore(t, storage, to)
	b := e.store(t, storage, to)
	_, err := b.AccessToken(ctx)
	require.NoError(t, err)

	e.srv.Advance(16 * time.Minute)
	storage.refuseSaves(1, 3) // the spending record lands; the rotated pair is refused
	kept, err := a.AccessToken(ctx)
	require.NoError(t, err)
	_, err = b.AccessToken(ctx) // B sees the spending record
	require.ErrorIs(t, err, userauth.ErrStorageUnavailable)
	e.srv.Advance(3 * time.Second) // twice the refresh timeout, by B's clock
	_, err = b.AccessToken(ctx)
	require.ErrorIs(t, err, userauth.ErrLoginRequired, "B gives the spending up")

	got, err := a.AccessToken(ctx)
	require.NoError(t, err)
	assert.Equal(t, kept, got)
	require.Eventually(t, func() bool {
		saved, _ := loadPair(ctx, storage.MemoryStorage)
		return saved != nil && saved.AccessToken == kept
	}, 5*time.Second, 5*time.Millisecond, "A's pair, the server's answer, is written back")
	e.srv.Advance(2 * time.Second)
	tb, err := b.AccessToken(ctx)
	require.NoError(t, err, "B adopts it")
	assert.Equal(t, kept, tb)
	assert.Zero(t, e.srv.ReuseDetected())
}

// TestSkewedClockNeverEndsARenewalInFlight: B's clock runs a minute ahead
// of A's on a storage without a Locker. A's renewal is in flight; B never
// judges it abandoned by A's clock, and A's pair survives.
func TestSkewedClockNeverEndsARenewalInFlight(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := lockless{userauth.NewMemoryStorage()}
	a := e.annStore(t, storage)
	b, err := userauth.NewTokenStore(e.client, storage, userauth.WithClock(func() time.Time { return e.srv.Now().Add(61 * time.Second) }))
	require.NoError(t, err)
	_, err = b.AccessToken(ctx)
	require.NoError(t, err)
	e.srv.Advance(16 * time.Minute)
	e.srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Hold: 300 * time.Millisecond})
	done := make(chan error, 1)
	go func() { _, err := a.AccessToken(ctx); done <- err }()
	require.Eventually(t, func() bool { return e.srv.Calls(userauthtest.PathRefresh) == 1 }, 5*time.Second, time.Millisecond)
	_, err = b.AccessToken(ctx)
	assert.ErrorIs(t, err, userauth.ErrStorageUnavailable, "in flight: try again")
	require.NoError(t, <-done)
	_, err = a.AccessToken(ctx)
	assert.NoError(t, err, "A's pair survives")
	e.srv.Advance(2 * time.Second) // past B's memory of "try again"
	_, err = b.AccessToken(ctx)
	assert.NoError(t, err)
	assert.Zero(t, e.srv.ReuseDetected())
}

// TestShutdownWritesBackAPairStorageRefused: Shutdown gives storage the
// rotated pair it refused before, so the next process does not find a
// spending record and end the session.
func TestShutdownWritesBackAPairStorageRefused(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := &failingStorage{MemoryStorage: userauth.NewMemoryStorage()}
	a := e.annStore(t, storage)
	e.srv.Advance(16 * time.Minute)
	storage.refuseSaves(1, 3)
	kept, err := a.AccessToken(ctx)
	require.NoError(t, err)
	require.NoError(t, a.Shutdown(ctx))
	saved, err := loadPair(ctx, storage.MemoryStorage)
	require.NoError(t, err)
	require.NotNil(t, saved)
	assert.Equal(t, kept, saved.AccessToken)

	// Storage that still refuses: Shutdown says so.
	b := e.annStore(t, storage)
	e.srv.Advance(16 * time.Minute)
	storage.refuseSaves(1, 1<<20)
	_, err = b.AccessToken(ctx)
	require.NoError(t, err)
	assert.Error(t, b.Shutdown(ctx), "the renewed pair is not in storage")
}
