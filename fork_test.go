package userauth_test

// Forks of unsaved writes, and the other cases two reviews found.

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tarilabs/userauth"
	"github.com/tarilabs/userauth/userauthtest"
)

// TestForkLoginDuringAnOutageLosesToALogoutThenLogin: B logs in during an
// outage (kept unsaved); A logs out, then logs in again. B's login, made
// before that logout (the server revoked it), never replaces A's fresh one.
func TestForkLoginDuringAnOutageLosesToALogoutThenLogin(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := &failingStorage{MemoryStorage: userauth.NewMemoryStorage()}
	a, b := e.sharedSession(t, storage)

	storage.down.Store(true)
	_, err := b.Login(ctx, atkAnn)
	require.NoError(t, err)
	storage.down.Store(false)

	require.NoError(t, a.Logout(ctx))
	fresh, err := a.Login(ctx, atkAnn)
	require.NoError(t, err)

	_, _ = b.AccessToken(ctx)
	e.quiesce()
	saved, _ := loadPair(ctx, storage)
	require.NotNil(t, saved)
	assert.Equal(t, fresh.AccessToken, saved.AccessToken, "A's login after the logout was overwritten by B's pre-logout login")
	assert.Equal(t, http.StatusOK, bearerGet(t, e, saved.AccessToken, userauthtest.PathAccount), "storage holds a revoked session")
}

// TestForkRenewalDuringAPartitionWinsOverItsUnspentParent: A, cut off from
// storage, renews P0 into P1; B's attempt at P0 never reaches the server,
// so storage holds P0 again. A's P1 descends from it and wins: A never goes
// back to P0, whose refresh token it spent.
func TestForkRenewalDuringAPartitionWinsOverItsUnspentParent(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	mem := userauth.NewMemoryStorage()
	va, vb := &viewOf{MemoryStorage: mem}, &viewOf{MemoryStorage: mem}
	a := e.annStore(t, cutView{va})
	b := e.store(t, cutView{vb})
	_, err := b.AccessToken(ctx)
	require.NoError(t, err)

	va.down = true
	_, err = a.Refresh(ctx) // degraded: P0 spent, P1 kept in A
	require.NoError(t, err)

	e.srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Status: http.StatusServiceUnavailable})
	_, err = b.Refresh(ctx) // never reached the server: spending, then unspent
	require.Error(t, err)
	va.down = false

	_, _ = a.AccessToken(ctx) // merge: storage wins
	e.quiesce()
	e.srv.Advance(16 * time.Minute)
	_, _ = a.AccessToken(ctx)
	_, _ = b.AccessToken(ctx)
	e.quiesce()
	assert.Zero(t, e.srv.ReuseDetected(), "a refresh token presented twice")
	_, err = a.AccessToken(ctx)
	assert.NoError(t, err, "the session ended although A held a valid pair")
}

// TestMagicLinkWhoseAnswerWasLostIsNeverPresentedAgain: the server acts on
// a link and its answer never arrives (the store gave up): a second call
// does not present the link again, which the server would take for theft.
func TestMagicLinkWhoseAnswerWasLostIsNeverPresentedAgain(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	s := e.store(t, nil, userauth.WithRefreshTimeout(300*time.Millisecond))
	_, err := e.client.MagicLinkLogin(ctx, userauth.MagicLinkLoginRequest{Email: atkAnn.Email})
	require.NoError(t, err)
	out := e.srv.Outbox()
	link := out[len(out)-1].Text
	e.srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Hold: time.Second})
	_, err = s.CompleteMagicLink(ctx, link)
	require.Error(t, err)
	t.Logf("first: %v", err)
	_, err = s.CompleteMagicLink(ctx, link)
	t.Logf("second: %v", err)
	assert.Zero(t, e.srv.ReuseDetected(), "the spent link presented again")
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathRefresh))
}

// TestShutdownWaitsForTheStorageLockOnlyAsLongAsCtx: Shutdown, writing back
// an unsaved pair while another process holds the storage's Locker,
// returns when its context ends.
func TestShutdownWaitsForTheStorageLockOnlyAsLongAsCtx(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := &failingStorage{MemoryStorage: userauth.NewMemoryStorage()}
	s := e.annStore(t, storage)
	storage.refuseSaves(1, 3) // spending saved, pair refused: kept unsaved
	_, _ = s.Refresh(ctx)
	r, _ := storage.MemoryStorage.Load(ctx)
	require.Equal(t, userauth.PhaseSpending, r.Phase)
	unlock, err := storage.MemoryStorage.Lock(ctx) // another process holds it
	require.NoError(t, err)
	defer unlock()
	sctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(sctx) }()
	select {
	case err := <-done:
		assert.Error(t, err)
	case <-time.After(3 * time.Second):
		t.Fatal("Shutdown ignored its context: hung on the storage Locker")
	}
}

// TestForkAnswerRenewedAgainSurvivesAnotherStoreEndingItsSpending: A keeps
// its answer P1 unsaved; B ends A's spending as abandoned; A, during an
// outage of its own, renews P1 into P2. P2 descends from the pair B ended:
// it wins, and the session goes on.
func TestForkAnswerRenewedAgainSurvivesAnotherStoreEndingItsSpending(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	mem := userauth.NewMemoryStorage()
	fa := &failingStorage{MemoryStorage: mem}
	a := e.annStore(t, fa)
	b := e.store(t, mem)
	_, err := b.AccessToken(ctx)
	require.NoError(t, err)

	fa.refuseSaves(1, 3)
	_, _ = a.Refresh(ctx) // spending saved, P1 kept unsaved
	_, _ = b.Refresh(ctx) // B sees A's spending
	e.srv.Advance(2*userauth.DefaultRefreshTimeout + time.Second)
	_, err = b.Refresh(ctx)
	require.ErrorIs(t, err, userauth.ErrLoginRequired) // abandoned: ended
	fa.down.Store(true)
	_, err = a.Refresh(ctx) // degraded: P1 spent, P2 kept
	require.NoError(t, err)
	fa.down.Store(false)
	e.srv.Advance(2 * time.Second)
	_, _ = a.AccessToken(ctx)
	e.quiesce()
	_, err = a.AccessToken(ctx)
	assert.NoError(t, err, "A's valid pair lost to B's abandonment")
	r, _ := mem.Load(ctx)
	assert.Equal(t, userauth.PhaseActive, r.Phase)
}
