package userauth

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tarilabs/userauth/userauthtest"
)

// endSessionElsewhere has the server forget the session a store holds, as
// a logout from another client does: every token of the user is refused.
func endSessionElsewhere(t *testing.T, c *Client, s *TokenStore) {
	t.Helper()
	tok, err := s.Token(context.Background())
	require.NoError(t, err)
	require.NoError(t, c.Logout(context.Background(), tok.AccessToken))
}

func credentialsOf(req LoginRequest) func(context.Context) (LoginRequest, error) {
	return func(context.Context) (LoginRequest, error) { return req, nil }
}

// TestOneLoginAgainServesEveryWaitingCaller: the session ended at run time;
// 100 callers at once get tokens from one login.
func TestOneLoginAgainServesEveryWaitingCaller(t *testing.T) {
	t.Parallel()
	e := newStoreEnv(t, nil, nil, WithCredentials(credentialsOf(ann)))
	ctx := context.Background()
	_, err := e.store.Login(ctx, ann)
	require.NoError(t, err)
	endSessionElsewhere(t, e.client, e.store)
	e.srv.ExpireAccessTokens()
	e.srv.Advance(16 * time.Minute) // the access token is due: callers wait for the renewal
	logins := e.srv.Calls(userauthtest.PathLogin)

	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.store.AccessToken(ctx); err != nil {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Zero(t, failed.Load())
	assert.Equal(t, logins+1, e.srv.Calls(userauthtest.PathLogin), "one login for all")
	acc, err := e.store.Account(ctx)
	require.NoError(t, err)
	assert.Equal(t, ann.Email, acc.User.Email)
}

// TestReplicasSharingALockerLogInAgainOnce: four stores over one token
// file (its Locker is a file lock) find the session ended at once; one logs
// in, the others take its session from the file.
func TestReplicasSharingALockerLogInAgainOnce(t *testing.T) {
	t.Parallel()
	srv, c, _ := fakeAPI(t)
	path := filepath.Join(t.TempDir(), "tokens.json")
	var stores []*TokenStore
	for range 4 {
		fs, err := NewFileStorage(path)
		require.NoError(t, err)
		stores = append(stores, mustStore(t, c, fs, WithClock(srv.Now), WithCredentials(credentialsOf(ann))))
	}
	ctx := context.Background()
	_, err := stores[0].Login(ctx, ann)
	require.NoError(t, err)
	for _, s := range stores {
		_, err := s.Token(ctx) // each has read the session
		require.NoError(t, err)
	}
	endSessionElsewhere(t, c, stores[0])
	srv.Advance(16 * time.Minute)
	logins := srv.Calls(userauthtest.PathLogin)

	var wg sync.WaitGroup
	for _, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.AccessToken(ctx)
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	assert.Equal(t, logins+1, srv.Calls(userauthtest.PathLogin), "the replicas logged in once")
	assert.Zero(t, srv.ReuseDetected())
}

// TestWrongCredentialsNeverLoop: credentials the server refused are not
// sent again; every caller gets ErrInvalidCredentials until they change.
func TestWrongCredentialsNeverLoop(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	creds := LoginRequest{Email: ann.Email, Password: "wrong"}
	get := func(context.Context) (LoginRequest, error) { mu.Lock(); defer mu.Unlock(); return creds, nil }
	e := newStoreEnv(t, nil, nil, WithCredentials(get))
	ctx := context.Background()
	_, err := e.store.Login(ctx, ann)
	require.NoError(t, err)
	endSessionElsewhere(t, e.client, e.store)
	e.srv.Advance(16 * time.Minute)
	logins := e.srv.Calls(userauthtest.PathLogin)

	for range 5 {
		_, err := e.store.AccessToken(ctx)
		assert.ErrorIs(t, err, ErrInvalidCredentials)
		assert.ErrorIs(t, err, ErrLoginRequired, "the session ended all the same")
		assert.NotContains(t, err.Error(), "wrong")
		e.srv.Advance(2 * failureMemory) // past the failure's memory: a real try each time
	}
	assert.Equal(t, logins+1, e.srv.Calls(userauthtest.PathLogin), "refused credentials are sent once")

	mu.Lock()
	creds = ann
	mu.Unlock()
	e.srv.Advance(reloginInterval)
	_, err = e.store.AccessToken(ctx)
	require.NoError(t, err, "new credentials are tried")
}

// TestLoginAgainTakesTheTwoFactorStep: the login's 2FA step is the
// handler's.
func TestLoginAgainTakesTheTwoFactorStep(t *testing.T) {
	t.Parallel()
	srv, c, secret := fakeAPI(t)
	h, err := newTOTPHandler(secret, srv.Now, func(_ context.Context, d time.Duration) error { srv.Advance(d); return nil })
	require.NoError(t, err)
	store := mustStore(t, c, nil, WithClock(srv.Now), WithTwoFactorHandler(h), WithCredentials(credentialsOf(tom)))
	ctx := context.Background()
	_, err = store.Login(ctx, tom)
	require.NoError(t, err)
	endSessionElsewhere(t, c, store)
	srv.Advance(16 * time.Minute)
	tok, err := store.Token(ctx)
	require.NoError(t, err)
	assert.Empty(t, tok.Requires2FA)
	assert.Equal(t, 2, srv.Calls(userauthtest.PathTwoFactor))
}

// TestNoLoginAgainAfterLogout: this store's own Logout ends the session on
// purpose; it is not logged in again until a new session starts.
func TestNoLoginAgainAfterLogout(t *testing.T) {
	t.Parallel()
	e := newStoreEnv(t, nil, nil, WithCredentials(credentialsOf(ann)))
	ctx := context.Background()
	_, err := e.store.Login(ctx, ann)
	require.NoError(t, err)
	require.NoError(t, e.store.Logout(ctx))
	logins := e.srv.Calls(userauthtest.PathLogin)
	_, err = e.store.AccessToken(ctx)
	assert.ErrorIs(t, err, ErrLoginRequired)
	assert.Equal(t, logins, e.srv.Calls(userauthtest.PathLogin))
	assert.False(t, errors.Is(err, ErrInvalidCredentials))
}

// TestLoginsAgainAreSpacedOut: an endpoint that answers 401 to every token
// costs a login at most every reloginInterval, not one a request; a 429's
// Retry-After is waited for.
func TestLoginsAgainAreSpacedOut(t *testing.T) {
	t.Parallel()
	e := newStoreEnv(t, nil, nil, WithCredentials(credentialsOf(ann)))
	ctx := context.Background()
	_, err := e.store.Login(ctx, ann)
	require.NoError(t, err)
	logins := e.srv.Calls(userauthtest.PathLogin)
	// Every request and every refresh refused, as by a misrouted proxy.
	e.srv.Fail(userauthtest.PathAccount, 100, userauthtest.Fault{Status: 401})
	e.srv.Fail(userauthtest.PathRefresh, 100, userauthtest.Fault{Status: 401})
	for range 20 {
		e.srv.Advance(time.Second) // 20 requests within 20 s
		_, _ = e.store.Account(ctx)
	}
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathLogin)-logins, "one login in 20 s, not one a request")

	e.srv.Advance(reloginInterval)
	e.srv.Fail(userauthtest.PathLogin, 8, userauthtest.Fault{Status: 429, RetryAfter: "600"})
	before := e.srv.Calls(userauthtest.PathLogin)
	e.srv.Advance(16 * time.Minute)
	for range 3 {
		_, err := e.store.AccessToken(ctx)
		assert.ErrorIs(t, err, ErrLoginRequired)
		e.srv.Advance(time.Minute)
	}
	assert.LessOrEqual(t, e.srv.Calls(userauthtest.PathLogin)-before, 4, "one login (with its client retries), then the Retry-After is waited for")
}

// TestACredentialsFunctionThatFailsOrPanics: its error matches
// ErrLoginRequired with the cause; a panic is an error, not a crash.
func TestACredentialsFunctionThatFailsOrPanics(t *testing.T) {
	t.Parallel()
	vaultDown := errors.New("vault down")
	for _, get := range []func(context.Context) (LoginRequest, error){
		func(context.Context) (LoginRequest, error) { return LoginRequest{}, vaultDown },
		func(context.Context) (LoginRequest, error) { panic("boom") },
	} {
		e := newStoreEnv(t, nil, nil, WithCredentials(get))
		_, err := e.store.AccessToken(context.Background())
		assert.ErrorIs(t, err, ErrLoginRequired)
		assert.Zero(t, e.srv.Calls(userauthtest.PathLogin))
	}
}
