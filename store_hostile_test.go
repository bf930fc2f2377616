package userauth_test

// Tests of TokenStore, FileStorage and MemoryStorage against a hostile
// world (a failing or slow storage, a second process, skewed clocks, a
// hostile server, impatient callers), written against the public API only.
// Each TestHostileStore... asserts a documented guarantee and fails when it
// is broken.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
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

// ---------------------------------------------------------------------------
// Harness

var (
	atkAnn = userauth.LoginRequest{Email: "ann@attack.test", Password: "pw-ann-SECRET-1"}
	atkTom = userauth.LoginRequest{Email: "tom@attack.test", Password: "pw-tom-SECRET-2"}
)

type atkEnv struct {
	srv    *userauthtest.Server
	client *userauth.Client
	secret string // tom's TOTP secret
	logs   *lockedBuf
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newAtkEnv(t *testing.T, opts ...userauthtest.Option) *atkEnv {
	t.Helper()
	srv := userauthtest.NewServer(opts...)
	t.Cleanup(srv.Close)
	_, err := srv.AddUser(userauthtest.User{Email: atkAnn.Email, Password: atkAnn.Password})
	require.NoError(t, err)
	secret, err := srv.AddUser(userauthtest.User{Email: atkTom.Email, Password: atkTom.Password, TwoFactor: userauthtest.TwoFactorTOTP})
	require.NoError(t, err)
	logs := &lockedBuf{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := userauth.NewClient(srv.URL, userauth.WithHTTPClient(srv.Client()),
		userauth.WithRetry(2, time.Millisecond, 2*time.Millisecond), userauth.WithLogger(logger))
	require.NoError(t, err)
	return &atkEnv{srv: srv, client: c, secret: secret, logs: logs}
}

// store makes a TokenStore over storage whose clock is the fake's.
func (e *atkEnv) store(t *testing.T, storage userauth.TokenStorage, opts ...userauth.StoreOption) *userauth.TokenStore {
	t.Helper()
	opts = append([]userauth.StoreOption{userauth.WithClock(e.srv.Now)}, opts...)
	s, err := userauth.NewTokenStore(e.client, storage, opts...)
	require.NoError(t, err)
	return s
}

// annStore is a store over storage (see store) with ann logged in.
func (e *atkEnv) annStore(t *testing.T, storage userauth.TokenStorage, opts ...userauth.StoreOption) *userauth.TokenStore {
	t.Helper()
	s := e.store(t, storage, opts...)
	_, err := s.Login(context.Background(), atkAnn)
	require.NoError(t, err)
	return s
}

// handler answers tom's current TOTP code and counts its calls.
func (e *atkEnv) handler(calls *atomic.Int32) userauth.TwoFactorHandler {
	return func(ctx context.Context, m userauth.TwoFactorMethod) (string, error) {
		calls.Add(1)
		return e.srv.Code(e.secret)
	}
}

// quiesce waits until the fake has seen no call for a while: background
// renewals have ended.
func (e *atkEnv) quiesce() {
	last, stable := "", 0
	for stable < 10 {
		time.Sleep(10 * time.Millisecond)
		now := fmt.Sprint(e.srv.AllCalls())
		if now == last {
			stable++
		} else {
			stable, last = 0, now
		}
	}
}

// claims decodes the payload of a JWT without checking it.
func claims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	require.Len(t, parts, 3)
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var c map[string]any
	require.NoError(t, json.Unmarshal(raw, &c))
	return c
}

// serverExp is the exp claim, by the fake's clock.
func serverExp(t *testing.T, jwt string) time.Time {
	exp, ok := claims(t, jwt)["exp"].(float64)
	require.True(t, ok)
	return time.Unix(int64(exp), 0)
}

// failingStorage wraps a MemoryStorage (its Locker included): the next
// failSaves saves fail with a plain error; while down, everything fails
// with ErrStorageUnavailable; slowSave makes the next save outlive its
// context first.
type failingStorage struct {
	*userauth.MemoryStorage
	saveBudget
	down  atomic.Bool
	saves atomic.Int32
}

var errUnavailable = fmt.Errorf("hostile: cache down: %w", userauth.ErrStorageUnavailable)

func (f *failingStorage) Load(ctx context.Context) (*userauth.Record, error) {
	if f.down.Load() {
		return nil, errUnavailable
	}
	return f.MemoryStorage.Load(ctx)
}

func (f *failingStorage) Save(ctx context.Context, t *userauth.Record) error {
	f.saves.Add(1)
	if f.down.Load() {
		return errUnavailable
	}
	if f.refuse() {
		return errors.New("hostile: saving tokens: disk full")
	}
	return f.MemoryStorage.Save(ctx, t)
}

// saveBudget refuses saves on demand: refuseSaves lets the next pass
// saves through, then refuses n.
type saveBudget struct {
	mu         sync.Mutex
	pass, fail int
}

func (b *saveBudget) refuseSaves(pass, n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pass, b.fail = pass, n
}

// refuse counts one save off the budget and reports whether it is refused.
func (b *saveBudget) refuse() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.pass > 0:
		b.pass--
	case b.fail > 0:
		b.fail--
		return true
	}
	return false
}

func (f *failingStorage) Lock(ctx context.Context) (func(), error) {
	if f.down.Load() {
		return nil, errUnavailable
	}
	return f.MemoryStorage.Lock(ctx)
}

// ---------------------------------------------------------------------------
// Sessions that must not be lost, spent twice or brought back

// TestHostileStoreSaveFailureKeepsOthersOffTheSpentToken: store A
// refreshes, and its Save fails (disk full, an OOM reply from a cache: not
// "unavailable"). Store B, sharing the storage, must never find the old
// pair and present its spent refresh token (the server would take it for
// theft and revoke the session, A's pair included).
func TestHostileStoreSaveFailureKeepsOthersOffTheSpentToken(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := &failingStorage{MemoryStorage: userauth.NewMemoryStorage()}
	a, b := e.sharedSession(t, storage)

	e.srv.Advance(16 * time.Minute) // both stores' token expired
	// The check that storage takes writes passes, then the disk fills up:
	// the new pair is refused.
	storage.refuseSaves(1, 1)
	_, errA := a.AccessToken(ctx) // refreshes; the save fails
	t.Logf("A after its failed save: %v", errA)
	require.Equal(t, 1, e.srv.Calls(userauthtest.PathRefresh))

	_, errB := b.AccessToken(ctx)
	t.Logf("B: %v", errB)
	assert.Equal(t, 0, e.srv.ReuseDetected(), "B presented the refresh token A had spent")
	assert.NoError(t, errB, "B should get the session's token, not a revoked session")
	e.srv.Advance(2 * time.Second) // past the store's failure memory
	_, errA = a.AccessToken(ctx)
	assert.NoError(t, errA, "A's rotated pair should still be good")
}

// slowSaveFileStorage is a FileStorage whose first save is slow: it
// outlives the renewal's context, as a stalled disk would.
type slowSaveFileStorage struct {
	*userauth.FileStorage
	slow atomic.Bool
}

func (s *slowSaveFileStorage) Save(ctx context.Context, t *userauth.Record) error {
	if s.slow.CompareAndSwap(true, false) {
		<-ctx.Done()
	}
	return s.FileStorage.Save(ctx, t)
}

// TestHostileStoreSlowSaveKeepsOthersOffTheSpentToken: the same,
// from a slow disk instead of a failing one: a save that outlives the
// renewal's context (WithRefreshTimeout) must still land, or leave no
// spent pair behind for a second store on the same file.
func TestHostileStoreSlowSaveKeepsOthersOffTheSpentToken(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	fs, err := userauth.NewFileStorage(filepath.Join(t.TempDir(), "tokens.json"))
	require.NoError(t, err)
	slow := &slowSaveFileStorage{FileStorage: fs}
	a := e.store(t, slow, userauth.WithRefreshTimeout(500*time.Millisecond))
	b := e.store(t, fs) // another process: plain FileStorage on the same path
	_, err = a.Login(ctx, atkAnn)
	require.NoError(t, err)

	e.srv.Advance(16 * time.Minute)
	slow.slow.Store(true)
	_, errA := a.AccessToken(ctx)
	t.Logf("A: %v", errA)
	_, errB := b.AccessToken(ctx)
	t.Logf("B: %v", errB)
	assert.Equal(t, 0, e.srv.ReuseDetected(), "B presented the refresh token A had spent")
	assert.NoError(t, errB)
}

// TestHostileStoreSaveFailureServesTheStillValidToken: a due (not expired)
// token, one background renewal whose Save fails. Token's doc: "When such
// a failure hits a token that has not expired yet, the token is returned
// instead": callers keep the old access token, valid for minutes more.
func TestHostileStoreSaveFailureServesTheStillValidToken(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := &failingStorage{MemoryStorage: userauth.NewMemoryStorage()}
	s := e.store(t, storage, userauth.WithRefreshSkew(5*time.Minute))
	first, err := s.Login(ctx, atkAnn)
	require.NoError(t, err)

	e.srv.Advance(12 * time.Minute) // due (5 min skew), valid 3 more minutes
	storage.refuseSaves(0, 1000)    // the disk stays full for a while
	got, err := s.AccessToken(ctx)
	require.NoError(t, err, "a due token is handed out at once")
	assert.Equal(t, first.AccessToken, got)
	e.quiesce() // the background renewal found storage refusing writes and spent nothing

	for i := range 5 {
		e.srv.Advance(300 * time.Millisecond)
		got, err := s.AccessToken(ctx)
		if !assert.NoError(t, err, "call %d: the old token has not expired", i) {
			continue
		}
		assert.True(t, serverExp(t, got).After(e.srv.Now()))
	}
	_, err = s.Token(ctx)
	assert.NoError(t, err, "Token: the old token has not expired")
	assert.Equal(t, http.StatusOK, bearerGet(t, e, first.AccessToken, userauthtest.PathAccount),
		"the server still accepts the old access token")
}

// TestHostileStoreReplicasWithSkewedClocksShareAbsoluteExpiry: Token.Expiry
// is saved as an instant of the writer's clock. Two replicas share one
// storage (MemoryStorage here; redisstore in production), one with a clock
// an hour ahead. Neither may refresh every token the other saved, nor hand
// out an access token the server has expired.
func TestHostileStoreReplicasWithSkewedClocksShareAbsoluteExpiry(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := userauth.NewMemoryStorage()
	onTime := e.store(t, storage, userauth.WithBlockingRefresh())
	ahead := e.store(t, storage, userauth.WithBlockingRefresh(),
		userauth.WithClock(func() time.Time { return e.srv.Now().Add(time.Hour) }))
	_, err := onTime.Login(ctx, atkAnn)
	require.NoError(t, err)

	expiredHandedOut := map[string]int{}
	const minutes = 90
	for range minutes {
		e.srv.Advance(time.Minute)
		for name, s := range map[string]*userauth.TokenStore{"on time": onTime, "an hour ahead": ahead} {
			tok, err := s.AccessToken(ctx)
			require.NoError(t, err)
			if !serverExp(t, tok).After(e.srv.Now()) {
				expiredHandedOut[name]++
			}
		}
	}
	refreshes := e.srv.Calls(userauthtest.PathRefresh)
	t.Logf("refreshes over %d min of 15 min tokens: %d; expired tokens handed out (minutes): %v", minutes, refreshes, expiredHandedOut)
	assert.Empty(t, expiredHandedOut, "AccessToken handed out access tokens the server had expired")
	assert.LessOrEqual(t, refreshes, minutes/15+1, "at most one refresh per token lifetime")
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

// TestHostileStoreStepUpAfterRenewalElsewhere: a 424 with a 2FA
// handler must get one shared 2FA step and one repeat, also when another
// store sharing the storage renewed the tokens (an ordinary refresh, no 2FA
// step) since this store last looked: a different pair is not a 2FA step.
func TestHostileStoreStepUpAfterRenewalElsewhere(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t, userauthtest.WithTwoFactorGrace(time.Minute))
	ctx := context.Background()
	storage := userauth.NewMemoryStorage()
	var callsA, callsB atomic.Int32
	a := e.store(t, storage, userauth.WithTwoFactorHandler(e.handler(&callsA)))
	b := e.store(t, storage, userauth.WithTwoFactorHandler(e.handler(&callsB)))
	_, err := a.Login(ctx, atkTom)
	require.NoError(t, err)
	_, err = b.AccessToken(ctx)
	require.NoError(t, err)

	e.srv.Advance(2 * time.Minute) // grace over; access token still fresh
	_, err = b.Refresh(ctx)        // another replica renews, as it routinely does
	require.NoError(t, err)

	resp, err := a.HTTPClient().Get(e.srv.URL + userauthtest.PathSensitive)
	require.NoError(t, err)
	resp.Body.Close()
	t.Logf("status %d; handler calls after login: A %d, B %d; 2fa calls %d",
		resp.StatusCode, callsA.Load()-1, callsB.Load(), e.srv.Calls(userauthtest.PathTwoFactor))
	assert.Equal(t, http.StatusOK, resp.StatusCode, "a 424 with a handler: one 2FA step and one repeat")
}

// TestHostileStoreLogoutWinsOverAHungRenewal: the store's token expired
// and its renewal is stuck: the server does not answer
// /auth/token/refresh, or the storage's Load blocks (until its context
// ends). Logout waits for it as long as its context allows: a short one
// returns the context's error at once and changes nothing; one that
// outlasts the refresh timeout logs out, and the session stays ended.
func TestHostileStoreLogoutWinsOverAHungRenewal(t *testing.T) {
	t.Parallel()
	for _, stuck := range []string{"server hangs on refresh", "storage Load blocks"} {
		t.Run(stuck, func(t *testing.T) {
			e := newAtkEnv(t)
			ctx := context.Background()
			storage := &blockingLoad{MemoryStorage: userauth.NewMemoryStorage()}
			s := e.store(t, storage, userauth.WithRefreshTimeout(2*time.Second))
			first, err := s.Login(ctx, atkAnn)
			require.NoError(t, err)

			e.srv.Advance(16 * time.Minute)
			if stuck == "storage Load blocks" {
				storage.blockOnce.Store(true)
			} else {
				e.srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Hang: true})
			}
			go func() { _, _ = s.AccessToken(ctx) }()
			require.Eventually(t, func() bool {
				return e.srv.Calls(userauthtest.PathRefresh) == 1 || storage.blocked.Load()
			}, 5*time.Second, time.Millisecond, "the renewal is stuck")

			lctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancel()
			require.ErrorIs(t, s.Logout(lctx), context.DeadlineExceeded)
			saved, _ := loadPair(ctx, storage.MemoryStorage)
			require.NotNil(t, saved, "a Logout that gave up changes nothing")
			assert.Equal(t, first.RefreshToken, saved.RefreshToken)

			require.NoError(t, s.Logout(ctx), "waits for the stuck renewal, bounded by the refresh timeout")
			saved, _ = loadPair(ctx, storage.MemoryStorage)
			assert.Nil(t, saved, "storage cleared when Logout returns")
			e.quiesce()
			saved, _ = loadPair(ctx, storage.MemoryStorage)
			assert.Nil(t, saved, "storage still empty after the renewal ended")
			e.srv.Advance(2 * time.Second)
			_, err = s.AccessToken(ctx)
			assert.ErrorIs(t, err, userauth.ErrLoginRequired, "logged out")
			assert.Equal(t, 0, e.srv.ReuseDetected())
		})
	}
}

// TestHostileStoreLoginDuringOutageStaysLoggedOut: degraded mode. Store B
// logs in while the shared storage is unreachable (the login is kept in
// memory, "lagging"). The storage returns; store A logs out, which revokes
// every session of the user on the server and clears the storage. B's next
// renewal must not write its login back into the storage (a revoked
// session every store would then adopt instead of ErrLoginRequired).
func TestHostileStoreLoginDuringOutageStaysLoggedOut(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := &failingStorage{MemoryStorage: userauth.NewMemoryStorage()}
	a, b := e.sharedSession(t, storage)

	storage.down.Store(true)
	_, err := b.Login(ctx, atkAnn)
	require.NoError(t, err, "degraded: the login is kept in memory")
	storage.down.Store(false)

	require.NoError(t, a.Logout(ctx))
	saved, _ := loadPair(ctx, storage)
	require.Nil(t, saved)

	_, _ = b.AccessToken(ctx) // B's lagging pair is saved "at the next renewal"
	e.quiesce()
	saved, _ = loadPair(ctx, storage)
	assert.Nil(t, saved, "a store wrote a session back after Logout")
	tok, err := a.AccessToken(ctx)
	assert.ErrorIs(t, err, userauth.ErrLoginRequired, "after Logout the next renewal answers ErrLoginRequired")
	if err == nil {
		resp := bearerGet(t, e, tok, userauthtest.PathAccount)
		t.Logf("token handed out after logout; the server answers it %d", resp)
	}
}

func bearerGet(t *testing.T, e *atkEnv, tok, path string) int {
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := e.srv.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// TestHostileStoreFileStorageExpBeforeIatIsUnknownExpiry: a server whose tokens
// have exp < iat. The store treats that as an unknown expiry, trusted for
// five minutes, and saves Expiry zero. FileStorage.Load must not fill it
// from the raw exp claim, a time already past, or every store that loads
// the file (another process, or this one restarted) takes the just-saved
// token for expired and refreshes at once.
func TestHostileStoreFileStorageExpBeforeIatIsUnknownExpiry(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t, userauthtest.WithTokenClaims(func(c map[string]any) {
		c["exp"] = c["iat"].(int64) - 60
	}))
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tokens.json")
	fsA, err := userauth.NewFileStorage(path)
	require.NoError(t, err)
	a := e.store(t, fsA)
	tok, err := a.Login(ctx, atkAnn)
	require.NoError(t, err, "an absurd exp never errors")
	assert.True(t, tok.Expiry.IsZero(), "unknown expiry")

	for i := range 3 { // three more processes start within a minute
		fsB, err := userauth.NewFileStorage(path)
		require.NoError(t, err)
		b := e.store(t, fsB)
		_, err = b.AccessToken(ctx)
		require.NoError(t, err)
		e.srv.Advance(10 * time.Second)
		_ = i
	}
	assert.Equal(t, 0, e.srv.Calls(userauthtest.PathRefresh),
		"a token of unknown expiry saved seconds ago is trusted for five minutes, not refreshed by every reader")
}

// TestHostileStoreTruncatedRefreshAnswerNotRespent: the server rotates the refresh
// token and answers 200, but the body arrives cut short. The 200 says the
// token is spent; the SDK never retries a refresh for exactly that reason
// (docs/retries.md). The store must not present it again a failure-memory
// later (theft detection would revoke the session).
func TestHostileStoreTruncatedRefreshAnswerNotRespent(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	s := e.annStore(t, nil)
	e.srv.Advance(16 * time.Minute)
	e.srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Truncate: true})
	_, err := s.AccessToken(ctx)
	t.Logf("first renewal: %v", err)
	require.Error(t, err)
	e.srv.Advance(2 * time.Second)
	_, err = s.AccessToken(ctx)
	t.Logf("second renewal: %v", err)
	assert.Equal(t, 0, e.srv.ReuseDetected(), "the spent refresh token was presented again")
}

// TestHostileStoreHostileServerEchoesPasswordInRequires2FA: a hostile server
// answers the login with requires_2fa holding the password it was sent.
// Without a handler, the store's *TwoFactorRequiredError names the method:
// the password must not land in the error string (README: "Error strings
// never contain a password ... even when a server echoes them back").
func TestHostileStoreHostileServerEchoesPasswordInRequires2FA(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Password string `json:"password"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": "partial-access", "refresh_token": "partial-refresh",
			"requires_2fa": body.Password, "has_password": true,
		})
	}))
	t.Cleanup(ts.Close)
	c, err := userauth.NewClient(ts.URL, userauth.WithHTTPClient(ts.Client()))
	require.NoError(t, err)
	s, err := userauth.NewTokenStore(c, nil)
	require.NoError(t, err)
	_, err = s.Login(context.Background(), atkAnn)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), atkAnn.Password, "the error string holds the password")
	_, err = s.AccessToken(context.Background())
	require.Error(t, err)
	assert.NotContains(t, err.Error(), atkAnn.Password, "the error string holds the password")
}

// ---------------------------------------------------------------------------
// Storms, chaos and impatient callers

// TestHostileStoreStormsAcrossStoresAndFiles: three stores on one FileStorage path
// and one on a second FileStorage of the same path, 50 goroutines each,
// through AccessToken, Token, TokenSource and the Transport, over expiries
// in a row and forced 401s: one refresh per round, no reuse.
func TestHostileStoreStormsAcrossStoresAndFiles(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tokens.json")
	var stores []*userauth.TokenStore
	for range 4 {
		fs, err := userauth.NewFileStorage(path)
		require.NoError(t, err)
		stores = append(stores, e.store(t, fs))
	}
	_, err := stores[0].Login(ctx, atkAnn)
	require.NoError(t, err)
	for round := 1; round <= 6; round++ {
		if round%2 == 0 {
			e.srv.ExpireAccessTokens() // every store meets a 401
		} else {
			e.srv.Advance(16 * time.Minute)
		}
		var wg sync.WaitGroup
		for _, s := range stores {
			hc := s.HTTPClient()
			ts := s.TokenSource(ctx)
			for i := range 50 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					switch i % 4 {
					case 0:
						_, err := s.AccessToken(ctx)
						assert.NoError(t, err)
					case 1:
						_, err := ts.Token()
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
	}
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

// TestHostileStoreChaosOfWritersAcrossStores races Login, Refresh, Logout,
// LogoutLocal, SetToken, 401s and expiries across three stores sharing one
// MemoryStorage and two sharing one FileStorage: no refresh token is ever
// presented twice, nothing panics or deadlocks.
func TestHostileStoreChaosOfWritersAcrossStores(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	mem := userauth.NewMemoryStorage()
	path := filepath.Join(t.TempDir(), "tokens.json")
	var stores []*userauth.TokenStore
	for range 3 {
		stores = append(stores, e.store(t, mem))
	}
	for range 2 {
		fs, err := userauth.NewFileStorage(path)
		require.NoError(t, err)
		stores = append(stores, e.store(t, fs))
	}
	e.chaos(t, stores, 20, 7, 200*time.Millisecond, func(r *rand.Rand, ctx context.Context, s *userauth.TokenStore) {
		if resp, err := e.client.Login(ctx, atkAnn); err == nil {
			_, _ = s.SetToken(ctx, resp)
		}
	})
}

// chaos runs n goroutines for 4 s, each calling, again and again, on a
// random store and with a context of up to maxCtx: Login, Refresh,
// Logout, LogoutLocal, an expiry of every access token, a jump of the
// fake's clock, one of extra, or an API call through the store's
// HTTPClient and AccessToken (as often as all the others together). Then
// no refresh token may have been presented twice.
func (e *atkEnv) chaos(t *testing.T, stores []*userauth.TokenStore, n int, seed uint64, maxCtx time.Duration,
	extra ...func(r *rand.Rand, ctx context.Context, s *userauth.TokenStore)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	ops := 6 + len(extra)
	var wg sync.WaitGroup
	for g := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), seed))
			for ctx.Err() == nil {
				s := stores[r.IntN(len(stores))]
				cctx, c := context.WithTimeout(ctx, time.Duration(r.IntN(int(maxCtx))))
				switch op := r.IntN(2 * ops); op {
				case 0:
					_, _ = s.Login(cctx, atkAnn)
				case 1:
					_, _ = s.Refresh(cctx)
				case 2:
					_ = s.Logout(cctx)
				case 3:
					_ = s.LogoutLocal(cctx)
				case 4:
					e.srv.ExpireAccessTokens()
				case 5:
					e.srv.Advance(time.Duration(r.IntN(20)) * time.Minute)
				default:
					if op < ops {
						extra[op-6](r, cctx, s)
						break
					}
					if resp, err := s.HTTPClient().Get(e.srv.URL + userauthtest.PathAccount); err == nil {
						resp.Body.Close()
					}
					_, _ = s.AccessToken(cctx)
				}
				c()
			}
		}()
	}
	wg.Wait()
	e.quiesce()
	t.Logf("calls: %v", e.srv.AllCalls())
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

// TestHostileStoreLogoutWinsOverRenewalsEverywhere: for 20 rounds, one store
// logs out while the others (same MemoryStorage, same file) are in the
// middle of renewals held back by the server: after Logout returns the
// storage stays empty and every store answers ErrLoginRequired.
func TestHostileStoreLogoutWinsOverRenewalsEverywhere(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tokens.json")
	var stores []*userauth.TokenStore
	var fss []*userauth.FileStorage
	for range 3 {
		fs, err := userauth.NewFileStorage(path)
		require.NoError(t, err)
		fss = append(fss, fs)
		stores = append(stores, e.store(t, fs))
	}
	for round := range 10 {
		_, err := stores[round%3].Login(ctx, atkAnn)
		require.NoError(t, err)
		e.srv.Advance(16 * time.Minute)
		e.srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Hold: time.Duration(round*20) * time.Millisecond})
		var wg sync.WaitGroup
		for i, s := range stores {
			if i == round%3 {
				continue
			}
			wg.Add(1)
			go func() { defer wg.Done(); _, _ = s.AccessToken(ctx) }()
		}
		time.Sleep(time.Duration(round*10) * time.Millisecond)
		err = stores[round%3].Logout(ctx)
		assert.NoError(t, err, "round %d", round)
		wg.Wait()
		e.quiesce()
		saved, err := loadPair(ctx, fss[0])
		require.NoError(t, err)
		assert.Nil(t, saved, "round %d: storage empty after Logout", round)
		e.srv.Advance(16 * time.Minute)
		for i, s := range stores {
			_, err := s.AccessToken(ctx)
			assert.ErrorIs(t, err, userauth.ErrLoginRequired, "round %d store %d", round, i)
		}
	}
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

// TestHostileStoreImpatientCallersKeepRotatedPairs: callers give up while the
// server acted and holds the answer back, for a renewal, a Refresh, a
// Login's 2FA step and CompleteTwoFactor: the rotated pairs are saved, the
// session works, nothing is reused.
func TestHostileStoreImpatientCallersKeepRotatedPairs(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	bg := context.Background()
	storage := userauth.NewMemoryStorage()
	var calls atomic.Int32
	s := e.store(t, storage, userauth.WithTwoFactorHandler(e.handler(&calls)))
	other := e.store(t, storage) // no handler

	impatient := func(path string, do func(ctx context.Context) error) {
		e.srv.Fail(path, 1, userauthtest.Fault{Hold: 300 * time.Millisecond})
		before := e.srv.Calls(path)
		ctx, cancel := context.WithCancel(bg)
		go func() {
			for e.srv.Calls(path) == before {
				time.Sleep(time.Millisecond)
			}
			cancel()
		}()
		before2, _ := loadPair(bg, storage)
		err := do(ctx)
		assert.ErrorIs(t, err, context.Canceled, path)
		cancel()
		// The held answer arrives after the caller left: it must be saved.
		assert.Eventually(t, func() bool {
			now, _ := loadPair(bg, storage)
			return now != nil && now.Requires2FA == "" && (before2 == nil || now.RefreshToken != before2.RefreshToken)
		}, 5*time.Second, 5*time.Millisecond, "%s: the rotated pair was saved", path)
		e.quiesce()
	}
	impatient(userauthtest.PathTwoFactor, func(ctx context.Context) error { _, err := s.Login(ctx, atkTom); return err })
	saved, _ := loadPair(bg, storage)
	require.NotNil(t, saved)
	assert.Empty(t, saved.Requires2FA, "the 2FA answer was saved")

	e.srv.Advance(16 * time.Minute)
	impatient(userauthtest.PathRefresh, func(ctx context.Context) error { _, err := s.AccessToken(ctx); return err })
	impatient(userauthtest.PathRefresh, func(ctx context.Context) error { _, err := other.Refresh(ctx); return err })

	e.srv.RequireTwoFactorOnNextRefresh()
	_, err := other.Refresh(bg)
	require.ErrorIs(t, err, userauth.ErrTwoFactorRequired)
	code, _ := e.srv.Code(e.secret)
	impatient(userauthtest.PathTwoFactor, func(ctx context.Context) error { _, err := other.CompleteTwoFactor(ctx, code); return err })

	for _, st := range []*userauth.TokenStore{s, other} {
		resp, err := st.HTTPClient().Get(e.srv.URL + userauthtest.PathAccount)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
	}
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

// TestHostileStorePartialTokenNeverHandedOut: while a 2FA step is pending (after
// Login, after a refresh that asked for 2FA, in another store), AccessToken,
// Token, TokenSource, Refresh and the Transport never hand out or send the
// partial access token.
func TestHostileStorePartialTokenNeverHandedOut(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := userauth.NewMemoryStorage()
	s, other := e.store(t, storage), e.store(t, storage)
	var sent sync.Map
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if a := r.Header.Get("Authorization"); a != "" {
			sent.Store(strings.TrimPrefix(a, "Bearer "), true)
		}
		return e.srv.Client().Transport.RoundTrip(r)
	})
	check := func(st *userauth.TokenStore, partial string) {
		_, err := st.AccessToken(ctx)
		assert.ErrorIs(t, err, userauth.ErrTwoFactorRequired)
		tok, err := st.Token(ctx)
		assert.ErrorIs(t, err, userauth.ErrTwoFactorRequired)
		assert.Nil(t, tok)
		ot, err := st.TokenSource(ctx).Token()
		assert.Error(t, err)
		assert.Nil(t, ot)
		rt, err := st.Refresh(ctx)
		if err == nil {
			assert.NotEqual(t, partial, rt.AccessToken)
			assert.Empty(t, rt.Requires2FA)
		}
		hc := &http.Client{Transport: st.Transport(base)}
		if resp, err := hc.Get(e.srv.URL + userauthtest.PathAccount); err == nil {
			resp.Body.Close()
		}
		_, was := sent.Load(partial)
		assert.False(t, was, "the partial token was sent")
	}
	_, err := s.Login(ctx, atkTom)
	require.ErrorIs(t, err, userauth.ErrTwoFactorRequired)
	saved, _ := loadPair(ctx, storage)
	check(s, saved.AccessToken)
	check(other, saved.AccessToken)

	code, _ := e.srv.Code(e.secret)
	_, err = other.CompleteTwoFactor(ctx, code)
	require.NoError(t, err)
	_, err = s.AccessToken(ctx)
	require.NoError(t, err, "the step completed by another store is picked up")

	e.srv.RequireTwoFactorOnNextRefresh()
	e.srv.Advance(16 * time.Minute)
	_, err = s.AccessToken(ctx)
	require.ErrorIs(t, err, userauth.ErrTwoFactorRequired)
	saved, _ = loadPair(ctx, storage)
	require.NotEmpty(t, saved.Requires2FA)
	check(s, saved.AccessToken)
	check(other, saved.AccessToken)
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestHostileStoreTwoFactorRefusals: a 401 from /auth/2fa ends the pending
// session (handler asked once, then ErrLoginRequired); a 422 leaves it
// pending; a wrong code then the right one completes.
func TestHostileStoreTwoFactorRefusals(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	var calls atomic.Int32
	storage := userauth.NewMemoryStorage()
	s := e.store(t, storage, userauth.WithTwoFactorHandler(e.handler(&calls)))
	e.srv.Fail(userauthtest.PathTwoFactor, 1, userauthtest.Fault{Status: 401, Body: `{"error":"Invalid refresh token"}`})
	_, err := s.Login(ctx, atkTom)
	assert.ErrorIs(t, err, userauth.ErrLoginRequired)
	for range 5 {
		_, err = s.AccessToken(ctx)
		assert.ErrorIs(t, err, userauth.ErrLoginRequired)
	}
	assert.Equal(t, int32(1), calls.Load(), "handler asked once")
	saved, _ := loadPair(ctx, storage)
	assert.Nil(t, saved)

	plain := e.store(t, storage)
	_, err = plain.Login(ctx, atkTom)
	require.ErrorIs(t, err, userauth.ErrTwoFactorRequired)
	_, err = plain.CompleteTwoFactor(ctx, "000000")
	assert.ErrorIs(t, err, userauth.ErrInvalidCode)
	saved, _ = loadPair(ctx, storage)
	require.NotNil(t, saved)
	assert.NotEmpty(t, saved.Requires2FA, "still pending after a 422")
	code, _ := e.srv.Code(e.secret)
	_, err = plain.CompleteTwoFactor(ctx, code)
	require.NoError(t, err)
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

// TestHostileStoreRequireTwoFactorStormAcrossStores: refreshes that ask for 2FA,
// met by storms in two stores with handlers: one refresh and one 2FA step
// per round, the handler asked once per step.
func TestHostileStoreRequireTwoFactorStormAcrossStores(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t, userauthtest.WithTwoFactorGrace(time.Minute))
	ctx := context.Background()
	storage := userauth.NewMemoryStorage()
	var calls atomic.Int32
	stores := []*userauth.TokenStore{
		e.store(t, storage, userauth.WithTwoFactorHandler(e.handler(&calls))),
		e.store(t, storage, userauth.WithTwoFactorHandler(e.handler(&calls))),
	}
	_, err := stores[0].Login(ctx, atkTom)
	require.NoError(t, err)
	for round := 1; round <= 4; round++ {
		e.srv.RequireTwoFactorOnNextRefresh()
		e.srv.Advance(16 * time.Minute)
		var wg sync.WaitGroup
		for _, s := range stores {
			for range 30 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp, err := s.HTTPClient().Get(e.srv.URL + userauthtest.PathSensitive)
					if assert.NoError(t, err) {
						resp.Body.Close()
						assert.Equal(t, http.StatusOK, resp.StatusCode)
					}
				}()
			}
		}
		wg.Wait()
		e.quiesce()
		assert.Equal(t, round, e.srv.Calls(userauthtest.PathRefresh), "round %d", round)
		assert.Equal(t, int32(round+1), calls.Load(), "round %d: handler once per step", round)
	}
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

// TestHostileStoreStaleWhileRevalidate: a due token is handed out at once while
// the renewal is held back by the server; a failed background renewal
// (503) still serves the valid token; WithBlockingRefresh waits.
func TestHostileStoreStaleWhileRevalidate(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	s := e.store(t, nil)
	first, err := s.Login(ctx, atkAnn)
	require.NoError(t, err)
	e.srv.Advance(15*time.Minute - 10*time.Second)
	e.srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Delay: time.Second})
	start := time.Now()
	for range 100 {
		got, err := s.AccessToken(ctx)
		require.NoError(t, err)
		assert.Equal(t, first.AccessToken, got)
	}
	assert.Less(t, time.Since(start), 500*time.Millisecond, "due callers did not wait")
	e.quiesce()
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathRefresh))

	// A failed background renewal: the due token is still served.
	s2 := e.store(t, nil)
	tok2, err := s2.Login(ctx, atkAnn)
	require.NoError(t, err)
	e.srv.Advance(15*time.Minute - 10*time.Second)
	e.srv.Fail(userauthtest.PathRefresh, 5, userauthtest.Fault{Status: 500})
	for range 20 {
		got, err := s2.AccessToken(ctx)
		require.NoError(t, err)
		assert.Equal(t, tok2.AccessToken, got)
		e.srv.Advance(200 * time.Millisecond)
		e.quiesce()
	}

	// WithBlockingRefresh waits for the renewal of a due token.
	s3 := e.store(t, nil, userauth.WithBlockingRefresh())
	tok3, err := s3.Login(ctx, atkAnn)
	require.NoError(t, err)
	e.srv.Advance(15*time.Minute - 10*time.Second)
	got, err := s3.AccessToken(ctx)
	require.NoError(t, err)
	assert.NotEqual(t, tok3.AccessToken, got)
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

// TestHostileStoreNoGoroutineOutlivesRenewals: due renewals behind callers,
// impatient callers, a Login whose caller gave up during a held 2FA
// answer, a held renewal: once all settle, no goroutine of the store is
// left.
func TestHostileStoreNoGoroutineOutlivesRenewals(t *testing.T) {
	opts := []goleak.Option{goleak.IgnoreCurrent()}
	e := newAtkEnv(t)
	ctx := context.Background()
	var calls atomic.Int32
	s := e.store(t, nil, userauth.WithTwoFactorHandler(e.handler(&calls)))
	_, err := s.Login(ctx, atkTom)
	require.NoError(t, err)
	e.srv.Advance(15*time.Minute - 10*time.Second)
	e.srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Hold: 200 * time.Millisecond})
	for range 50 {
		_, err := s.AccessToken(ctx)
		require.NoError(t, err)
	}
	e.srv.Advance(time.Minute)
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	_, _ = s.AccessToken(cctx)
	cancel()
	e.srv.Fail(userauthtest.PathTwoFactor, 1, userauthtest.Fault{Hold: 200 * time.Millisecond})
	cctx, cancel = context.WithTimeout(ctx, 50*time.Millisecond)
	_, _ = s.Login(cctx, atkTom)
	cancel()
	e.quiesce()
	time.Sleep(300 * time.Millisecond)
	e.srv.Close()
	e.srv.Client().CloseIdleConnections()
	goleak.VerifyNone(t, opts...)
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

// TestHostileStoreSkewedClockSingleStore: a store an hour or a day ahead or
// behind the server: at most one refresh per token lifetime, never an
// expired token handed out.
func TestHostileStoreSkewedClockSingleStore(t *testing.T) {
	t.Parallel()
	for _, off := range []time.Duration{time.Hour, -time.Hour, 24 * time.Hour, -24 * time.Hour} {
		t.Run(off.String(), func(t *testing.T) {
			e := newAtkEnv(t)
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "tokens.json")
			fs, err := userauth.NewFileStorage(path)
			require.NoError(t, err)
			s := e.store(t, fs, userauth.WithBlockingRefresh(), userauth.WithClock(func() time.Time { return e.srv.Now().Add(off) }))
			_, err = s.Login(ctx, atkAnn)
			require.NoError(t, err)
			for m := range 60 {
				e.srv.Advance(time.Minute)
				if m == 30 { // a restart: a new store loads the file
					fs2, err := userauth.NewFileStorage(path)
					require.NoError(t, err)
					s = e.store(t, fs2, userauth.WithBlockingRefresh(), userauth.WithClock(func() time.Time { return e.srv.Now().Add(off) }))
				}
				tok, err := s.AccessToken(ctx)
				require.NoError(t, err)
				assert.True(t, serverExp(t, tok).After(e.srv.Now()), "minute %d: expired token", m)
			}
			assert.LessOrEqual(t, e.srv.Calls(userauthtest.PathRefresh), 60/15+1)
		})
	}
}

// TestHostileStoreAbsurdExpiries: exp in milliseconds, negative, zero, huge,
// non-numeric, before iat, no iat: Login never errors, the session saves to
// a FileStorage and renews, no reuse.
func TestHostileStoreAbsurdExpiries(t *testing.T) {
	t.Parallel()
	cases := map[string]func(c map[string]any){
		"ms":          func(c map[string]any) { c["exp"] = c["exp"].(int64) * 1000 },
		"negative":    func(c map[string]any) { c["exp"] = int64(-100) },
		"zero":        func(c map[string]any) { c["exp"] = int64(0) },
		"huge":        func(c map[string]any) { c["exp"] = 1e300 },
		"year 9000":   func(c map[string]any) { c["exp"] = int64(221845392000) },
		"string":      func(c map[string]any) { c["exp"] = "tomorrow" },
		"exp < iat":   func(c map[string]any) { c["exp"] = c["iat"].(int64) - 1 },
		"no iat":      func(c map[string]any) { delete(c, "iat") },
		"no exp":      func(c map[string]any) { delete(c, "exp") },
		"iat in ms":   func(c map[string]any) { c["iat"] = c["iat"].(int64) * 1000 },
		"exp == iat":  func(c map[string]any) { c["exp"] = c["iat"] },
		"1s lifetime": func(c map[string]any) { c["exp"] = c["iat"].(int64) + 1 },
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			e := newAtkEnv(t, userauthtest.WithTokenClaims(f))
			ctx := context.Background()
			fs, err := userauth.NewFileStorage(filepath.Join(t.TempDir(), "tokens.json"))
			require.NoError(t, err)
			s := e.store(t, fs)
			_, err = s.Login(ctx, atkAnn)
			require.NoError(t, err)
			saved, err := loadPair(ctx, fs)
			require.NoError(t, err)
			require.NotNil(t, saved)
			for range 20 {
				_, err := s.AccessToken(ctx)
				require.NoError(t, err)
			}
			_, err = s.Refresh(ctx)
			require.NoError(t, err)
			e.srv.Advance(6 * time.Minute)
			_, err = s.AccessToken(ctx)
			require.NoError(t, err)
			e.quiesce()
			assert.LessOrEqual(t, e.srv.Calls(userauthtest.PathRefresh), 3)
			assert.Equal(t, 0, e.srv.ReuseDetected())
		})
	}
}

// TestHostileStoreLogoutNeverHangs: a server that hangs on /logout, a storage
// whose Load blocks until the context ends, a FIFO at the token path: with
// a short context Logout returns soon; it logs out when it could read
// storage, and changes nothing when it could not.
func TestHostileStoreLogoutNeverHangs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("server hangs on /logout", func(t *testing.T) {
		e := newAtkEnv(t)
		storage := userauth.NewMemoryStorage()
		s := e.store(t, storage)
		_, err := s.Login(ctx, atkAnn)
		require.NoError(t, err)
		e.srv.Fail(userauthtest.PathLogout, 1, userauthtest.Fault{Hang: true})
		lctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		err = s.Logout(lctx)
		assert.Less(t, time.Since(start), time.Second)
		assert.ErrorIs(t, err, userauth.ErrNotRevoked)
		saved, _ := loadPair(ctx, storage)
		assert.Nil(t, saved)
	})
	t.Run("Load blocks", func(t *testing.T) {
		e := newAtkEnv(t)
		storage := &blockingLoad{MemoryStorage: userauth.NewMemoryStorage()}
		s := e.store(t, storage)
		_, err := s.Login(ctx, atkAnn)
		require.NoError(t, err)
		storage.block.Store(true)
		lctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		err = s.Logout(lctx)
		assert.Less(t, time.Since(start), time.Second)
		// A Logout that cannot read storage within its context changes
		// nothing: its context's error, the session as it was.
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		saved, _ := loadPair(ctx, storage.MemoryStorage)
		assert.NotNil(t, saved)
		assert.Zero(t, e.srv.Calls(userauthtest.PathLogout))
	})
	t.Run("FIFO at the token path", func(t *testing.T) {
		e := newAtkEnv(t)
		path := filepath.Join(t.TempDir(), "tokens.json")
		fs, err := userauth.NewFileStorage(path)
		require.NoError(t, err)
		s := e.store(t, fs)
		_, err = s.Login(ctx, atkAnn)
		require.NoError(t, err)
		require.NoError(t, os.Remove(path))
		if out, err := exec.Command("mkfifo", "-m", "600", path).CombinedOutput(); err != nil {
			t.Skipf("mkfifo: %v: %s", err, out)
		}
		lctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		start := time.Now()
		err = s.Logout(lctx)
		t.Logf("Logout: %v", err)
		assert.Less(t, time.Since(start), time.Second)
		assert.ErrorContains(t, err, "named pipe", "the storage that could not be cleared is reported")
		assert.NotErrorIs(t, err, userauth.ErrNotRevoked, "the server revoked the session")
	})
}

// blockingLoad is a MemoryStorage whose Load blocks until its context
// ends: always while block is set, once when blockOnce is.
type blockingLoad struct {
	*userauth.MemoryStorage
	block, blockOnce, blocked atomic.Bool
}

func (b *blockingLoad) Load(ctx context.Context) (*userauth.Record, error) {
	if b.block.Load() || b.blockOnce.CompareAndSwap(true, false) {
		b.blocked.Store(true)
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return b.MemoryStorage.Load(ctx)
}

// TestHostileStoreSaveFailureSingleStore: one store, its Save fails once after a
// refresh: the pair is not handed out unsaved, is saved at the next look,
// never refreshed twice; OnTokenChange is told once per change, with what
// storage holds.
func TestHostileStoreSaveFailureSingleStore(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := &failingStorage{MemoryStorage: userauth.NewMemoryStorage()}
	var mu sync.Mutex
	var changes []userauth.Token
	s := e.store(t, storage, userauth.WithOnTokenChange(func(tok userauth.Token) {
		saved, _ := loadPair(ctx, storage.MemoryStorage)
		mu.Lock()
		defer mu.Unlock()
		changes = append(changes, tok)
		if saved != nil {
			assert.Equal(t, saved.RefreshToken, tok.RefreshToken, "OnTokenChange told a token storage does not hold")
		}
	}))
	old, err := s.Login(ctx, atkAnn)
	require.NoError(t, err)
	e.srv.Advance(16 * time.Minute)
	storage.refuseSaves(1, 3) // the spending record is written, then every attempt at the new pair fails
	renewed, err := s.AccessToken(ctx)
	require.NoError(t, err, "the rotated pair is served while storage refuses it")
	e.srv.Advance(2 * time.Second)
	tok, err := s.Token(ctx)
	require.NoError(t, err)
	assert.Equal(t, renewed, tok.AccessToken)
	assert.NotEqual(t, old.RefreshToken, tok.RefreshToken)
	require.Eventually(t, func() bool {
		saved, _ := loadPair(ctx, storage)
		return saved != nil && saved.RefreshToken == tok.RefreshToken
	}, 5*time.Second, time.Millisecond, "written back behind the callers")
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathRefresh))
	mu.Lock()
	assert.Len(t, changes, 2, "login and the renewal")
	mu.Unlock()
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

// TestHostileStoreStorageOutage: ErrStorageUnavailable degrades (a valid token
// keeps being served, an expired one is renewed in-process); WithFailClosed
// refuses to renew instead.
func TestHostileStoreStorageOutage(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := &failingStorage{MemoryStorage: userauth.NewMemoryStorage()}
	s := e.store(t, storage)
	closed := e.store(t, storage, userauth.WithFailClosed())
	_, err := s.Login(ctx, atkAnn)
	require.NoError(t, err)
	_, err = closed.AccessToken(ctx)
	require.NoError(t, err)
	storage.down.Store(true)
	e.srv.Advance(16 * time.Minute)
	_, err = s.AccessToken(ctx)
	assert.NoError(t, err)
	_, err = closed.AccessToken(ctx)
	assert.ErrorIs(t, err, userauth.ErrStorageUnavailable)
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathRefresh))
	storage.down.Store(false)
	e.srv.Advance(2 * time.Second)
	_, err = s.AccessToken(ctx)
	require.NoError(t, err)
	e.quiesce()
	_, err = closed.AccessToken(ctx)
	assert.NoError(t, err)
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

// TestHostileStoreNoSecretsInLogsOrErrors runs renewals, failures, 2FA steps,
// a 424, a logout with a failing server, and checks that no token, code or
// password reaches the Client's logger or an error string.
func TestHostileStoreNoSecretsInLogsOrErrors(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t, userauthtest.WithTwoFactorGrace(time.Minute))
	ctx := context.Background()
	storage := &failingStorage{MemoryStorage: userauth.NewMemoryStorage()}
	var codes []string
	var mu sync.Mutex
	s := e.store(t, storage, userauth.WithTwoFactorHandler(func(ctx context.Context, m userauth.TwoFactorMethod) (string, error) {
		c, err := e.srv.Code(e.secret)
		mu.Lock()
		codes = append(codes, c)
		mu.Unlock()
		return c, err
	}))
	var secrets []string
	var errs []error
	record := func(tok *userauth.Token, err error) {
		if tok != nil {
			secrets = append(secrets, tok.AccessToken, tok.RefreshToken)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	record(s.Login(ctx, atkTom))
	e.srv.Advance(2 * time.Minute)
	resp, err := s.HTTPClient().Get(e.srv.URL + userauthtest.PathSensitive)
	require.NoError(t, err)
	resp.Body.Close()
	record(s.Token(ctx))
	e.srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Status: 500, Body: `{"error":"boom"}`})
	e.srv.Advance(15 * time.Minute)
	record(s.Token(ctx))
	e.srv.Advance(2 * time.Second)
	storage.refuseSaves(1, 1) // the rotated pair is refused
	record(s.Refresh(ctx))
	e.srv.Advance(2 * time.Second)
	record(s.Token(ctx))
	storage.down.Store(true)
	record(s.Refresh(ctx))
	storage.down.Store(false)
	e.srv.Advance(2 * time.Second)
	record(s.Token(ctx))
	e.srv.Fail(userauthtest.PathLogout, 1, userauthtest.Fault{Status: 500})
	if err := s.Logout(ctx); err != nil {
		errs = append(errs, err)
	}
	saved, _ := loadPair(ctx, storage.MemoryStorage)
	if saved != nil {
		secrets = append(secrets, saved.AccessToken, saved.RefreshToken)
	}
	mu.Lock()
	secrets = append(secrets, codes...)
	mu.Unlock()
	secrets = append(secrets, atkTom.Password)
	logs := e.logs.String()
	require.NotEmpty(t, logs)
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		assert.NotContains(t, logs, sec, "a secret in the log")
		for _, err := range errs {
			assert.NotContains(t, err.Error(), sec, "a secret in an error")
		}
	}
	t.Logf("%d errors checked, %d secrets", len(errs), len(secrets))
}

// TestHostileStoreUnansweredRefreshesAreSafe: a refresh the server never acted
// on (dropped, reset, 503, a hang cut by the refresh timeout) leaves the
// pair good: the next renewal succeeds, nothing is reused.
func TestHostileStoreUnansweredRefreshesAreSafe(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	s := e.annStore(t, nil, userauth.WithRefreshTimeout(300*time.Millisecond))
	for _, f := range []userauthtest.Fault{{Drop: true}, {Reset: true}, {Status: 503}, {Hang: true}, {Delay: time.Second}} {
		e.srv.Advance(16 * time.Minute)
		e.srv.Fail(userauthtest.PathRefresh, 1, f)
		_, err := s.AccessToken(ctx)
		assert.Error(t, err, "%+v", f)
		e.srv.Advance(2 * time.Second)
		_, err = s.AccessToken(ctx)
		assert.NoError(t, err, "%+v", f)
	}
	assert.Equal(t, 0, e.srv.ReuseDetected())
}
