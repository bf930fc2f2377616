package userauth

import (
	"context"
	"encoding/base64"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tarilabs/userauth/userauthtest"
)

// gatedStorage holds every Load while it is armed, until the test opens
// the gate: a renewal is then caught in the middle, deterministically.
type gatedStorage struct {
	TokenStorage
	armed   atomic.Bool
	entered chan struct{} // receives once per held Load
	gate    chan struct{}
}

func newGatedStorage() *gatedStorage {
	return &gatedStorage{TokenStorage: NewMemoryStorage(), entered: make(chan struct{}, 16), gate: make(chan struct{})}
}

func (g *gatedStorage) Load(ctx context.Context) (*Record, error) {
	if g.armed.Load() {
		g.entered <- struct{}{}
		<-g.gate
	}
	return g.TokenStorage.Load(ctx)
}

// TestStoreDueTokenServedWithoutWaiting catches a renewal of a due token in
// the middle: every caller is served the valid token meanwhile, one renewal
// runs, and the next call sees its token.
func TestStoreDueTokenServedWithoutWaiting(t *testing.T) {
	t.Parallel()
	storage := newGatedStorage()
	e := newStoreEnv(t, nil, storage)
	ctx := context.Background()
	first, err := e.store.Login(ctx, ann)
	require.NoError(t, err)
	hc := e.store.HTTPClient()
	ts := e.store.TokenSource(ctx)

	e.srv.Advance(15*time.Minute - 10*time.Second) // due, not expired
	storage.armed.Store(true)
	const n = 200
	served := make(chan string, 3*n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(3)
		go func() {
			defer wg.Done()
			tok, err := e.store.AccessToken(ctx)
			assert.NoError(t, err)
			served <- tok
		}()
		go func() {
			defer wg.Done()
			tok, err := ts.Token()
			if assert.NoError(t, err) {
				served <- tok.AccessToken
			}
		}()
		go func() {
			defer wg.Done()
			resp, err := hc.Get(e.srv.URL + userauthtest.PathAccount)
			if assert.NoError(t, err) {
				resp.Body.Close()
				assert.Equal(t, http.StatusOK, resp.StatusCode)
				served <- first.AccessToken
			}
		}()
	}
	all := make(chan struct{})
	go func() { wg.Wait(); close(all) }()
	select {
	case <-all:
	case <-time.After(30 * time.Second):
		close(storage.gate)
		t.Fatal("callers waited for the renewal of a token that was still valid")
	}
	close(served)
	for tok := range served {
		require.Equal(t, first.AccessToken, tok)
	}
	<-storage.entered // the one renewal, held in the middle
	storage.armed.Store(false)
	close(storage.gate)
	settle(e.store)

	got, err := e.store.AccessToken(ctx)
	require.NoError(t, err)
	assert.NotEqual(t, first.AccessToken, got, "the next call sees the renewed token")
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathRefresh))
	assert.Empty(t, storage.entered, "one renewal, however many callers")
}

// TestStoreWithBlockingRefreshWaits keeps the old behaviour on request: a
// due token is renewed before any caller gets it.
func TestStoreWithBlockingRefreshWaits(t *testing.T) {
	t.Parallel()
	e := newStoreEnv(t, nil, nil, WithBlockingRefresh())
	ctx := context.Background()
	first, err := e.store.Login(ctx, ann)
	require.NoError(t, err)
	e.srv.Advance(15*time.Minute - 10*time.Second)
	got, err := e.store.AccessToken(ctx)
	require.NoError(t, err)
	assert.NotEqual(t, first.AccessToken, got)
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathRefresh))
}

// TestStoreClockOff gives the store a clock an hour ahead of the server's,
// then an hour behind: the token's lifetime, not the local clock, decides
// when it is due.
func TestStoreClockOff(t *testing.T) {
	t.Parallel()
	for _, off := range []time.Duration{time.Hour, -time.Hour} {
		t.Run(off.String(), func(t *testing.T) {
			t.Parallel()
			var srv *userauthtest.Server
			e := newStoreEnv(t, nil, nil, WithClock(func() time.Time { return srv.Now().Add(off) }))
			srv = e.srv
			ctx := context.Background()
			tok, err := e.store.Login(ctx, ann)
			require.NoError(t, err)
			assert.WithinDuration(t, srv.Now().Add(off).Add(15*time.Minute), tok.Expiry, 5*time.Second,
				"Expiry is the local clock's estimate")
			hc := e.store.HTTPClient()
			for range 50 {
				_, err := e.store.AccessToken(ctx)
				require.NoError(t, err)
				resp, err := hc.Get(srv.URL + userauthtest.PathAccount)
				require.NoError(t, err)
				resp.Body.Close()
				require.Equal(t, http.StatusOK, resp.StatusCode)
			}
			settle(e.store)
			assert.LessOrEqual(t, srv.Calls(userauthtest.PathRefresh), 1, "refreshes over 100 uses")

			srv.Advance(16 * time.Minute) // expired on both clocks: renewed once
			_, err = e.store.AccessToken(ctx)
			require.NoError(t, err)
			assert.LessOrEqual(t, srv.Calls(userauthtest.PathRefresh), 2)
		})
	}
}

// TestStoreTokenWithoutIat drops iat: the answer's Date header (the fake's
// clock) tells the lifetime instead.
func TestStoreTokenWithoutIat(t *testing.T) {
	t.Parallel()
	var srv *userauthtest.Server
	e := newStoreEnv(t, []userauthtest.Option{userauthtest.WithTokenClaims(func(c map[string]any) { delete(c, "iat") })},
		nil, WithClock(func() time.Time { return srv.Now().Add(time.Hour) }))
	srv = e.srv
	tok, err := e.store.Login(context.Background(), ann)
	require.NoError(t, err)
	assert.WithinDuration(t, srv.Now().Add(time.Hour+15*time.Minute), tok.Expiry, 5*time.Second)
}

// TestStoreExpInMilliseconds is a server that writes exp in milliseconds:
// the expiry is unknown, never an error, and the session saves and renews.
func TestStoreExpInMilliseconds(t *testing.T) {
	t.Parallel()
	ms := userauthtest.WithTokenClaims(func(c map[string]any) {
		switch exp := c["exp"].(type) {
		case int64:
			c["exp"] = exp * 1000
		case float64:
			c["exp"] = exp * 1000
		}
	})
	storage, err := NewFileStorage(filepath.Join(t.TempDir(), "tokens.json"))
	require.NoError(t, err)
	e := newStoreEnv(t, []userauthtest.Option{ms}, storage)
	ctx := context.Background()
	tok, err := e.store.Login(ctx, ann)
	require.NoError(t, err, "login and save")
	assert.True(t, tok.Expiry.IsZero(), "got expiry %v, want unknown", tok.Expiry)
	saved, err := loadPair(ctx, storage)
	require.NoError(t, err)
	assert.Equal(t, tok.AccessToken, saved.AccessToken)

	renewed, err := e.store.Refresh(ctx)
	require.NoError(t, err, "renew")
	assert.NotEqual(t, tok.AccessToken, renewed.AccessToken)
	e.srv.Advance(unknownExpiryLifetime) // an unknown expiry is trusted for a while only
	again, err := e.store.AccessToken(ctx)
	require.NoError(t, err)
	assert.NotEqual(t, renewed.AccessToken, again)
	assert.Equal(t, 2, e.srv.Calls(userauthtest.PathRefresh))
}

func TestAccessLifetime(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	jwt := func(claims string) string { return "eyJhbGciOiJIUzI1NiJ9." + b64(claims) + ".sig" }
	tests := []struct {
		name   string
		access string
		date   time.Time
		want   time.Duration
		ok     bool
	}{
		{"exp - iat", jwt(`{"iat":1000,"exp":1900}`), time.Time{}, 900 * time.Second, true},
		{"iat and Date: the later", jwt(`{"iat":1000,"exp":1900}`), time.Unix(1030, 0), 870 * time.Second, true},
		{"Date after a stale iat", jwt(`{"iat":1000,"exp":1900}`), time.Unix(1800, 0), 100 * time.Second, true},
		{"Date behind iat", jwt(`{"iat":1000,"exp":1900}`), time.Unix(400, 0), 900 * time.Second, true},
		{"Date after exp: iat", jwt(`{"iat":1000,"exp":1900}`), time.Unix(2000, 0), 900 * time.Second, true},
		{"Date after exp, no iat: unknown", jwt(`{"exp":1900}`), time.Unix(2000, 0), 0, false},
		{"exp - Date", jwt(`{"exp":1900}`), time.Unix(1600, 0), 300 * time.Second, true},
		{"exp against the local clock", jwt(`{"exp":` + itoa(now.Unix()+60) + `}`), time.Time{}, time.Minute, true},
		{"exp in milliseconds", jwt(`{"iat":1780000000,"exp":1780000900000}`), time.Time{}, 0, false},
		{"both in milliseconds", jwt(`{"iat":1780000000000,"exp":1780000900000}`), time.Time{}, 0, false},
		{"expired at issue", jwt(`{"iat":1900,"exp":1000}`), time.Time{}, 0, false},
		{"negative exp", jwt(`{"exp":-5}`), time.Time{}, 0, false},
		{"no exp", jwt(`{"iat":1000}`), time.Time{}, 0, false},
		{"absurd iat ignored", jwt(`{"iat":1e15,"exp":1900}`), time.Unix(1600, 0), 300 * time.Second, true},
		{"not a JWT", "opaque", time.Time{}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := accessLifetime(tt.access, tt.date, now)
			assert.Equal(t, tt.ok, ok)
			if tt.ok {
				assert.Equal(t, tt.want, got)
			}
		})
	}
}

// TestStoreImpatientTwoFactorCaller gives up while the 2FA answer is on its
// way, after the server acted on it: the rotated pair must not be lost.
func TestStoreImpatientTwoFactorCaller(t *testing.T) {
	t.Parallel()
	for _, withHandler := range []bool{true, false} {
		name := map[bool]string{true: "Login with a handler", false: "CompleteTwoFactor"}[withHandler]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var opts []StoreOption
			var e *storeEnv
			if withHandler {
				opts = append(opts, WithTwoFactorHandler(func(ctx context.Context, m TwoFactorMethod) (string, error) {
					return e.srv.Code(e.secret)
				}))
			}
			e = newStoreEnv(t, nil, nil, opts...)
			bg := context.Background()
			if !withHandler {
				_, err := e.store.Login(bg, tom)
				require.ErrorIs(t, err, ErrTwoFactorRequired)
			}
			e.srv.Fail(userauthtest.PathTwoFactor, 1, userauthtest.Fault{Hold: 300 * time.Millisecond})
			ctx, cancel := context.WithCancel(bg)
			go func() {
				for e.srv.Calls(userauthtest.PathTwoFactor) == 0 {
					time.Sleep(time.Millisecond)
				}
				cancel() // the server has the request and acts on it; its answer is held back
			}()
			var err error
			if withHandler {
				_, err = e.store.Login(ctx, tom)
			} else {
				code, _ := e.srv.Code(e.secret)
				_, err = e.store.CompleteTwoFactor(ctx, code)
			}
			require.ErrorIs(t, err, context.Canceled)

			tok := waitForToken(t, e.store)
			assert.True(t, tok.Valid())
			resp := e.getAccount(t, userauthtest.PathAccount)
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, 0, e.srv.ReuseDetected())
			assert.Equal(t, 1, e.srv.Calls(userauthtest.PathTwoFactor))
		})
	}
}

// waitForToken waits for the 2FA step a caller gave up on to be saved.
func waitForToken(t *testing.T, s *TokenStore) *Token {
	t.Helper()
	var tok *Token
	require.Eventually(t, func() bool {
		var err error
		tok, err = s.Token(context.Background())
		return err == nil
	}, 10*time.Second, 5*time.Millisecond, "the 2FA step's answer was saved")
	return tok
}

// TestStoreLoginHandlerBlocksWhileAnotherRenews: two stores on one file;
// one logs in and its 2FA handler blocks while the other needs a token.
// The other must wait for the step, not spend the pending refresh token.
func TestStoreLoginHandlerBlocksWhileAnotherRenews(t *testing.T) {
	t.Parallel()
	storage, err := NewFileStorage(filepath.Join(t.TempDir(), "tokens.json"))
	require.NoError(t, err)
	asked, release := make(chan struct{}), make(chan struct{})
	var e *storeEnv
	e = newStoreEnv(t, nil, storage, WithTwoFactorHandler(func(ctx context.Context, m TwoFactorMethod) (string, error) {
		close(asked)
		<-release
		return e.srv.Code(e.secret)
	}))
	var otherAsked atomic.Int32
	other := mustStore(t, e.client, storage, WithClock(e.srv.Now),
		WithTwoFactorHandler(func(ctx context.Context, m TwoFactorMethod) (string, error) {
			otherAsked.Add(1)
			return e.srv.Code(e.secret)
		}))
	ctx := context.Background()
	login := make(chan error, 1)
	go func() {
		_, err := e.store.Login(ctx, tom)
		login <- err
	}()
	<-asked
	got := make(chan string, 1)
	go func() {
		tok, err := other.AccessToken(ctx)
		assert.NoError(t, err)
		got <- tok
	}()
	assert.Never(t, func() bool { return otherAsked.Load() > 0 }, 200*time.Millisecond, 5*time.Millisecond,
		"the other store completed the pending step itself")
	close(release)
	require.NoError(t, <-login)
	tok, err := e.store.AccessToken(ctx)
	require.NoError(t, err)
	assert.Equal(t, tok, <-got, "the other store adopted the login's complete token")
	assert.Equal(t, 0, e.srv.ReuseDetected())
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathTwoFactor))
}

// TestStoreTwoFactorRefusedEndsTheSession: /auth/2fa refuses the pending
// refresh token (401): the pending session is over, and the handler is not
// asked again and again.
func TestStoreTwoFactorRefusedEndsTheSession(t *testing.T) {
	t.Parallel()
	var asked atomic.Int32
	var e *storeEnv
	e = newStoreEnv(t, nil, nil, WithTwoFactorHandler(func(ctx context.Context, m TwoFactorMethod) (string, error) {
		asked.Add(1)
		return e.srv.Code(e.secret)
	}))
	e.srv.Fail(userauthtest.PathTwoFactor, 1, userauthtest.Fault{Status: http.StatusUnauthorized, Body: `{"error":"Invalid refresh token"}`})
	ctx := context.Background()
	_, err := e.store.Login(ctx, tom)
	require.ErrorIs(t, err, ErrLoginRequired)
	var ce *ClientError
	require.ErrorAs(t, err, &ce, "the server's answer is kept")
	assert.Equal(t, http.StatusUnauthorized, ce.StatusCode)
	saved, _ := loadPair(ctx, e.storage)
	assert.Nil(t, saved, "the pending session is cleared")
	for range 3 {
		e.srv.Advance(failureMemory)
		_, err = e.store.AccessToken(ctx)
		assert.ErrorIs(t, err, ErrLoginRequired)
	}
	assert.Equal(t, int32(1), asked.Load(), "handler asked once")
}

// TestStorePendingStepCompletedElsewhere: a second store on the same file
// completes the 2FA step the first one left pending; the first picks the
// complete token up without a new login.
func TestStorePendingStepCompletedElsewhere(t *testing.T) {
	t.Parallel()
	storage, err := NewFileStorage(filepath.Join(t.TempDir(), "tokens.json"))
	require.NoError(t, err)
	e := newStoreEnv(t, nil, storage)
	ctx := context.Background()
	_, err = e.store.Login(ctx, tom)
	require.ErrorIs(t, err, ErrTwoFactorRequired)
	_, err = e.store.AccessToken(ctx)
	require.ErrorIs(t, err, ErrTwoFactorRequired)

	other := mustStore(t, e.client, storage, WithClock(e.srv.Now))
	code, err := e.srv.Code(e.secret)
	require.NoError(t, err)
	done, err := other.CompleteTwoFactor(ctx, code)
	require.NoError(t, err)

	got, err := e.store.AccessToken(ctx)
	require.NoError(t, err)
	assert.Equal(t, done.AccessToken, got)
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathLogin))
}

// TestStoreLogoutWinsOverARenewalElsewhere logs out while another store on
// the same file is in the middle of a refresh: the refresh must not write
// the session back.
func TestStoreLogoutWinsOverARenewalElsewhere(t *testing.T) {
	t.Parallel()
	storage, err := NewFileStorage(filepath.Join(t.TempDir(), "tokens.json"))
	require.NoError(t, err)
	e := newStoreEnv(t, nil, storage)
	ctx := context.Background()
	_, err = e.store.Login(ctx, ann)
	require.NoError(t, err)
	other := mustStore(t, e.client, storage, WithClock(e.srv.Now))
	_, err = other.AccessToken(ctx)
	require.NoError(t, err)

	e.srv.Advance(16 * time.Minute)
	e.srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Delay: 300 * time.Millisecond})
	renewed := make(chan error, 1)
	go func() {
		_, err := other.AccessToken(ctx)
		renewed <- err
	}()
	require.Eventually(t, func() bool { return e.srv.Calls(userauthtest.PathRefresh) == 1 },
		5*time.Second, time.Millisecond, "the other store's refresh reaches the server")
	require.NoError(t, e.store.Logout(ctx))
	<-renewed

	saved, err := loadPair(ctx, storage)
	require.NoError(t, err)
	assert.Nil(t, saved, "the logout wins: storage stays empty")
	e.srv.Advance(16 * time.Minute)
	for name, s := range map[string]*TokenStore{"logged out": e.store, "other": other} {
		_, err := s.AccessToken(ctx)
		assert.ErrorIs(t, err, ErrLoginRequired, name)
	}
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestStoreTwoStoresOneMemoryStorage: two stores in one process share a
// MemoryStorage, as two services of one program might; when the token
// expires they renew once between them, under the storage's lock.
func TestStoreTwoStoresOneMemoryStorage(t *testing.T) {
	t.Parallel()
	storage := NewMemoryStorage()
	e := newStoreEnv(t, nil, storage)
	ctx := context.Background()
	_, err := e.store.Login(ctx, ann)
	require.NoError(t, err)
	other := mustStore(t, e.client, storage, WithClock(e.srv.Now))
	for round := 1; round <= 20; round++ {
		e.srv.Advance(16 * time.Minute)
		var wg sync.WaitGroup
		tokens := make([]string, 2)
		for i, s := range []*TokenStore{e.store, other} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var err error
				tokens[i], err = s.AccessToken(ctx)
				assert.NoError(t, err)
			}()
		}
		wg.Wait()
		require.Equal(t, tokens[0], tokens[1], "round %d", round)
		require.Equal(t, round, e.srv.Calls(userauthtest.PathRefresh), "round %d: one refresh", round)
	}
	assert.Equal(t, 0, e.srv.ReuseDetected())
}
