package userauth_test

// Stale-while-revalidate and the failure memory: due tokens served at
// once, failing servers and storages not hammered.

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tarilabs/userauth"
	"github.com/tarilabs/userauth/userauthtest"
)

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
