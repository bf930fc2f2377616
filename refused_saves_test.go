package userauth_test

// Storage that refuses writes, or holds a renewal's pair unsaved: what the
// store keeps, hands out and writes back, and what other stores never do.
// The harness (atkEnv, failingStorage, ...) is store_hostile_test.go's.

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
