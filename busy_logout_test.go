package userauth_test

// Logout while the store, or another store, is busy: it waits, gives up
// with its context, and never lets a session come back.

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tarilabs/userauth"
	"github.com/tarilabs/userauth/userauthtest"
)

// TestHostileStoreLogoutWaitsForAStuckSave: a renewal's Save hangs (a
// storage stalled on writes) until the refresh timeout. A Logout with a
// shorter context returns the context's error at once and changes nothing;
// one with room waits for the save to give up, then logs out: storage
// empty, no refresh token spent twice.
func TestHostileStoreLogoutWaitsForAStuckSave(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := newRefusingStorage()
	s := e.store(t, storage, userauth.WithRefreshTimeout(2*time.Second))
	first, err := s.Login(ctx, atkAnn)
	require.NoError(t, err)

	e.srv.Advance(16 * time.Minute)
	storage.blockSaves.Store(true)
	renewal := make(chan error, 1)
	go func() { _, err := s.AccessToken(ctx); renewal <- err }()
	require.Eventually(t, storage.saveBlocked.Load, 5*time.Second, time.Millisecond, "the save is stuck")

	lctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, s.Logout(lctx), context.DeadlineExceeded)
	assert.Equal(t, first.RefreshToken, storage.stored(t).RefreshToken, "a Logout that gave up changes nothing")

	assert.Error(t, <-renewal, "the stuck save failed the renewal")
	storage.blockSaves.Store(false) // a logout writes too
	require.NoError(t, s.Logout(ctx))
	assert.Nil(t, storage.stored(t))
	_, err = s.AccessToken(ctx)
	assert.ErrorIs(t, err, userauth.ErrLoginRequired)
	e.quiesce()
	assert.Nil(t, storage.stored(t))
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

// TestHostileStoreBusyLogoutWaitsForAnotherStoresRenewal: stores A and B
// share a storage; both tokens expired. B's renewal holds the storage's
// Locker, its refresh held back by the server; A's renewal waits for the
// Locker, so A is busy. A.Logout with a context too short for both gives
// up: it returns the context's error and changes nothing, B's pair
// included (Logout "waits, as long as ctx allows, for a renewal or 2FA
// step of this store under way and for the Locker"). Once B is done,
// Logout succeeds: storage empty, both stores logged out, no refresh token
// presented twice.
func TestHostileStoreBusyLogoutWaitsForAnotherStoresRenewal(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := userauth.NewMemoryStorage()
	a, b := e.sharedSession(t, storage)

	e.srv.Advance(16 * time.Minute)
	e.srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Hold: 800 * time.Millisecond})
	bDone := make(chan error, 1)
	go func() { _, err := b.AccessToken(ctx); bDone <- err }() // holds the Locker, refresh held back
	require.Eventually(t, func() bool { return e.srv.Calls(userauthtest.PathRefresh) == 1 }, 5*time.Second, time.Millisecond)
	aBefore := make(chan error, 1)
	go func() { _, err := a.AccessToken(ctx); aBefore <- err }() // A's renewal waits for the Locker
	time.Sleep(100 * time.Millisecond)

	lctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	err := a.Logout(lctx)
	t.Logf("A.Logout while busy: %v", err)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotErrorIs(t, err, userauth.ErrNotRevoked, "nothing was asked of the server")
	t.Logf("A's caller from before the logout: %v", <-aBefore)
	require.NoError(t, <-bDone, "B's renewal is not disturbed")
	require.NotNil(t, mustLoad(t, storage), "B's pair is saved")

	require.NoError(t, a.Logout(ctx))
	assert.Nil(t, mustLoad(t, storage))
	_, err = a.AccessToken(ctx)
	assert.ErrorIs(t, err, userauth.ErrLoginRequired)
	assertLoggedOut(t, e, b)
	e.quiesce()
	assert.Nil(t, mustLoad(t, storage), "a renewal wrote the session back after Logout returned")
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

// TestHostileStoreBusyLogoutThenAnotherStoreRenews: store A's renewal
// waits for a refresh the server acted on and holds back. A.Logout with a
// short context gives up; the renewal then saves its pair, and store B,
// sharing the storage, renews from that pair, never from the spent one.
// A second Logout logs both out, even when its Clear is refused once (the
// server revoked the session: B's next call ends in ErrLoginRequired).
func TestHostileStoreBusyLogoutThenAnotherStoreRenews(t *testing.T) {
	t.Parallel()
	for _, clearFails := range []bool{false, true} {
		name := "Clear works"
		if clearFails {
			name = "the logout's Clear refused once"
		}
		t.Run(name, func(t *testing.T) {
			e := newAtkEnv(t)
			ctx := context.Background()
			storage := newRefusingStorage()
			a, b := e.sharedSession(t, storage)

			e.srv.Advance(16 * time.Minute)
			e.srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Hold: 500 * time.Millisecond})
			done := make(chan error, 1)
			go func() { _, err := a.AccessToken(ctx); done <- err }()
			require.Eventually(t, func() bool { return e.srv.Calls(userauthtest.PathRefresh) == 1 }, 5*time.Second, time.Millisecond)
			lctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			require.ErrorIs(t, a.Logout(lctx), context.DeadlineExceeded)
			require.NoError(t, <-done, "A's renewal ends as if no Logout had been tried")

			_, err := b.AccessToken(ctx)
			require.NoError(t, err)
			if clearFails {
				storage.refuseClears()
				assert.Error(t, a.Logout(ctx), "the refused Clear is reported")
			} else {
				require.NoError(t, a.Logout(ctx))
			}
			assertLoggedOut(t, e, b)
			e.quiesce()
			assert.Equal(t, 0, e.srv.ReuseDetected(), "a refresh token was presented twice")
		})
	}
}

// TestHostileStoreBusyLogoutThenAStaleStepUp: store A (a 2FA handler) meets
// a 424 and its step-up waits for the Locker, which store B holds for a
// renewal the server holds back. A's Logout, with a short context, gives
// up while A is busy. Whatever the order in which B's renewal, A's step-up
// and the logout end, no refresh token is presented twice: B's next
// renewal must not meet theft detection.
func TestHostileStoreBusyLogoutThenAStaleStepUp(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t, userauthtest.WithTwoFactorGrace(time.Minute))
	ctx := context.Background()
	storage := userauth.NewMemoryStorage()
	var calls atomic.Int32
	a := e.store(t, storage, userauth.WithTwoFactorHandler(e.handler(&calls)))
	b := e.store(t, storage)
	_, err := a.Login(ctx, atkTom)
	require.NoError(t, err)
	_, err = b.AccessToken(ctx)
	require.NoError(t, err)

	e.srv.Advance(2 * time.Minute) // grace over
	e.srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Hold: 600 * time.Millisecond})
	bDone := make(chan error, 1)
	go func() { _, err := b.Refresh(ctx); bDone <- err }() // holds the Locker
	require.Eventually(t, func() bool { return e.srv.Calls(userauthtest.PathRefresh) == 1 }, 5*time.Second, time.Millisecond)
	aDone := make(chan int, 1)
	go func() {
		resp, err := a.HTTPClient().Get(e.srv.URL + userauthtest.PathSensitive) // 424: a step-up waits for the Locker
		if err != nil {
			aDone <- -1
			return
		}
		resp.Body.Close()
		aDone <- resp.StatusCode
	}()
	time.Sleep(150 * time.Millisecond)
	lctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	err = a.Logout(lctx)
	t.Logf("A.Logout while busy: %v", err)
	t.Logf("B's renewal: %v; A's request: %d", <-bDone, <-aDone)
	e.quiesce()
	t.Logf("2fa calls: %d", e.srv.Calls(userauthtest.PathTwoFactor))

	_, err = b.Refresh(ctx)
	t.Logf("B's next renewal: %v", err)
	assert.Equal(t, 0, e.srv.ReuseDetected(), "a refresh token was presented twice")
}

// assertLoggedOut checks that s, holding a token another store's Logout
// revoked, ends its next API call with ErrLoginRequired.
func assertLoggedOut(t *testing.T, e *atkEnv, s *userauth.TokenStore) {
	t.Helper()
	resp, err := s.HTTPClient().Get(e.srv.URL + userauthtest.PathAccount)
	if err == nil {
		resp.Body.Close()
	}
	assert.ErrorIs(t, err, userauth.ErrLoginRequired)
}

// sharedSession makes two stores over storage: a logs ann in, and b adopts
// the pair from storage.
func (e *atkEnv) sharedSession(t *testing.T, storage userauth.TokenStorage) (a, b *userauth.TokenStore) {
	t.Helper()
	a, b = e.store(t, storage), e.store(t, storage)
	_, err := a.Login(context.Background(), atkAnn)
	require.NoError(t, err)
	_, err = b.AccessToken(context.Background())
	require.NoError(t, err)
	return a, b
}

func mustLoad(t *testing.T, s userauth.TokenStorage) *userauth.Token {
	t.Helper()
	tok, err := loadPair(context.Background(), s)
	require.NoError(t, err)
	return tok
}

// TestHostileStoreLogoutWhileAnotherStoreHoldsTheLock: store A is idle;
// store B's renewal holds the shared storage's Locker while the server
// holds its refresh back. A.Logout with a short context gives up on the
// Locker: the context's error, nothing cleared, nothing asked of the
// server, A's session untouched. Clearing without the Locker would let
// B's renewal write the session back.
func TestHostileStoreLogoutWhileAnotherStoreHoldsTheLock(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := userauth.NewMemoryStorage()
	a, b := e.sharedSession(t, storage)

	e.srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Hold: time.Second})
	bDone := make(chan error, 1)
	go func() { _, err := b.Refresh(ctx); bDone <- err }()
	require.Eventually(t, func() bool { return e.srv.Calls(userauthtest.PathRefresh) == 1 }, 5*time.Second, time.Millisecond)

	lctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	err := a.Logout(lctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Zero(t, e.srv.Calls(userauthtest.PathLogout))
	_, err = a.AccessToken(ctx)
	assert.NoError(t, err, "a Logout that failed leaves the session as it was")

	require.NoError(t, <-bDone)
	require.NoError(t, a.Logout(ctx))
	assertLoggedOut(t, e, b)
	e.quiesce()
	assert.Equal(t, 0, e.srv.ReuseDetected())
}
