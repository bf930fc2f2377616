package userauth_test

// Logout against a hostile world: a renewal of this store under way, a
// Locker held by another process, contexts that end, Clears that fail,
// logins answered across a logout. Public API only; the harness (atkEnv,
// refusingStorage, assertLoggedOut, mustLoad, ...) is store_hostile_test.go's
// and refused_saves_test.go's.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
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

// tokenNotes records OnTokenChange calls; a zero Token is a logout.
type tokenNotes struct {
	mu    sync.Mutex
	toks  []userauth.Token
	delay time.Duration // each zero-Token call takes this long (a quick DB write)
}

func (n *tokenNotes) f(t userauth.Token) {
	n.mu.Lock()
	n.toks = append(n.toks, t)
	n.mu.Unlock()
	if t.AccessToken == "" && n.delay > 0 {
		time.Sleep(n.delay)
	}
}

func (n *tokenNotes) since(i int) []userauth.Token {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]userauth.Token(nil), n.toks[i:]...)
}

func (n *tokenNotes) len() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.toks)
}

// TestHostileStoreLogoutWithAnEndedContextChangesNothing: the store's
// renewal is stuck on a refresh the server never acted on, and Logout is
// called with a context already cancelled. Logout "returns the context's
// error and changes nothing": storage still holds the session, and nothing
// is asked of the server.
func TestHostileStoreLogoutWithAnEndedContextChangesNothing(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := userauth.NewMemoryStorage()
	s := e.store(t, storage, userauth.WithRefreshTimeout(2*time.Second)) // the hung refresh gives up then
	_, err := s.Login(ctx, atkAnn)
	require.NoError(t, err)

	e.srv.Advance(16 * time.Minute)
	e.srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Hang: true})
	renewal := make(chan error, 1)
	go func() { _, err := s.AccessToken(ctx); renewal <- err }()
	require.Eventually(t, func() bool { return e.srv.Calls(userauthtest.PathRefresh) == 1 }, 5*time.Second, time.Millisecond)

	dead, cancel := context.WithCancel(ctx)
	cancel()
	err = s.Logout(dead)
	require.ErrorIs(t, err, context.Canceled)
	select {
	case rerr := <-renewal:
		t.Logf("the renewal under way: %v", rerr)
	case <-time.After(10 * time.Second):
	}
	e.quiesce()
	assert.NotNil(t, mustLoad(t, storage), "a Logout that returned context.Canceled cleared the session")
	assert.Zero(t, e.srv.Calls(userauthtest.PathLogout))
}

// TestHostileStoreLogoutAfterAHungRenewalRevokes: the store's token expired
// and its renewal hangs on a server that never acted on the refresh. Logout
// waits for the renewal to give up, then revokes the session: the refresh
// token no longer works on the server, or Logout says ErrNotRevoked.
func TestHostileStoreLogoutAfterAHungRenewalRevokes(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := userauth.NewMemoryStorage()
	s := e.store(t, storage, userauth.WithRefreshTimeout(2*time.Second)) // the hung refresh gives up then
	_, err := s.Login(ctx, atkAnn)
	require.NoError(t, err)
	p1 := mustLoad(t, storage)

	e.srv.Advance(16 * time.Minute)
	e.srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Hang: true}) // never acted on
	renewal := make(chan error, 1)
	go func() { _, err := s.AccessToken(ctx); renewal <- err }()
	require.Eventually(t, func() bool { return e.srv.Calls(userauthtest.PathRefresh) == 1 }, 5*time.Second, time.Millisecond)

	err = s.Logout(ctx)
	t.Logf("Logout: %v; the cut renewal: %v; /logout calls %d", err, <-renewal, e.srv.Calls(userauthtest.PathLogout))
	_, rerr := e.client.RefreshToken(ctx, userauth.RefreshRequest{RefreshToken: p1.RefreshToken})
	t.Logf("the refresh token after Logout: %v", rerr)
	if !errors.Is(err, userauth.ErrNotRevoked) {
		assert.Error(t, rerr, "Logout returned %v, yet the session's refresh token still works on the server", err)
	}
}

// TestHostileStoreLogoutAfterARenewalWhoseClearFails: stores A and B share
// a storage; both tokens expired. A's renewal holds the Locker, its refresh
// acted on by the server and the answer held back; B's renewal waits for
// the Locker. A.Logout waits for A's renewal; its Clear then meets a
// passing failure, which it reports. No refresh token is presented twice,
// and the server has revoked the session: B's next call ends in
// ErrLoginRequired.
func TestHostileStoreLogoutAfterARenewalWhoseClearFails(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := newRefusingStorage()
	a, b := e.store(t, storage), e.store(t, storage)
	_, err := a.Login(ctx, atkAnn)
	require.NoError(t, err)
	_, err = b.AccessToken(ctx)
	require.NoError(t, err)

	e.srv.Advance(16 * time.Minute)
	e.srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Hold: 2 * time.Second})
	aDone := make(chan error, 1)
	go func() { _, err := a.AccessToken(ctx); aDone <- err }() // holds the Locker
	require.Eventually(t, func() bool { return e.srv.Calls(userauthtest.PathRefresh) == 1 }, 5*time.Second, time.Millisecond)
	bDone := make(chan error, 1)
	go func() { _, err := b.AccessToken(ctx); bDone <- err }() // waits for the Locker
	time.Sleep(100 * time.Millisecond)

	storage.refuseClears()
	err = a.Logout(ctx)
	t.Logf("A.Logout: %v; A's renewal: %v; B's renewal: %v", err, <-aDone, <-bDone)
	assert.ErrorContains(t, err, "device busy", "the refused Clear is reported")
	assert.NotErrorIs(t, err, userauth.ErrNotRevoked, "the server revoked the session")
	assertLoggedOut(t, e, b)
	e.quiesce()
	assert.Equal(t, 0, e.srv.ReuseDetected(), "a refresh token was presented twice")
}

// TestHostileStoreGivenUpLogoutLeavesTheRenewalWhole: the store's renewal
// waits for a refresh the server acted on and holds back; a Logout with an
// ended context gives up at once. The renewal saves its pair as if no
// Logout had been tried, and the store's next renewal starts from that
// pair: no refresh token is presented twice.
func TestHostileStoreGivenUpLogoutLeavesTheRenewalWhole(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := newRefusingStorage()
	s := e.annStore(t, storage)

	e.srv.Advance(16 * time.Minute)
	e.srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Hold: 2 * time.Second})
	done := make(chan error, 1)
	go func() { _, err := s.AccessToken(ctx); done <- err }()
	require.Eventually(t, func() bool { return e.srv.Calls(userauthtest.PathRefresh) == 1 }, 5*time.Second, time.Millisecond)
	storage.refuseClears()
	dead, cancel := context.WithCancel(ctx)
	cancel()
	t.Logf("Logout with an ended context: %v; the renewal: %v", s.Logout(dead), <-done)
	e.quiesce()

	e.srv.Advance(2 * time.Second) // past the failure memory
	_, err := s.AccessToken(ctx)
	t.Logf("the next renewal: %v", err)
	e.quiesce()
	assert.Equal(t, 0, e.srv.ReuseDetected(), "the store presented the refresh token its cut-short renewal had spent")
}

// TestHostileStoreFailedLogoutTellsOnTokenChangeNothing: WithOnTokenChange
// calls f with "the zero Token after a logout". Store A is idle; store B's
// renewal holds the Locker, and A.Logout gives up on it: nothing changed,
// A's session still works, and OnTokenChange is not told of a logout.
func TestHostileStoreFailedLogoutTellsOnTokenChangeNothing(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := userauth.NewMemoryStorage()
	notes := &tokenNotes{}
	a := e.store(t, storage, userauth.WithOnTokenChange(notes.f))
	b := e.store(t, storage)
	_, err := a.Login(ctx, atkAnn)
	require.NoError(t, err)
	_, err = b.AccessToken(ctx)
	require.NoError(t, err)

	e.srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Hold: time.Second})
	bDone := make(chan error, 1)
	go func() { _, err := b.Refresh(ctx); bDone <- err }()
	require.Eventually(t, func() bool { return e.srv.Calls(userauthtest.PathRefresh) == 1 }, 5*time.Second, time.Millisecond)
	n := notes.len()
	lctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, a.Logout(lctx), context.DeadlineExceeded)
	_, err = a.AccessToken(ctx)
	require.NoError(t, err, "the session is as it was")
	for _, tok := range notes.since(n) {
		assert.NotEmpty(t, tok.AccessToken, "OnTokenChange told a logout that did not happen")
	}
	require.NoError(t, <-bDone)
}

// TestHostileStoreFailedLogoutLeavesCallersServed: store A's token expired;
// store B's renewal holds the Locker. A's Logout waits for it and gives up,
// while a renewal of A waits behind the Logout for the store's lock (its
// OnTokenChange is slow). A Logout that changed nothing leaves no
// ErrLoginRequired behind: a caller after it is not told to log in (Token's
// doc reserves that for "no tokens or the server refused the refresh
// token").
func TestHostileStoreFailedLogoutLeavesCallersServed(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := userauth.NewMemoryStorage()
	notes := &tokenNotes{delay: 30 * time.Millisecond}
	a := e.store(t, storage, userauth.WithOnTokenChange(notes.f))
	b := e.store(t, storage)
	_, err := a.Login(ctx, atkAnn)
	require.NoError(t, err)
	_, err = b.AccessToken(ctx)
	require.NoError(t, err)

	e.srv.Advance(16 * time.Minute)
	e.srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Hold: 1500 * time.Millisecond})
	bDone := make(chan error, 1)
	go func() { _, err := b.AccessToken(ctx); bDone <- err }()
	require.Eventually(t, func() bool { return e.srv.Calls(userauthtest.PathRefresh) == 1 }, 5*time.Second, time.Millisecond)

	lctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	logout := make(chan error, 1)
	go func() { logout <- a.Logout(lctx) }()
	time.Sleep(100 * time.Millisecond) // the Logout holds A's lock, waits for the Locker
	during := make(chan error, 1)
	go func() { _, err := a.AccessToken(ctx); during <- err }()
	require.ErrorIs(t, <-logout, context.DeadlineExceeded)
	t.Logf("caller during the Logout: %v", <-during)
	_, err = a.AccessToken(ctx)
	t.Logf("caller after the failed Logout: %v", err)
	assert.NotErrorIs(t, err, userauth.ErrLoginRequired, "a Logout that changed nothing left callers told to log in")
	require.NoError(t, <-bDone)
}

// TestHostileStoreLoginAfterLogoutSucceeds: a Login sent after the server
// revoked the session for a Logout (whose answer is held back) waits for
// the store's lock, which the Logout holds until its slow OnTokenChange
// returns. The Login then succeeds with a working token.
func TestHostileStoreLoginAfterLogoutSucceeds(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	notes := &tokenNotes{delay: 30 * time.Millisecond}
	s := e.annStore(t, nil, userauth.WithOnTokenChange(notes.f))

	e.srv.Fail(userauthtest.PathLogout, 1, userauthtest.Fault{Hold: 300 * time.Millisecond}) // revoked, answer held
	logout := make(chan error, 1)
	go func() { logout <- s.Logout(ctx) }()
	require.Eventually(t, func() bool { return e.srv.Calls(userauthtest.PathLogout) == 1 }, 5*time.Second, time.Millisecond)
	time.Sleep(50 * time.Millisecond) // the server has revoked the old session
	tok, err := s.Login(ctx, atkAnn)
	require.NoError(t, <-logout)
	t.Logf("Login after the server's logout: %v", err)
	if assert.NoError(t, err) {
		assert.Equal(t, http.StatusOK, bearerGet(t, e, tok.AccessToken, userauthtest.PathAccount))
	}
}

// TestHostileStoreLoginAnsweredAcrossALogoutEndsAtFirstUse: a Login's
// server call is acted on and its answer held back; meanwhile Logout runs
// to completion, and the server revokes every session of the user, the new
// one included. The Login's answer is then saved (Logout's doc: "A Login
// answered while Logout runs is saved after it"): its first use ends in
// ErrLoginRequired, with no refresh token presented twice.
func TestHostileStoreLoginAnsweredAcrossALogoutEndsAtFirstUse(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := userauth.NewMemoryStorage()
	s := e.annStore(t, storage)

	e.srv.Fail(userauthtest.PathLogin, 1, userauthtest.Fault{Hold: 500 * time.Millisecond})
	login := make(chan error, 1)
	var tok *userauth.Token
	go func() {
		var err error
		tok, err = s.Login(ctx, atkAnn)
		login <- err
	}()
	require.Eventually(t, func() bool { return e.srv.Calls(userauthtest.PathLogin) == 2 }, 5*time.Second, time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, s.Logout(ctx))
	lerr := <-login
	t.Logf("the Login answered after the Logout: %v; storage after: %v", lerr, mustLoad(t, storage))
	if lerr == nil {
		assert.Equal(t, http.StatusUnauthorized, bearerGet(t, e, tok.AccessToken, userauthtest.PathAccount))
	}
	assertLoggedOut(t, e, s)
	assert.Nil(t, mustLoad(t, storage), "the dead session is cleared at its first use")
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

// TestHostileStoreNoGoroutineLeftAfterGivenUpLogouts: "No goroutine lives
// while no renewal runs." A hung renewal with a Logout given an ended
// context, a Login whose 2FA handler waits for its context, a
// CompleteTwoFactor whose answer is held, each with a Logout: once settled,
// no goroutine of the store is left.
func TestHostileStoreNoGoroutineLeftAfterGivenUpLogouts(t *testing.T) {
	opts := []goleak.Option{goleak.IgnoreCurrent()}
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := userauth.NewMemoryStorage()
	s := e.annStore(t, storage, userauth.WithRefreshTimeout(2*time.Second))

	// A hung renewal, and a Logout with an ended context.
	e.srv.Advance(16 * time.Minute)
	e.srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Hang: true})
	go func() { _, _ = s.AccessToken(ctx) }()
	require.Eventually(t, func() bool { return e.srv.Calls(userauthtest.PathRefresh) == 1 }, 5*time.Second, time.Millisecond)
	dead, cancel := context.WithCancel(ctx)
	cancel()
	_ = s.Logout(dead)

	// A Login whose handler waits for its context.
	started := make(chan struct{})
	h, err := userauth.NewTokenStore(e.client, nil, userauth.WithClock(e.srv.Now), userauth.WithRefreshTimeout(2*time.Second),
		userauth.WithTwoFactorHandler(func(ctx context.Context, _ userauth.TwoFactorMethod) (string, error) {
			close(started)
			<-ctx.Done()
			return "", ctx.Err()
		}))
	require.NoError(t, err)
	go func() { _, _ = h.Login(ctx, atkTom) }()
	<-started
	require.NoError(t, h.Logout(ctx))

	// A CompleteTwoFactor whose answer is held.
	p := e.store(t, nil)
	_, err = p.Login(ctx, atkTom)
	var tfa *userauth.TwoFactorRequiredError
	require.ErrorAs(t, err, &tfa)
	code, err := e.srv.Code(e.secret)
	require.NoError(t, err)
	e.srv.Fail(userauthtest.PathTwoFactor, 1, userauthtest.Fault{Hold: time.Second})
	go func() { _, _ = p.CompleteTwoFactor(ctx, code) }()
	require.Eventually(t, func() bool { return e.srv.Calls(userauthtest.PathTwoFactor) == 1 }, 5*time.Second, time.Millisecond)
	_ = p.Logout(ctx)

	time.Sleep(2500 * time.Millisecond)
	e.quiesce()
	e.srv.Close()
	e.srv.Client().CloseIdleConnections()
	goleak.VerifyNone(t, opts...)
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

// TestHostileStoreLogoutPathsLeakNoSecrets: errors and log lines from a
// renewal refused by a read-only storage, a Logout waiting for a held
// renewal whose Clears fail, a CompleteTwoFactor with a held answer and a
// wrong code never carry a password, token or 2FA code (RELIABILITY.md,
// secrets audit).
func TestHostileStoreLogoutPathsLeakNoSecrets(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	var errs []error
	keep := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	secrets := []string{atkAnn.Password, atkTom.Password}
	collect := func(tok *userauth.Token) {
		if tok != nil {
			secrets = append(secrets, tok.AccessToken, tok.RefreshToken)
		}
	}

	// A renewal whose pre-spend write is refused, then a Logout that waits
	// for a held renewal and whose Clear fails.
	storage := newRefusingStorage()
	s := e.annStore(t, storage)
	collect(storage.stored(t))
	e.srv.Advance(16 * time.Minute)
	storage.readOnly.Store(true)
	_, err := s.AccessToken(ctx)
	keep(err)
	storage.readOnly.Store(false)
	e.srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Hold: 500 * time.Millisecond})
	e.srv.Advance(2 * time.Second)
	done := make(chan error, 1)
	go func() { _, err := s.AccessToken(ctx); done <- err }()
	require.Eventually(t, func() bool { return e.srv.Calls(userauthtest.PathRefresh) >= 1 }, 5*time.Second, time.Millisecond)
	storage.refuseClears()
	keep(s.Logout(ctx))
	keep(<-done)

	// A Logout while a CompleteTwoFactor waits for its answer, then a wrong
	// code.
	p := e.store(t, nil)
	_, err = p.Login(ctx, atkTom)
	keep(err)
	code, err := e.srv.Code(e.secret)
	require.NoError(t, err)
	secrets = append(secrets, code)
	e.srv.Fail(userauthtest.PathTwoFactor, 1, userauthtest.Fault{Hold: 500 * time.Millisecond})
	go func() { _, err := p.CompleteTwoFactor(ctx, code); done <- err }()
	require.Eventually(t, func() bool { return e.srv.Calls(userauthtest.PathTwoFactor) == 1 }, 5*time.Second, time.Millisecond)
	keep(p.Logout(ctx))
	keep(<-done)
	_, err = p.Login(ctx, atkTom)
	keep(err)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	_, err = p.CompleteTwoFactor(ctx, wrong)
	keep(err)
	e.quiesce()

	var all strings.Builder
	for _, err := range errs {
		fmt.Fprintf(&all, "%v\n%+v\n%#v\n", err, err, err)
	}
	all.WriteString(e.logs.String())
	t.Logf("%d errors checked", len(errs))
	for _, sec := range secrets {
		if sec != "" {
			assert.NotContains(t, all.String(), sec)
		}
	}
}

// lockless is a storage without a Locker (a user's own TokenStorage over a
// database, say): only Load and Save, which compares generations.
type lockless struct{ m *userauth.MemoryStorage }

func (s lockless) Load(ctx context.Context) (*userauth.Record, error) { return s.m.Load(ctx) }
func (s lockless) Save(ctx context.Context, t *userauth.Record) error { return s.m.Save(ctx, t) }

// TestHostileStoreLogoutWithAnEndedContextWithoutALocker: with a storage
// that has no Locker, nothing but the store's own lock stands between a
// Logout and the Clear. A Logout or LogoutLocal given a context that has
// already ended still returns its error and changes nothing, every time
// (a select between a free lock and an ended context picks either).
func TestHostileStoreLogoutWithAnEndedContextWithoutALocker(t *testing.T) {
	t.Parallel()
	for _, local := range []bool{false, true} {
		t.Run(fmt.Sprintf("local=%v", local), func(t *testing.T) {
			e := newAtkEnv(t)
			ctx := context.Background()
			storage := lockless{userauth.NewMemoryStorage()}
			s := e.store(t, storage)
			_, err := s.Login(ctx, atkAnn)
			require.NoError(t, err)
			dead, cancel := context.WithCancel(ctx)
			cancel()
			for range 40 {
				if local {
					err = s.LogoutLocal(dead)
				} else {
					err = s.Logout(dead)
				}
				require.ErrorIs(t, err, context.Canceled)
				require.NotNil(t, mustLoad(t, storage), "a logout given an ended context cleared the session")
			}
			assert.Zero(t, e.srv.Calls(userauthtest.PathLogout))
		})
	}
}

// TestHostileStoreLogoutRenewalOutlivesAFailedClear: stores A and B share
// a storage; the access token expired, so A.Logout renews it first,
// spending the stored refresh token. /logout then fails (500) and the
// Clear meets a passing failure. Storage must not be left holding the
// spent pair: it holds the renewed one, which B goes on with, and no
// refresh token is presented twice.
func TestHostileStoreLogoutRenewalOutlivesAFailedClear(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := newRefusingStorage()
	a, b := e.sharedSession(t, storage)
	spent := mustLoad(t, storage).RefreshToken

	e.srv.Advance(16 * time.Minute)
	e.srv.Fail(userauthtest.PathLogout, 1, userauthtest.Fault{Status: http.StatusInternalServerError})
	storage.refuseClears()
	err := a.Logout(ctx)
	t.Logf("A.Logout: %v", err)
	require.ErrorContains(t, err, "device busy")
	require.ErrorContains(t, err, "the server did not revoke the tokens either")
	assert.NotErrorIs(t, err, userauth.ErrNotRevoked, "nothing was logged out here")
	assert.NotEqual(t, spent, storage.stored(t).RefreshToken, "storage still holds the refresh token Logout spent")

	_, err = b.AccessToken(ctx)
	require.NoError(t, err, "the session was neither revoked nor cleared: B goes on")
	e.quiesce()
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathRefresh))
	assert.Equal(t, 0, e.srv.ReuseDetected(), "a refresh token was presented twice")
}

// TestHostileStoreLogoutLocalWhoseClearFailsKeepsTheSession: LogoutLocal's
// Clear fails. It returns the error and changes nothing: OnTokenChange is
// not told a logout, and the store goes on serving the session storage
// still holds, rather than forgetting it in memory and loading it again.
func TestHostileStoreLogoutLocalWhoseClearFailsKeepsTheSession(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := newRefusingStorage()
	notes := &tokenNotes{}
	s := e.store(t, storage, userauth.WithOnTokenChange(notes.f))
	tok, err := s.Login(ctx, atkAnn)
	require.NoError(t, err)
	n := notes.len()

	storage.refuseClears()
	require.ErrorContains(t, s.LogoutLocal(ctx), "device busy")
	assert.Empty(t, notes.since(n), "OnTokenChange was told of a logout that did not happen")
	access, err := s.AccessToken(ctx)
	require.NoError(t, err)
	assert.Equal(t, tok.AccessToken, access)

	require.NoError(t, s.LogoutLocal(ctx), "the next try clears")
	assert.Nil(t, storage.stored(t))
	told := notes.since(n)
	require.Len(t, told, 1)
	assert.Empty(t, told[0].AccessToken, "OnTokenChange is told the logout once it happened")
}

// TestHostileStoreLogoutRevokesTheTokenHandedOutBeforeA2FAStep: a store
// without a 2FA handler hands out a complete access token; its next
// renewal is answered with requires_2fa, so storage holds a pending step,
// while the complete token still opens the account. Logout revokes the
// session with that token: it no longer opens the account.
func TestHostileStoreLogoutRevokesTheTokenHandedOutBeforeA2FAStep(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	first, err := e.client.Login(ctx, atkTom)
	require.NoError(t, err)
	code, err := e.srv.Code(e.secret)
	require.NoError(t, err)
	full, err := e.client.TwoFactorAuthentication(ctx, userauth.Confirm2FA{Code: code, RefreshToken: first.RefreshToken})
	require.NoError(t, err)
	s := e.store(t, nil)
	_, err = s.SetToken(ctx, full)
	require.NoError(t, err)
	handedOut, err := s.AccessToken(ctx)
	require.NoError(t, err)

	e.srv.RequireTwoFactorOnNextRefresh()
	_, err = s.Refresh(ctx)
	require.ErrorIs(t, err, userauth.ErrTwoFactorRequired)
	require.Equal(t, http.StatusOK, bearerGet(t, e, handedOut, userauthtest.PathAccount))

	require.NoError(t, s.Logout(ctx))
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathLogout))
	assert.Equal(t, http.StatusUnauthorized, bearerGet(t, e, handedOut, userauthtest.PathAccount),
		"the token handed out before the 2FA step still opens the account")
	_, err = s.AccessToken(ctx)
	assert.ErrorIs(t, err, userauth.ErrLoginRequired)
}

var atkZed = userauth.LoginRequest{Email: "zed@attack.test", Password: "pw-zed-SECRET-6"}

// tomStepAfterARenewal gives store s tom's complete session, hands out its access
// token, then has a renewal answered with requires_2fa (no handler): the
// store remembers the complete pair the step replaced. It returns the
// access token handed out.
func tomStepAfterARenewal(t *testing.T, e *atkEnv, s *userauth.TokenStore) string {
	t.Helper()
	ctx := context.Background()
	first, err := e.client.Login(ctx, atkTom)
	require.NoError(t, err)
	code, err := e.srv.Code(e.secret)
	require.NoError(t, err)
	full, err := e.client.TwoFactorAuthentication(ctx, userauth.Confirm2FA{Code: code, RefreshToken: first.RefreshToken})
	require.NoError(t, err)
	_, err = s.SetToken(ctx, full)
	require.NoError(t, err)
	handedOut, err := s.AccessToken(ctx)
	require.NoError(t, err)
	e.srv.RequireTwoFactorOnNextRefresh()
	_, err = s.Refresh(ctx)
	require.ErrorIs(t, err, userauth.ErrTwoFactorRequired)
	return handedOut
}

// otherTomSession logs tom in on another device (a store of its own),
// with the next TOTP code, and returns its access token.
func otherTomSession(t *testing.T, e *atkEnv) string {
	t.Helper()
	ctx := context.Background()
	e.srv.Advance(61 * time.Second) // a TOTP code not used yet
	other := e.store(t, nil, userauth.WithTwoFactorHandler(e.handler(new(atomic.Int32))))
	_, err := other.Login(ctx, atkTom)
	require.NoError(t, err)
	access, err := other.AccessToken(ctx)
	require.NoError(t, err)
	return access
}

// TestHostileStoreLogoutOfAPendingLoginRevokesNothing: a renewal of tom's
// session in store A was answered with requires_2fa; then zed logs in,
// pending too, in A or in store B over the same storage. A.Logout finds
// zed's pending step, which no renewal of A was answered with: it clears
// it without a call, and tom's other sessions keep working.
func TestHostileStoreLogoutOfAPendingLoginRevokesNothing(t *testing.T) {
	t.Parallel()
	for _, shared := range []bool{false, true} {
		t.Run(fmt.Sprintf("zed logs in through another store: %v", shared), func(t *testing.T) {
			e := newAtkEnv(t)
			ctx := context.Background()
			_, err := e.srv.AddUser(userauthtest.User{Email: atkZed.Email, Password: atkZed.Password, TwoFactor: userauthtest.TwoFactorTOTP})
			require.NoError(t, err)
			storage := userauth.NewMemoryStorage()
			a, b := e.store(t, storage), e.store(t, storage)
			tomStepAfterARenewal(t, e, a)
			otherAccess := otherTomSession(t, e) // another device's session
			zeds := a
			if shared {
				zeds = b
			}
			_, err = zeds.Login(ctx, atkZed)
			var tfa *userauth.TwoFactorRequiredError
			require.ErrorAs(t, err, &tfa)

			require.NoError(t, a.Logout(ctx))
			assert.Equal(t, 0, e.srv.Calls(userauthtest.PathLogout), "zed's pending login was revoked with tom's old token")
			assert.Equal(t, http.StatusOK, bearerGet(t, e, otherAccess, userauthtest.PathAccount), "tom's sessions were revoked")
		})
	}
}

// TestHostileStoreLogoutTellsOnTokenChangeThePairItRenewed: the access
// token expired, so Logout renews it first; /logout fails and the Clear
// fails, so the renewed pair replaces the spent one in storage.
// OnTokenChange is told that pair: an app that persists tokens through it
// does not keep a spent refresh token.
func TestHostileStoreLogoutTellsOnTokenChangeThePairItRenewed(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := newRefusingStorage()
	notes := &tokenNotes{}
	s := e.annStore(t, storage, userauth.WithOnTokenChange(notes.f))
	spent := storage.stored(t).RefreshToken

	e.srv.Advance(16 * time.Minute)
	e.srv.Fail(userauthtest.PathLogout, 1, userauthtest.Fault{Status: http.StatusInternalServerError})
	storage.refuseClears()
	err := s.Logout(ctx)
	t.Logf("Logout: %v", err)
	require.ErrorContains(t, err, "did not revoke")
	now := storage.stored(t)
	require.NotNil(t, now)
	require.NotEqual(t, spent, now.RefreshToken, "the renewed pair is saved")

	told := notes.since(0)
	require.NotEmpty(t, told)
	last := told[len(told)-1]
	assert.Equal(t, now.RefreshToken, last.RefreshToken,
		"OnTokenChange was last told the pair whose refresh token Logout spent, not the saved one")
}

// TestHostileStoreLogoutSpentRefreshThenFailedClearNeverRespends: the
// access token expired, so Logout renews it first, and the server acts on
// the refresh; then every attempt to clear storage fails. Whether the
// refresh's answer breaks off (the token is spent, its successor lost) or
// is held back past the Logout's context (the refresh runs on a context of
// its own, and its pair replaces the spent one), the store never presents
// a refresh token twice.
func TestHostileStoreLogoutSpentRefreshThenFailedClearNeverRespends(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		fault   userauthtest.Fault
		timeout time.Duration
	}{
		"answer breaks off":                 {userauthtest.Fault{Truncate: true}, time.Minute},
		"answer held past Logout's context": {userauthtest.Fault{Hold: 2 * time.Second}, 300 * time.Millisecond},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newAtkEnv(t)
			ctx := context.Background()
			storage := newRefusingStorage()
			s := e.annStore(t, storage)

			e.srv.Advance(16 * time.Minute)
			e.srv.Fail(userauthtest.PathRefresh, 1, c.fault)
			storage.refuseClears()
			lctx, cancel := context.WithTimeout(ctx, c.timeout)
			defer cancel()
			err := s.Logout(lctx)
			t.Logf("Logout: %v", err)
			require.Error(t, err)
			e.quiesce()

			e.srv.Advance(2 * time.Second) // past the failure memory
			_, err = s.AccessToken(ctx)
			t.Logf("the next call: %v", err)
			e.quiesce()
			assert.Equal(t, 0, e.srv.ReuseDetected(), "a refresh token Logout's renewal spent was presented again")
		})
	}
}

// TestHostileStoreFailedClearDoesNotClaimALogout: the server refuses
// /logout (500) and the Clear fails. The store keeps the session, and
// Logout's error does not say "logged out here", nor match
// ErrNotRevoked, which means exactly that.
func TestHostileStoreFailedClearDoesNotClaimALogout(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := newRefusingStorage()
	s := e.annStore(t, storage)

	e.srv.Fail(userauthtest.PathLogout, 1, userauthtest.Fault{Status: http.StatusInternalServerError})
	storage.refuseClears()
	err := s.Logout(ctx)
	require.Error(t, err)
	require.NotNil(t, storage.stored(t), "the session is kept")
	_, aerr := s.AccessToken(ctx)
	require.NoError(t, aerr, "the session is kept")
	assert.NotContains(t, err.Error(), "logged out here", "Logout's error claims a local logout that did not happen")
}

// TestHostileStoreLogoutAgainNeverRespendsAnEndedToken: Logout's renewal
// is answered 2xx but unreadable (the refresh token is spent) and the
// Clear fails; Logout's doc says to call it again. The second Logout does
// not present the spent refresh token.
func TestHostileStoreLogoutAgainNeverRespendsAnEndedToken(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := newRefusingStorage()
	s := e.store(t, storage)
	_, err := s.Login(ctx, atkAnn)
	require.NoError(t, err)

	e.srv.Advance(16 * time.Minute)
	e.srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Truncate: true})
	storage.refuseClears()
	err = s.Logout(ctx)
	t.Logf("first Logout: %v", err)
	require.Error(t, err)

	err = s.Logout(ctx) // "call it again"
	t.Logf("second Logout: %v", err)
	e.quiesce()
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathRefresh), "the second Logout refreshed again")
	assert.Equal(t, 0, e.srv.ReuseDetected(), "the second Logout presented the refresh token its first one spent")
}

// TestHostileStoreLogoutFindingAnotherStoresPendingLoginRevokesNothing:
// store A holds ann's complete session; store B, sharing the storage, logs
// tom in, pending a 2FA step. A.Logout finds tom's pending step, which no
// renewal of A was answered with: it clears it without a call, and ann's
// other sessions keep working.
func TestHostileStoreLogoutFindingAnotherStoresPendingLoginRevokesNothing(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := userauth.NewMemoryStorage()
	a, b := e.store(t, storage), e.store(t, storage)
	_, err := a.Login(ctx, atkAnn)
	require.NoError(t, err)
	// Ann's other, independent session (another device).
	other := e.store(t, nil)
	_, err = other.Login(ctx, atkAnn)
	require.NoError(t, err)
	otherAccess, err := other.AccessToken(ctx)
	require.NoError(t, err)

	_, err = b.Login(ctx, atkTom) // tom's pending step replaces ann's session in storage
	var tfa *userauth.TwoFactorRequiredError
	require.ErrorAs(t, err, &tfa)

	require.NoError(t, a.Logout(ctx))
	assert.Equal(t, 0, e.srv.Calls(userauthtest.PathLogout),
		"A revoked with ann's token while storage held tom's pending login")
	assert.Equal(t, http.StatusOK, bearerGet(t, e, otherAccess, userauthtest.PathAccount),
		"logging out tom's pending login revoked ann's sessions")
}

// TestHostileStoreLogoutRevokesTheTokenBeforeAStepSavedLate: a store
// hands out tom's complete access token; its next renewal is answered with
// requires_2fa, and storage refuses the pending pair (kept aside); the
// next renewal saves it at last. Logout revokes with the complete token
// handed out before the step, as when the pending pair was saved at once.
func TestHostileStoreLogoutRevokesTheTokenBeforeAStepSavedLate(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	first, err := e.client.Login(ctx, atkTom)
	require.NoError(t, err)
	code, err := e.srv.Code(e.secret)
	require.NoError(t, err)
	full, err := e.client.TwoFactorAuthentication(ctx, userauth.Confirm2FA{Code: code, RefreshToken: first.RefreshToken})
	require.NoError(t, err)
	storage := newRefusingStorage()
	s := e.store(t, storage)
	_, err = s.SetToken(ctx, full)
	require.NoError(t, err)
	handedOut, err := s.AccessToken(ctx)
	require.NoError(t, err)

	e.srv.RequireTwoFactorOnNextRefresh()
	storage.refuseSaves(1, 3) // the write-back before spending passes; the pending pair is refused
	_, err = s.Refresh(ctx)
	t.Logf("renewal: %v", err)
	require.Error(t, err)
	e.srv.Advance(2 * time.Second) // past the failure memory
	_, err = s.Refresh(ctx)        // saves the pending pair at last
	t.Logf("next renewal: %v", err)
	require.ErrorIs(t, err, userauth.ErrTwoFactorRequired)
	require.Equal(t, http.StatusOK, bearerGet(t, e, handedOut, userauthtest.PathAccount))

	require.NoError(t, s.Logout(ctx))
	assert.Equal(t, http.StatusUnauthorized, bearerGet(t, e, handedOut, userauthtest.PathAccount),
		"the token handed out before the 2FA step still opens the account after Logout")
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

// TestHostileStoreLogoutClearIsRetriedAfterASpentRefresh: stores A and B
// share a storage. A.Logout's renewal is answered 2xx but unreadable (the
// token is spent), and the Clear meets a passing failure: it is tried
// again, so B never finds, and presents, the spent refresh token.
func TestHostileStoreLogoutClearIsRetriedAfterASpentRefresh(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := newRefusingStorage()
	a, b := e.sharedSession(t, storage)

	e.srv.Advance(16 * time.Minute)
	e.srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Truncate: true})
	storage.failClears.Store(1) // one passing failure
	err := a.Logout(ctx)
	t.Logf("A.Logout: %v", err)
	// Nil or not: the session ended either way (its successor pair reached nobody).

	_, err = b.AccessToken(ctx)
	t.Logf("B: %v", err)
	e.quiesce()
	assert.Equal(t, 0, e.srv.ReuseDetected(), "B presented the refresh token A's Logout spent")
}
