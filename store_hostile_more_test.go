package userauth_test

// TokenStore against a hostile world, continued: pairs kept aside after
// refused saves, Logout while the store is busy, 424 step-ups,
// stale-while-revalidate and the failure memory. Public API only; the
// harness (atkEnv, failingStorage, blockingLoad, bearerGet, serverExp, ...)
// is store_hostile_test.go's. Each test asserts a documented guarantee and
// fails when it is broken.

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tarilabs/userauth"
	"github.com/tarilabs/userauth/userauthtest"
)

// refusingStorage is a MemoryStorage (its Locker included) with knobs: refused
// saves, a read-only mode (Save and Clear refused, Load works), and Loads
// or Saves that block until their context ends.
type refusingStorage struct {
	*userauth.MemoryStorage
	saveBudget
	readOnly    atomic.Bool // Save and Clear are refused
	blockLoad   atomic.Bool // the next Load blocks until its context ends
	blockSaves  atomic.Bool // every Save blocks until its context ends
	loadBlocked atomic.Bool
	saveBlocked atomic.Bool
	failClears  atomic.Int32 // the next n clears are refused
	saves       atomic.Int32
	clears      atomic.Int32
}

func newRefusingStorage() *refusingStorage {
	return &refusingStorage{MemoryStorage: userauth.NewMemoryStorage()}
}

var bobLogin = userauth.LoginRequest{Email: "bob@attack.test", Password: "pw-bob-SECRET-3"}

var errRefused = errors.New("attack: saving tokens: no space left on device")

func (s *refusingStorage) Load(ctx context.Context) (*userauth.Record, error) {
	if s.blockLoad.CompareAndSwap(true, false) {
		s.loadBlocked.Store(true)
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return s.MemoryStorage.Load(ctx)
}

func (s *refusingStorage) Save(ctx context.Context, t *userauth.Record) error {
	if t.Token == nil { // a logout's (or an ended session's) record: what was a Clear
		s.clears.Add(1)
		if s.failClears.Add(-1) >= 0 {
			return errors.New("attack: clearing tokens: device busy")
		}
		s.failClears.Store(0)
	} else {
		s.saves.Add(1)
	}
	if s.blockSaves.Load() {
		s.saveBlocked.Store(true)
		<-ctx.Done()
		return ctx.Err()
	}
	if s.readOnly.Load() {
		return errors.New("attack: saving tokens: read-only file system")
	}
	if t.Token != nil && s.refuse() {
		return errRefused
	}
	return s.MemoryStorage.Save(ctx, t)
}

// refuseClears has the storage refuse the next write of a record without
// a pair (a logout's), every attempt the store makes at it.
func (s *refusingStorage) refuseClears() { s.failClears.Store(3) }

// stored is what the storage holds, bypassing the knobs.
func (s *refusingStorage) stored(t *testing.T) *userauth.Token {
	t.Helper()
	tok, err := loadPair(context.Background(), s.MemoryStorage)
	require.NoError(t, err)
	return tok
}

// ---------------------------------------------------------------------------
// 1. Pairs kept aside after a refused save

// TestHostileStoreLogoutElsewhereWhileAPairIsAside: store A refreshes and
// storage refuses the new pair (all three attempts); A clears the spent
// pair and keeps the new one aside. Store B, sharing the storage, then
// logs out. A's next renewal finds the storage empty, which it cannot
// tell from its own Clear, and writes its pair back (RELIABILITY.md,
// "A pair kept aside"). After Logout the server has revoked that pair:
// it must not work, and B's next call must end in ErrLoginRequired, with
// no refresh token presented twice. After LogoutLocal the pair is valid
// and A goes on with it: the documented limit; still no token is
// presented twice.
func TestHostileStoreLogoutElsewhereWhileAPairIsAside(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"LogoutLocal", "Logout"} {
		t.Run(how, func(t *testing.T) {
			e := newAtkEnv(t)
			ctx := context.Background()
			storage := newRefusingStorage()
			a, b := e.sharedSession(t, storage)

			storage.refuseSaves(1, 3) // the spending record is written; every attempt to save the new pair is refused
			_, err := a.Refresh(ctx)
			require.ErrorIs(t, err, errRefused, "Refresh says storage refused the pair it keeps here")
			rec, err := storage.Load(ctx)
			require.NoError(t, err)
			require.Equal(t, userauth.PhaseSpending, rec.Phase, "storage says the spent token is in flight")

			if how == "Logout" {
				require.NoError(t, b.Logout(ctx))
			} else {
				require.NoError(t, b.LogoutLocal(ctx))
			}
			e.srv.Advance(2 * time.Second) // past A's failure memory
			_, errA := a.Refresh(ctx)      // A's unsaved pair is older than the logout's record
			require.ErrorIs(t, errA, userauth.ErrLoginRequired, "the logout wins: A's pair is never written back")
			assert.Nil(t, storage.stored(t))
			assertLoggedOut(t, e, b)
			e.quiesce()
			assert.Equal(t, 0, e.srv.ReuseDetected())
		})
	}
}

// TestHostileStoreLogoutAfterABusyAsidePair: store A holds a pair aside
// (its save was refused, the storage cleared). A renewal then gets stuck
// (the storage's Load hangs). A Logout with a short context gives up and
// changes nothing; once the renewal has ended, Logout succeeds, and the
// aside pair never comes back: the store stays logged out and storage
// empty.
func TestHostileStoreLogoutAfterABusyAsidePair(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := newRefusingStorage()
	a := e.store(t, storage, userauth.WithRefreshTimeout(time.Second))
	_, err := a.Login(ctx, atkAnn)
	require.NoError(t, err)

	storage.refuseSaves(1, 3)
	_, err = a.Refresh(ctx)
	require.ErrorIs(t, err, errRefused, "the rotated pair is kept here, unsaved")
	e.srv.Advance(2 * time.Second)

	storage.blockLoad.Store(true)
	renewal := make(chan error, 1)
	go func() { _, err := a.Refresh(ctx); renewal <- err }() // stuck in newestPair's Load
	require.Eventually(t, storage.loadBlocked.Load, 5*time.Second, time.Millisecond)
	lctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, a.Logout(lctx), context.DeadlineExceeded)
	<-renewal

	require.NoError(t, a.Logout(ctx))
	assert.Nil(t, storage.stored(t))
	e.srv.Advance(2 * time.Second)
	_, err = a.AccessToken(ctx)
	assert.ErrorIs(t, err, userauth.ErrLoginRequired, "the store is logged in again after Logout")
	_, err = a.Refresh(ctx)
	assert.ErrorIs(t, err, userauth.ErrLoginRequired)
	e.quiesce()
	assert.Nil(t, storage.stored(t), "the aside pair was written back after Logout")
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

// TestHostileStoreOutageWhileAPairIsAside: store A's save is refused (not
// an outage): the new pair waits aside, A's current pair is the spent one.
// Then the storage becomes unreachable (ErrStorageUnavailable, degraded
// mode). A's next renewal renews "the tokens this process holds": it must
// start from the aside pair, never from the spent one, and the session must
// survive the outage.
func TestHostileStoreOutageWhileAPairIsAside(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := &failingStorage{MemoryStorage: userauth.NewMemoryStorage()}
	s := e.annStore(t, storage)
	e.srv.Advance(16 * time.Minute)
	storage.refuseSaves(1, 3) // the spending record is written; the new pair is refused
	_, err := s.AccessToken(ctx)
	require.NoError(t, err, "the rotated pair is kept here, unsaved")
	require.Equal(t, 1, e.srv.Calls(userauthtest.PathRefresh))

	storage.down.Store(true)
	e.srv.Advance(2 * time.Second)
	_, err = s.AccessToken(ctx)
	t.Logf("renewal during the outage: %v", err)
	assert.Equal(t, 0, e.srv.ReuseDetected(), "the spent refresh token was presented again")
	storage.down.Store(false)
	e.srv.Advance(2 * time.Second)
	_, err = s.AccessToken(ctx)
	assert.NoError(t, err, "the session survives")
}

// TestHostileStoreReadOnlyStorageSpendsNothing: a storage that refuses
// every write (a read-only file system: Save and Clear fail, Load works). A
// store that spent the refresh token could neither save the new pair nor
// clear the spent one, and store B would present it again. A renewal must
// learn that storage takes no writes before it spends anything: no refresh,
// no reuse, and the session goes on once storage takes writes again.
func TestHostileStoreReadOnlyStorageSpendsNothing(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := newRefusingStorage()
	a, b := e.sharedSession(t, storage)

	e.srv.Advance(16 * time.Minute)
	storage.readOnly.Store(true)
	_, errA := a.AccessToken(ctx)
	assert.Error(t, errA, "the token expired and cannot be renewed")
	_, errB := b.AccessToken(ctx)
	assert.Error(t, errB)
	assert.Zero(t, e.srv.Calls(userauthtest.PathRefresh), "a refresh token spent while storage takes no writes")

	storage.readOnly.Store(false)
	e.srv.Advance(2 * time.Second) // past the failure memory
	_, errA = a.AccessToken(ctx)
	assert.NoError(t, errA)
	_, errB = b.AccessToken(ctx)
	assert.NoError(t, errB)
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathRefresh))
	assert.Equal(t, 0, e.srv.ReuseDetected(), "a refresh token was presented twice")
}

// ---------------------------------------------------------------------------
// 2. Logout while busy

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

// ---------------------------------------------------------------------------
// 3. 424 step-up

// TestHostileStore424DuringARenewalStepsUp: a 2FA user's token is due and
// its renewal runs behind the callers (held back by the server); the grace
// period is over. A request meets 424: the Transport's doc promises "one
// 2FA step is shared and the request repeated" with a handler. Joining the
// ordinary renewal is not enough: the refreshed token is not stepped up,
// and the request must still end 200.
func TestHostileStore424DuringARenewalStepsUp(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t, userauthtest.WithTwoFactorGrace(time.Minute))
	ctx := context.Background()
	var calls atomic.Int32
	s := e.store(t, nil, userauth.WithTwoFactorHandler(e.handler(&calls)))
	_, err := s.Login(ctx, atkTom)
	require.NoError(t, err)
	e.srv.Advance(15*time.Minute - 10*time.Second) // due; grace over
	e.srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Hold: 500 * time.Millisecond})
	_, err = s.AccessToken(ctx) // the renewal starts behind
	require.NoError(t, err)
	resp, err := s.HTTPClient().Get(e.srv.URL + userauthtest.PathSensitive)
	require.NoError(t, err)
	resp.Body.Close()
	t.Logf("status %d; handler calls after login %d", resp.StatusCode, calls.Load()-1)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "a 424 with a handler: one 2FA step and one repeat")
	e.quiesce()
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

// TestHostileStore424StormAndRefusals: 100 requests meet 424 at once, for three
// grace periods in a row: one 2FA step each, handler once per step. Then a
// step refused 422 (wrong code) and one refused 401: the handler is not
// asked again in a loop.
func TestHostileStore424StormAndRefusals(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t, userauthtest.WithTwoFactorGrace(time.Minute))
	ctx := context.Background()
	var calls atomic.Int32
	var wrong atomic.Bool
	s := e.store(t, nil, userauth.WithTwoFactorHandler(func(ctx context.Context, m userauth.TwoFactorMethod) (string, error) {
		calls.Add(1)
		if wrong.Load() {
			return "000000", nil
		}
		return e.srv.Code(e.secret)
	}))
	_, err := s.Login(ctx, atkTom)
	require.NoError(t, err)
	hc := s.HTTPClient()
	storm := func() map[int]int {
		var mu sync.Mutex
		statuses := map[int]int{}
		var wg sync.WaitGroup
		for range 100 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := hc.Get(e.srv.URL + userauthtest.PathSensitive)
				st := -1
				if err == nil {
					st = resp.StatusCode
					resp.Body.Close()
				}
				mu.Lock()
				statuses[st]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		return statuses
	}
	for round := 1; round <= 3; round++ {
		e.srv.Advance(2 * time.Minute)
		before := calls.Load()
		st := storm()
		assert.Equal(t, map[int]int{200: 100}, st, "round %d", round)
		assert.Equal(t, int32(1), calls.Load()-before, "round %d: handler once per step", round)
	}
	e.srv.Advance(2 * time.Minute)
	wrong.Store(true)
	before := calls.Load()
	st := storm()
	t.Logf("wrong code: %v, handler calls %d", st, calls.Load()-before)
	assert.Equal(t, int32(1), calls.Load()-before, "handler asked once for a storm")
	wrong.Store(false)
	e.srv.Fail(userauthtest.PathTwoFactor, 1, userauthtest.Fault{Status: 401, Body: `{"error":"Invalid refresh token"}`})
	e.srv.Advance(2 * time.Second)
	before = calls.Load()
	st = storm()
	t.Logf("401 on the step: %v, handler calls %d", st, calls.Load()-before)
	assert.Equal(t, int32(1), calls.Load()-before)
	_, err = s.AccessToken(ctx)
	assert.ErrorIs(t, err, userauth.ErrLoginRequired)
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

// ---------------------------------------------------------------------------
// 4. Stale-while-revalidate and the failure memory

// TestHostileStoreOutageWithUnknownExpiryServesCallers: a storage outage
// (degraded mode) and access tokens without exp (an unknown expiry, trusted
// for five minutes). A login kept in memory ("lagging") must be handed out
// to every caller within that trust period, with no refresh.
func TestHostileStoreOutageWithUnknownExpiryServesCallers(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t, userauthtest.WithTokenClaims(func(c map[string]any) { delete(c, "exp") }))
	ctx := context.Background()
	storage := &failingStorage{MemoryStorage: userauth.NewMemoryStorage()}
	s := e.store(t, storage)
	storage.down.Store(true)
	_, err := s.Login(ctx, atkAnn)
	require.NoError(t, err, "degraded: the login is kept in memory")
	failures := 0
	var last error
	for range 20 {
		if _, err := s.AccessToken(ctx); err != nil {
			failures, last = failures+1, err
		}
		e.srv.Advance(100 * time.Millisecond)
	}
	assert.Zero(t, failures, "callers failed (%v) while the token was within its trust period", last)
	assert.Equal(t, 0, e.srv.Calls(userauthtest.PathRefresh))
}

// TestHostileStoreRenewalFailureServesTheValidStoredToken: store A's own
// token has expired; storage holds a newer pair that store B saved, 10 s
// from expiry, and the server fails every refresh (500). A's callers must
// get that valid token, not the failure (Token's doc: "When such a failure
// hits a token that has not expired yet, the token is returned instead").
func TestHostileStoreRenewalFailureServesTheValidStoredToken(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := userauth.NewMemoryStorage()
	a, b := e.store(t, storage), e.store(t, storage)
	_, err := a.Login(ctx, atkAnn)
	require.NoError(t, err)
	_, err = a.AccessToken(ctx)
	require.NoError(t, err)
	e.srv.Advance(5 * time.Minute)
	s2, err := b.Refresh(ctx) // B renews; A does not look
	require.NoError(t, err)
	e.srv.Advance(serverExp(t, s2.AccessToken).Sub(e.srv.Now()) - 10*time.Second)
	e.srv.Fail(userauthtest.PathRefresh, 10, userauthtest.Fault{Status: 500})
	tok, err := a.AccessToken(ctx)
	t.Logf("A: %v; refreshes %d; calls %v", err, e.srv.Calls(userauthtest.PathRefresh), e.srv.AllCalls())
	assert.NoError(t, err, "A failed while storage held a token valid 10 s more")
	if err == nil {
		assert.True(t, serverExp(t, tok).After(e.srv.Now()))
	}
}

// TestHostileStoreSaveFailureForeverServesUntilExpiry: storage refuses every
// save for good. Callers are served the rotated pair, kept unsaved, until
// it expires, then get storage's error; its refresh token is not spent
// while it is unsaved, even once it has expired; storage holds the spending
// record meanwhile. When storage takes saves again the pair is written
// back, then renewed once.
func TestHostileStoreSaveFailureForeverServesUntilExpiry(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := newRefusingStorage()
	s := e.store(t, storage)
	first, err := s.Login(ctx, atkAnn)
	require.NoError(t, err)
	e.srv.Advance(15*time.Minute - 20*time.Second) // due
	storage.refuseSaves(1, 1<<30)                  // the spending record is written, then storage refuses every save
	served := map[string]bool{}
	for i := range 30 {
		tok, err := s.AccessToken(ctx)
		if assert.NoError(t, err, "call %d: a valid token is served", i) {
			served[tok] = true
		}
		e.srv.Advance(500 * time.Millisecond)
		time.Sleep(5 * time.Millisecond)
	}
	e.quiesce()
	assert.Len(t, served, 2, "the due token, then the rotated one")
	assert.True(t, served[first.AccessToken])
	rec, err := storage.MemoryStorage.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, userauth.PhaseSpending, rec.Phase)
	e.srv.Advance(20 * time.Minute) // the rotated pair expired too
	for range 5 {
		e.srv.Advance(2 * time.Second)
		_, err = s.AccessToken(ctx)
		assert.ErrorIs(t, err, errRefused)
	}
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathRefresh), "the unsaved pair's refresh token is not spent")
	storage.refuseSaves(0, 0)
	e.srv.Advance(2 * time.Second)
	tok, err := s.AccessToken(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, e.srv.Calls(userauthtest.PathRefresh), "the expired aside pair, saved, renewed once")
	assert.Equal(t, http.StatusOK, bearerGet(t, e, tok, userauthtest.PathAccount))
	assert.Equal(t, tok, storage.stored(t).AccessToken)
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

// TestHostileStoreOpsWhileAPairIsAside: with a pair kept aside in this store,
// each of Logout, LogoutLocal, Login, SetToken, Refresh and
// CompleteTwoFactor does what it says, and the aside pair never comes
// back after it.
func TestHostileStoreOpsWhileAPairIsAside(t *testing.T) {
	t.Parallel()
	ops := map[string]func(t *testing.T, e *atkEnv, s *userauth.TokenStore, storage *refusingStorage){
		"Logout": func(t *testing.T, e *atkEnv, s *userauth.TokenStore, storage *refusingStorage) {
			require.NoError(t, s.Logout(context.Background()))
			assert.Nil(t, storage.stored(t))
			e.srv.Advance(2 * time.Second)
			_, err := s.Refresh(context.Background())
			assert.ErrorIs(t, err, userauth.ErrLoginRequired)
		},
		"LogoutLocal": func(t *testing.T, e *atkEnv, s *userauth.TokenStore, storage *refusingStorage) {
			require.NoError(t, s.LogoutLocal(context.Background()))
			e.srv.Advance(2 * time.Second)
			_, err := s.Refresh(context.Background())
			assert.ErrorIs(t, err, userauth.ErrLoginRequired)
			assert.Nil(t, storage.stored(t))
		},
		"Login": func(t *testing.T, e *atkEnv, s *userauth.TokenStore, storage *refusingStorage) {
			_, err := s.Login(context.Background(), bobLogin)
			require.NoError(t, err)
			e.srv.Advance(2 * time.Second)
			got, err := s.Refresh(context.Background())
			require.NoError(t, err)
			assert.Equal(t, bobLogin.Email, claims(t, got.AccessToken)["email"])
			assert.Equal(t, got.RefreshToken, storage.stored(t).RefreshToken)
		},
		"SetToken": func(t *testing.T, e *atkEnv, s *userauth.TokenStore, storage *refusingStorage) {
			resp, err := e.client.Login(context.Background(), bobLogin)
			require.NoError(t, err)
			_, err = s.SetToken(context.Background(), resp)
			require.NoError(t, err)
			e.srv.Advance(2 * time.Second)
			got, err := s.Token(context.Background())
			require.NoError(t, err)
			assert.Equal(t, resp.AccessToken, got.AccessToken)
			assert.Equal(t, resp.RefreshToken, storage.stored(t).RefreshToken)
		},
		"Refresh": func(t *testing.T, e *atkEnv, s *userauth.TokenStore, storage *refusingStorage) {
			e.srv.Advance(2 * time.Second)
			got, err := s.Refresh(context.Background())
			require.NoError(t, err)
			assert.Equal(t, 1, e.srv.Calls(userauthtest.PathRefresh), "the aside pair is saved, not renewed again")
			assert.Equal(t, got.RefreshToken, storage.stored(t).RefreshToken)
		},
		"CompleteTwoFactor": func(t *testing.T, e *atkEnv, s *userauth.TokenStore, storage *refusingStorage) {
			e.srv.Advance(2 * time.Second)
			_, err := s.CompleteTwoFactor(context.Background(), "000000")
			t.Logf("CompleteTwoFactor on ann's complete session: %v", err)
			got, err := s.Token(context.Background())
			require.NoError(t, err)
			assert.Equal(t, got.RefreshToken, storage.stored(t).RefreshToken, "the aside pair was saved by the step")
		},
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			e := newAtkEnv(t)
			_, err := e.srv.AddUser(userauthtest.User{Email: bobLogin.Email, Password: bobLogin.Password})
			require.NoError(t, err)
			storage := newRefusingStorage()
			s := e.store(t, storage)
			_, err = s.Login(context.Background(), atkAnn)
			require.NoError(t, err)
			storage.refuseSaves(1, 3)
			_, err = s.Refresh(context.Background())
			require.ErrorIs(t, err, errRefused)
			op(t, e, s, storage)
			e.quiesce()
			assert.Equal(t, 0, e.srv.ReuseDetected())
		})
	}
}

// TestHostileStoreAsidePairAndARefusedLogin: store A keeps a renewed pair
// unsaved (storage refused it, and holds A's spending record meanwhile);
// store B's Login is refused too, which spent nothing, so B keeps nothing
// of it. Whichever renews first, the stores end on A's pair, the one
// storage then holds: B, first, is served the valid token A spends. No
// refresh token is presented twice.
func TestHostileStoreAsidePairAndARefusedLogin(t *testing.T) {
	t.Parallel()
	for _, aFirst := range []bool{true, false} {
		e := newAtkEnv(t)
		ctx := context.Background()
		storage := newRefusingStorage()
		a, b := e.sharedSession(t, storage)
		storage.refuseSaves(1, 3)
		_, err := a.Refresh(ctx)
		require.ErrorIs(t, err, errRefused)
		storage.refuseSaves(0, 3)
		_, err = b.Login(ctx, atkAnn)
		require.ErrorIs(t, err, errRefused)
		e.srv.Advance(2 * time.Second)
		if aFirst {
			_, err = a.Refresh(ctx)
			require.NoError(t, err)
			_, err = b.Refresh(ctx)
			require.NoError(t, err)
		} else {
			_, err = b.Refresh(ctx)
			require.NoError(t, err, "A's renewal is in flight: B is served the valid token it spends")
			_, err = a.Refresh(ctx)
			require.NoError(t, err)
			e.srv.Advance(2 * time.Second)
			_, err = b.Refresh(ctx)
			require.NoError(t, err, "B finds A's pair")
		}
		ta, err := a.Token(ctx)
		require.NoError(t, err)
		tb, err := b.Token(ctx)
		require.NoError(t, err)
		assert.Equal(t, ta.RefreshToken, tb.RefreshToken)
		assert.Equal(t, ta.RefreshToken, storage.stored(t).RefreshToken)
		e.srv.Advance(16 * time.Minute)
		_, err = a.AccessToken(ctx)
		require.NoError(t, err)
		_, err = b.AccessToken(ctx)
		require.NoError(t, err)
		assert.Equal(t, 0, e.srv.ReuseDetected())
	}
}

// completeRefusing refuses, n times, to save a complete pair (the answer
// of a 2FA step), as a storage may refuse any one write.
type completeRefusing struct {
	*userauth.MemoryStorage
	n atomic.Int32
}

func (c *completeRefusing) Save(ctx context.Context, t *userauth.Record) error {
	if t.Phase == userauth.PhaseActive && c.n.Add(-1) >= 0 {
		return errRefused
	}
	return c.MemoryStorage.Save(ctx, t)
}

// TestHostileStoreTwoFactorStepWhoseSaveFails: a Login's 2FA step is answered,
// and storage refuses the complete pair. The step's answer is kept unsaved
// and written back by the next renewal: the handler is not asked again,
// the partial token is never handed out, and no refresh token is reused.
func TestHostileStoreTwoFactorStepWhoseSaveFails(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t, userauthtest.WithTwoFactorGrace(time.Minute))
	ctx := context.Background()
	storage := &completeRefusing{MemoryStorage: userauth.NewMemoryStorage()}
	var calls atomic.Int32
	s := e.store(t, storage, userauth.WithTwoFactorHandler(e.handler(&calls)))
	other := e.store(t, storage) // no handler
	storage.n.Store(3)
	_, err := s.Login(ctx, atkTom)
	require.ErrorIs(t, err, errRefused)
	_, err = other.AccessToken(ctx)
	assert.ErrorIs(t, err, userauth.ErrStorageUnavailable, "storage says the step is in flight; nothing to hand out")
	tok, err := s.AccessToken(ctx)
	require.NoError(t, err, "the step's answer, kept unsaved, is served and written back behind")
	assert.Equal(t, "ok", claims(t, tok)["2fa"])
	assert.Equal(t, int32(1), calls.Load(), "handler asked once")
	e.srv.Advance(2 * time.Second) // past other's failure memory
	require.Eventually(t, func() bool { _, err := other.AccessToken(ctx); return err == nil }, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, 0, e.srv.Calls(userauthtest.PathRefresh))
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

// ---------------------------------------------------------------------------
// Basics, again, with hundreds of goroutines

// TestHostileStoreBasicsUnderRace: 3 stores on one MemoryStorage, 100 goroutines
// each, through AccessToken, Token and the Transport,
// over expiries, due windows and 401s: one refresh per expiry, no reuse,
// no deadlock; goroutines settle back; no secret in the logs.
func TestHostileStoreBasicsUnderRace(t *testing.T) {
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := userauth.NewMemoryStorage()
	var stores []*userauth.TokenStore
	for range 3 {
		stores = append(stores, e.store(t, storage))
	}
	first, err := stores[0].Login(ctx, atkAnn)
	require.NoError(t, err)
	secrets := []string{first.AccessToken, first.RefreshToken, atkAnn.Password}
	baseline := runtime.NumGoroutine()
	for round := 1; round <= 6; round++ {
		switch round % 3 {
		case 0:
			e.srv.ExpireAccessTokens()
		case 1:
			e.srv.Advance(16 * time.Minute)
		case 2:
			e.srv.Advance(15*time.Minute - 10*time.Second) // due
		}
		var wg sync.WaitGroup
		for _, s := range stores {
			hc := s.HTTPClient()
			for i := range 100 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					switch i % 3 {
					case 0:
						tok, err := s.AccessToken(ctx)
						assert.NoError(t, err)
						_ = tok
					case 1:
						_, err := s.Token(ctx)
						assert.NoError(t, err)
					default:
						resp, err := hc.Get(e.srv.URL + userauthtest.PathAccount)
						if assert.NoError(t, err) {
							resp.Body.Close()
							assert.Equal(t, http.StatusOK, resp.StatusCode)
						}
					}
				}()
			}
		}
		wg.Wait()
		e.quiesce()
		assert.Equal(t, round, e.srv.Calls(userauthtest.PathRefresh), "round %d: one refresh", round)
		if tok, _ := loadPair(ctx, storage); tok != nil {
			secrets = append(secrets, tok.AccessToken, tok.RefreshToken)
		}
	}
	assert.Equal(t, 0, e.srv.ReuseDetected())
	e.srv.Client().CloseIdleConnections()
	assert.Eventually(t, func() bool { return runtime.NumGoroutine() <= baseline+2 }, 5*time.Second, 10*time.Millisecond,
		"goroutines: %d, baseline %d", runtime.NumGoroutine(), baseline)
	logs := e.logs.String()
	for _, sec := range secrets {
		assert.NotContains(t, logs, sec)
	}
}

// TestHostileStoreNoGoroutineLeftAfterAsideAndBusyLogout: refused saves, a
// stuck renewal, a busy logout, 424 steps, held answers: once settled, no
// goroutine of the store is left.
func TestHostileStoreNoGoroutineLeftAfterAsideAndBusyLogout(t *testing.T) {
	opts := []goleak.Option{goleak.IgnoreCurrent()}
	e := newAtkEnv(t, userauthtest.WithTwoFactorGrace(time.Minute))
	ctx := context.Background()
	storage := newRefusingStorage()
	var calls atomic.Int32
	s := e.store(t, storage, userauth.WithTwoFactorHandler(e.handler(&calls)), userauth.WithRefreshTimeout(time.Second))
	_, err := s.Login(ctx, atkTom)
	require.NoError(t, err)
	e.srv.Advance(15*time.Minute - 10*time.Second)
	storage.refuseSaves(1, 3)
	for range 50 {
		_, _ = s.AccessToken(ctx)
	}
	e.quiesce()
	e.srv.Advance(2 * time.Second)
	resp, err := s.HTTPClient().Get(e.srv.URL + userauthtest.PathSensitive)
	if err == nil {
		resp.Body.Close()
	}
	e.srv.Advance(time.Minute)
	e.srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Hang: true})
	go func() { _, _ = s.AccessToken(ctx) }()
	time.Sleep(100 * time.Millisecond)
	lctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_ = s.Logout(lctx)
	cancel()
	time.Sleep(1500 * time.Millisecond)
	e.quiesce()
	e.srv.Close()
	e.srv.Client().CloseIdleConnections()
	goleak.VerifyNone(t, opts...)
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

// TestHostileStoreChaosOfAsidePairsAndBusyLogouts: four stores on one
// storage that refuses saves now and then; 40 goroutines race Login,
// Refresh, Logout and LogoutLocal with short contexts, held and hung
// answers, expiries and 401s, for 4 s. Nothing panics or deadlocks, and no
// refresh token is presented twice.
func TestHostileStoreChaosOfAsidePairsAndBusyLogouts(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	storage := newRefusingStorage()
	var stores []*userauth.TokenStore
	for range 4 {
		// A refresh timeout well above the held answers: a refresh the server
		// acted on and the store never heard of is a known ambiguity, not
		// what this test is after.
		stores = append(stores, e.store(t, storage, userauth.WithRefreshTimeout(3*time.Second)))
	}
	e.chaos(t, stores, 40, 11, 150*time.Millisecond,
		func(r *rand.Rand, _ context.Context, _ *userauth.TokenStore) {
			storage.refuseSaves(r.IntN(2), r.IntN(4))
		},
		func(r *rand.Rand, _ context.Context, _ *userauth.TokenStore) {
			e.srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Hold: time.Duration(r.IntN(400)) * time.Millisecond})
		},
		func(*rand.Rand, context.Context, *userauth.TokenStore) { e.srv.Advance(2 * time.Second) },
	)
}

// TestHostileStoreTwoRenewalsDuringAnOutageNeverRespend: storage is
// unavailable (degraded mode) across two renewals, so both pairs lag.
// When storage returns, the store saves its newest pair: storage still
// holds the pair from before the outage, which is no other process's.
func TestHostileStoreTwoRenewalsDuringAnOutageNeverRespend(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := &failingStorage{MemoryStorage: userauth.NewMemoryStorage()}
	s := e.annStore(t, storage)
	storage.down.Store(true)
	for range 2 {
		e.srv.Advance(16 * time.Minute)
		_, err := s.AccessToken(ctx)
		require.NoError(t, err, "degraded: the store renews the pair it holds")
		e.quiesce()
	}
	require.Equal(t, 2, e.srv.Calls(userauthtest.PathRefresh))
	storage.down.Store(false)
	e.srv.Advance(2 * time.Second) // past the failure memory
	_, _ = s.AccessToken(ctx)      // the lagging pair is saved at this renewal
	e.quiesce()
	e.srv.Advance(16 * time.Minute)
	_, err := s.AccessToken(ctx)
	assert.NoError(t, err, "the session survives the outage")
	e.quiesce()
	assert.Equal(t, 0, e.srv.ReuseDetected(), "a spent refresh token was presented again")
}

// TestHostileStoreAsidePairSurvivesAnOutage: a renewal's new pair is
// refused by storage (kept unsaved; storage holds the spending record),
// then storage becomes unavailable. When storage returns, the pair is
// written back and the session goes on.
func TestHostileStoreAsidePairSurvivesAnOutage(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := &failingStorage{MemoryStorage: userauth.NewMemoryStorage()}
	s := e.annStore(t, storage)
	e.srv.Advance(16 * time.Minute)
	storage.refuseSaves(1, 3)
	_, err := s.AccessToken(ctx)
	require.NoError(t, err, "the rotated pair is kept unsaved, and served")

	storage.down.Store(true)
	e.srv.Advance(2 * time.Second)
	_, err = s.AccessToken(ctx)
	require.NoError(t, err)
	storage.down.Store(false)
	e.srv.Advance(2 * time.Second)
	tok, err := s.AccessToken(ctx)
	assert.NoError(t, err, "the session survives the outage")
	require.Eventually(t, func() bool {
		saved := mustLoad(t, storage.MemoryStorage)
		return saved != nil && saved.AccessToken == tok
	}, 5*time.Second, 5*time.Millisecond, "the unsaved pair is written back")
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

// TestHostileStoreRefusedLoginThenLogoutRevokesTheSessionServed: ann's
// session is in use; Login(bob) fails as storage refuses the new pair. The
// store goes on serving ann's session, and Logout revokes it.
func TestHostileStoreRefusedLoginThenLogoutRevokesTheSessionServed(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	_, err := e.srv.AddUser(userauthtest.User{Email: bobLogin.Email, Password: bobLogin.Password})
	require.NoError(t, err)
	storage := newRefusingStorage()
	s := e.annStore(t, storage)
	annAccess, err := s.AccessToken(ctx)
	require.NoError(t, err)

	storage.refuseSaves(0, 3)
	_, err = s.Login(ctx, bobLogin)
	require.ErrorIs(t, err, errRefused)
	got, err := s.AccessToken(ctx)
	require.NoError(t, err)
	t.Logf("after the failed login the store serves %v's token; storage holds %v", claims(t, got)["email"], storage.stored(t))

	require.NoError(t, s.Logout(ctx))
	assert.Equal(t, http.StatusUnauthorized, bearerGet(t, e, annAccess, userauthtest.PathAccount),
		"Logout returned nil, and the access token the store handed out still opens ann's account")
}

// TestHostileStoreRefusedLoginNeverBecomesTheSession: Login(bob) fails as
// storage refuses the pair. A login spends no refresh token: ann's pair
// stays in storage for the processes sharing it, and the store never
// switches to bob's session later.
func TestHostileStoreRefusedLoginNeverBecomesTheSession(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	_, err := e.srv.AddUser(userauthtest.User{Email: bobLogin.Email, Password: bobLogin.Password})
	require.NoError(t, err)
	storage := newRefusingStorage()
	s := e.annStore(t, storage)

	storage.refuseSaves(0, 3)
	_, err = s.Login(ctx, bobLogin)
	require.ErrorIs(t, err, errRefused)
	assert.NotNil(t, storage.stored(t), "ann's unspent pair was cleared from storage by a failed Login")
	e.srv.Advance(16 * time.Minute)
	got, err := s.AccessToken(ctx)
	if err == nil {
		assert.NotEqual(t, bobLogin.Email, claims(t, got)["email"], "a Login that failed became the session")
	}
}

// TestHostileStoreFirstLoginDuringAnOutageAcrossALogoutEndsAtFirstUse: a
// store that has read no session (a replica that just started) logs ann in
// while storage is unavailable; storage returns, and another store logs
// out. Nothing tells the logout's empty storage from one that held nothing
// (RELIABILITY.md, known limits): the login is saved at the next renewal.
// The server revoked ann's tokens at the logout, so its first use ends in
// ErrLoginRequired, and storage is empty again.
func TestHostileStoreFirstLoginDuringAnOutageAcrossALogoutEndsAtFirstUse(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := &failingStorage{MemoryStorage: userauth.NewMemoryStorage()}
	a := e.annStore(t, storage)
	c := e.store(t, storage) // a new replica

	storage.down.Store(true)
	_, err := c.Login(ctx, atkAnn)
	require.NoError(t, err, "degraded: the login is kept in memory")
	storage.down.Store(false)

	require.NoError(t, a.Logout(ctx))
	require.Nil(t, mustLoad(t, storage.MemoryStorage))

	_, _ = c.AccessToken(ctx) // c's lagging pair is saved at the next renewal
	e.quiesce()
	resp, err := c.HTTPClient().Get(e.srv.URL + userauthtest.PathAccount)
	if err == nil {
		resp.Body.Close()
	}
	t.Logf("first use: %v", err)
	require.ErrorIs(t, err, userauth.ErrLoginRequired, "the login saved after the logout was revoked by it")
	assert.Nil(t, mustLoad(t, storage.MemoryStorage))
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

// TestHostileStoreEndedLaggingPairNeverRespendsItsParent: during an
// outage the store renews P0 into P1, which lags (storage still holds P0,
// spent). P1's refresh is answered 2xx but cut short, ending the session,
// and the clear fails as storage is down. When storage returns, the store
// never presents P0's refresh token, which it spent itself.
func TestHostileStoreEndedLaggingPairNeverRespendsItsParent(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := &failingStorage{MemoryStorage: userauth.NewMemoryStorage()}
	s := e.annStore(t, storage)

	storage.down.Store(true)
	e.srv.Advance(16 * time.Minute)
	_, err := s.AccessToken(ctx)
	require.NoError(t, err, "degraded: P0 renewed into a lagging P1")
	e.quiesce()
	require.Equal(t, 1, e.srv.Calls(userauthtest.PathRefresh))

	e.srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Truncate: true})
	e.srv.Advance(16 * time.Minute)
	_, err = s.AccessToken(ctx)
	require.ErrorIs(t, err, userauth.ErrLoginRequired, "P1 spent, its successor lost")
	require.Equal(t, 2, e.srv.Calls(userauthtest.PathRefresh))

	storage.down.Store(false)
	e.srv.Advance(2 * time.Second)
	_, err = s.AccessToken(ctx)
	t.Logf("after the outage: %v", err)
	e.quiesce()
	assert.Equal(t, 2, e.srv.Calls(userauthtest.PathRefresh), "a refresh token was presented after the session ended")
	assert.Equal(t, 0, e.srv.ReuseDetected(), "the store presented P0, which it spent itself during the outage")
}

// TestHostileStoreLoginDuringAnOutageWinsOverARenewalOfTheOldSession:
// stores A and B share ann's session; storage goes down. B renews ann's
// pair (lagging), then A logs bob in (lagging too). When storage returns
// and B saves first, A's login still replaces ann's session, as it would
// have with storage up.
func TestHostileStoreLoginDuringAnOutageWinsOverARenewalOfTheOldSession(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	_, err := e.srv.AddUser(userauthtest.User{Email: bobLogin.Email, Password: bobLogin.Password})
	require.NoError(t, err)
	storage := &failingStorage{MemoryStorage: userauth.NewMemoryStorage()}
	a, b := e.sharedSession(t, storage)

	storage.down.Store(true)
	e.srv.Advance(16 * time.Minute)
	_, err = b.AccessToken(ctx)
	require.NoError(t, err, "degraded: B renews ann's pair")
	e.quiesce()
	_, err = a.Login(ctx, bobLogin)
	require.NoError(t, err, "degraded: A's login is kept in memory")

	storage.down.Store(false)
	e.srv.Advance(2 * time.Second)
	_, _ = b.AccessToken(ctx) // B's lagging pair is saved first
	e.quiesce()
	_, _ = a.AccessToken(ctx) // A's lagging login is flushed
	e.quiesce()

	got, err := a.AccessToken(ctx)
	require.NoError(t, err)
	assert.Equal(t, bobLogin.Email, claims(t, got)["email"], "Login(bob) returned nil, and the store now serves another user's session")
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

// TestHostileStoreLaggingLoginRefusedAtFlushLeavesTheLiveSession: A and B
// share ann's pair; A logs bob in during an outage (lagging, nothing
// spent). Storage returns but refuses A's save: ann's unspent pair stays
// in storage, and B goes on with it.
func TestHostileStoreLaggingLoginRefusedAtFlushLeavesTheLiveSession(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	_, err := e.srv.AddUser(userauthtest.User{Email: bobLogin.Email, Password: bobLogin.Password})
	require.NoError(t, err)
	storage := &failingStorage{MemoryStorage: userauth.NewMemoryStorage()}
	a, b := e.sharedSession(t, storage)
	annPair := mustLoad(t, storage.MemoryStorage)

	storage.down.Store(true)
	_, err = a.Login(ctx, bobLogin)
	require.NoError(t, err, "degraded: A's login is kept in memory")
	storage.down.Store(false)
	storage.refuseSaves(0, 3)
	e.srv.Advance(2 * time.Second)
	_, _ = a.AccessToken(ctx) // A's flush: the save of bob's pair is refused
	e.quiesce()

	stored := mustLoad(t, storage.MemoryStorage)
	assert.NotNil(t, stored, "a login (which spends nothing) cleared ann's unspent pair from storage")
	if stored != nil {
		assert.Equal(t, annPair.RefreshToken, stored.RefreshToken)
	}
	e.srv.Advance(16 * time.Minute)
	_, err = b.AccessToken(ctx)
	assert.NoError(t, err, "B's live session was dropped: ErrLoginRequired although B can renew")
	e.quiesce()
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

// TestHostileStoreSetTokenGivenUpWhileWaitingNeverBecomesTheSession: a
// renewal holds the store's lock; SetToken gives up while it waits for the
// lock. Its pair never becomes the session: it had not started.
func TestHostileStoreSetTokenGivenUpWhileWaitingNeverBecomesTheSession(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	_, err := e.srv.AddUser(userauthtest.User{Email: bobLogin.Email, Password: bobLogin.Password})
	require.NoError(t, err)
	storage := userauth.NewMemoryStorage()
	s := e.annStore(t, storage)
	bob, err := e.client.Login(ctx, bobLogin)
	require.NoError(t, err)

	e.srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Hold: 400 * time.Millisecond})
	renewal := make(chan error, 1)
	go func() { _, err := s.Refresh(ctx); renewal <- err }()
	require.Eventually(t, func() bool { return e.srv.Calls(userauthtest.PathRefresh) == 1 }, 5*time.Second, time.Millisecond)

	sctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = s.SetToken(sctx, bob)
	require.ErrorIs(t, err, context.DeadlineExceeded, "SetToken gave up behind the renewal")
	require.NoError(t, <-renewal)
	e.quiesce()
	time.Sleep(100 * time.Millisecond)

	got, err := s.AccessToken(ctx)
	require.NoError(t, err)
	assert.NotEqual(t, bobLogin.Email, claims(t, got)["email"], "SetToken returned an error, and its pair became the session")
	stored := mustLoad(t, storage)
	assert.NotEqual(t, bob.RefreshToken, stored.RefreshToken, "SetToken returned an error, and its pair was saved")
}
