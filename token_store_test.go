package userauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tarilabs/userauth/userauthtest"
)

// storeEnv is a token store wired to a fake API with three users: ann (no
// 2FA), tom (TOTP) and sam (SMS). The store's clock is the server's, so
// srv.Advance expires tokens on both sides.
type storeEnv struct {
	srv     *userauthtest.Server
	client  *Client
	store   *TokenStore
	storage TokenStorage
	secret  string // tom's TOTP secret
}

var (
	ann = LoginRequest{Email: "ann@example.com", Password: "pw-ann"}
	tom = LoginRequest{Email: "tom@example.com", Password: "pw-tom"}
	sam = LoginRequest{Email: "sam@example.com", Password: "pw-sam"}
)

func newStoreEnv(t *testing.T, srvOpts []userauthtest.Option, storage TokenStorage, opts ...StoreOption) *storeEnv {
	t.Helper()
	srv, c, secret := fakeAPI(t, srvOpts...)
	if storage == nil {
		storage = NewMemoryStorage()
	}
	opts = append([]StoreOption{WithClock(srv.Now)}, opts...)
	return &storeEnv{srv: srv, client: c, store: mustStore(t, c, storage, opts...), storage: storage, secret: secret}
}

// mustStore is NewTokenStore for tests, failing the test on an error.
func mustStore(t testing.TB, c *Client, storage TokenStorage, opts ...StoreOption) *TokenStore {
	t.Helper()
	s, err := NewTokenStore(c, storage, opts...)
	require.NoError(t, err)
	return s
}

// totpHandler answers with tom's current code and counts its calls.
func (e *storeEnv) totpHandler(calls *atomic.Int32) TwoFactorHandler {
	return func(ctx context.Context, method TwoFactorMethod) (string, error) {
		calls.Add(1)
		if method != TwoFactorGoogleAuthenticator {
			return "", fmt.Errorf("got method %q, want %q", method, TwoFactorGoogleAuthenticator)
		}
		return e.srv.Code(e.secret)
	}
}

func (e *storeEnv) getAccount(t *testing.T, path string) *http.Response {
	t.Helper()
	resp, err := e.store.HTTPClient().Get(e.srv.URL + path)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestStoreLoginAndAuthenticatedCall(t *testing.T) {
	t.Parallel()
	var changes []Token
	e := newStoreEnv(t, nil, nil, WithOnTokenChange(func(tok Token) { changes = append(changes, tok) }))
	ctx := context.Background()

	tok, err := e.store.Login(ctx, ann)
	require.NoError(t, err)
	assert.True(t, tok.Valid())
	assert.WithinDuration(t, e.srv.Now().Add(15*time.Minute), tok.Expiry, 2*time.Second, "expiry read from the JWT")

	saved, err := loadPair(ctx, e.storage)
	require.NoError(t, err)
	assert.Equal(t, tok, saved, "saved before it was handed out")

	access, err := e.store.AccessToken(ctx)
	require.NoError(t, err)
	assert.Equal(t, tok.AccessToken, access)

	resp := e.getAccount(t, userauthtest.PathAccount)
	body, _ := io.ReadAll(resp.Body)
	assert.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	assert.Contains(t, string(body), ann.Email)
	assert.Equal(t, 0, e.srv.Calls(userauthtest.PathRefresh))
	require.Len(t, changes, 1)
	assert.Equal(t, *tok, changes[0])
}

func TestStoreNoTokensMeansLoginRequired(t *testing.T) {
	t.Parallel()
	e := newStoreEnv(t, nil, nil)
	_, err := e.store.Token(context.Background())
	assert.ErrorIs(t, err, ErrLoginRequired)
	_, err = e.store.AccessToken(context.Background())
	assert.ErrorIs(t, err, ErrLoginRequired)
	_, err = e.store.HTTPClient().Get(e.srv.URL + userauthtest.PathAccount)
	assert.ErrorIs(t, err, ErrLoginRequired)
	assert.Equal(t, 0, e.srv.Calls(userauthtest.PathAccount), "no unauthenticated request went out")
}

func TestStoreRefreshesBeforeExpiry(t *testing.T) {
	t.Parallel()
	e := newStoreEnv(t, nil, nil)
	ctx := context.Background()
	first, err := e.store.Login(ctx, ann)
	require.NoError(t, err)

	e.srv.Advance(15*time.Minute - 40*time.Second) // outside the 30s skew
	got, err := e.store.Token(ctx)
	require.NoError(t, err)
	assert.Equal(t, first.AccessToken, got.AccessToken)
	settle(e.store)
	assert.Equal(t, 0, e.srv.Calls(userauthtest.PathRefresh))

	e.srv.Advance(15 * time.Second) // inside the skew: due, served, renewed behind
	got, err = e.store.Token(ctx)
	require.NoError(t, err)
	assert.Equal(t, first.AccessToken, got.AccessToken, "a due token is served at once")
	settle(e.store)
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathRefresh))
	got, err = e.store.Token(ctx)
	require.NoError(t, err)
	assert.NotEqual(t, first.AccessToken, got.AccessToken, "the next call sees the renewed token")
	assert.NotEqual(t, first.RefreshToken, got.RefreshToken, "refresh tokens rotate")
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathRefresh))
	saved, _ := loadPair(ctx, e.storage)
	assert.Equal(t, got.AccessToken, saved.AccessToken)
	assert.Equal(t, got.RefreshToken, saved.RefreshToken)
}

// settle waits for the renewal that runs behind the callers, if any.
func settle(s *TokenStore) {
	for s.renewing.Load() {
		time.Sleep(time.Millisecond)
	}
}

// countingStorage counts Loads.
type countingStorage struct {
	TokenStorage
	loads atomic.Int32
}

func (c *countingStorage) Load(ctx context.Context) (*Record, error) {
	c.loads.Add(1)
	return c.TokenStorage.Load(ctx)
}

func TestStoreRefreshStorm(t *testing.T) {
	t.Parallel()
	storage := &countingStorage{TokenStorage: NewMemoryStorage()}
	e := newStoreEnv(t, nil, storage)
	ctx := context.Background()
	_, err := e.store.Login(ctx, ann)
	require.NoError(t, err)
	e.srv.Advance(16 * time.Minute)
	// A slow refresh, so that all the callers pile up behind it.
	e.srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Delay: 100 * time.Millisecond})
	storage.loads.Store(0) // the login's

	const n = 1000
	var wg sync.WaitGroup
	tokens := make([]string, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			tokens[i], errs[i] = e.store.AccessToken(ctx)
		}()
	}
	close(start)
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		require.Equal(t, tokens[0], tokens[i])
	}
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathRefresh))
	assert.Equal(t, int32(1), storage.loads.Load(), "one renewal ran; the other callers waited for it")
	assert.Equal(t, 0, e.srv.ReuseDetected())
	resp := e.getAccount(t, userauthtest.PathAccount)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

// TestStoreStormsInARow runs storm after storm: a caller that sees the old
// token expire while another renews it must take the new token, never
// renew the fresh one again.
func TestStoreStormsInARow(t *testing.T) {
	t.Parallel()
	e := newStoreEnv(t, nil, nil)
	ctx := context.Background()
	_, err := e.store.Login(ctx, ann)
	require.NoError(t, err)
	for storm := 1; storm <= 500; storm++ {
		e.srv.Advance(16 * time.Minute)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 200 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := e.store.AccessToken(ctx)
				assert.NoError(t, err)
			}()
		}
		close(start)
		wg.Wait()
		require.Equal(t, storm, e.srv.Calls(userauthtest.PathRefresh), "storm %d: one refresh each", storm)
	}
}

func TestStoreCancelledWaiterDoesNotCancelRefresh(t *testing.T) {
	t.Parallel()
	e := newStoreEnv(t, nil, nil)
	bg := context.Background()
	old, err := e.store.Login(bg, ann)
	require.NoError(t, err)
	e.srv.Advance(16 * time.Minute)
	e.srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Delay: 300 * time.Millisecond})

	ctx, cancel := context.WithCancel(bg)
	first := make(chan error, 1)
	go func() {
		_, err := e.store.AccessToken(ctx) // starts the refresh
		first <- err
	}()
	require.Eventually(t, func() bool { return e.srv.Calls(userauthtest.PathRefresh) == 1 },
		5*time.Second, time.Millisecond, "the first caller started the refresh")
	second := make(chan string, 1)
	go func() {
		tok, err := e.store.AccessToken(bg)
		assert.NoError(t, err)
		second <- tok
	}()
	cancel()
	select {
	case err := <-first:
		assert.ErrorIs(t, err, context.Canceled)
	case <-time.After(250 * time.Millisecond):
		t.Fatal("cancelled waiter still waiting for the refresh")
	}
	tok := <-second
	assert.NotEqual(t, old.AccessToken, tok)
	saved, _ := loadPair(bg, e.storage)
	assert.Equal(t, tok, saved.AccessToken, "the refresh completed and was saved")
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathRefresh))
}

func TestStoreTwoFactorWithoutHandler(t *testing.T) {
	t.Parallel()
	var changes []Token
	e := newStoreEnv(t, nil, nil, WithOnTokenChange(func(tok Token) { changes = append(changes, tok) }))
	ctx := context.Background()

	tok, err := e.store.Login(ctx, tom)
	assert.Nil(t, tok)
	var tfe *TwoFactorRequiredError
	require.ErrorAs(t, err, &tfe)
	assert.Equal(t, TwoFactorGoogleAuthenticator, tfe.Method)
	assert.ErrorIs(t, err, ErrTwoFactorRequired)

	// The pending step is stored, but its partial token is never handed out.
	saved, _ := loadPair(ctx, e.storage)
	require.NotNil(t, saved)
	assert.Equal(t, TwoFactorGoogleAuthenticator, saved.Requires2FA)
	_, err = e.store.AccessToken(ctx)
	assert.ErrorIs(t, err, ErrTwoFactorRequired)
	_, err = e.store.Token(ctx)
	assert.ErrorIs(t, err, ErrTwoFactorRequired)
	_, err = e.store.HTTPClient().Get(e.srv.URL + userauthtest.PathAccount)
	assert.ErrorIs(t, err, ErrTwoFactorRequired)
	assert.Equal(t, 0, e.srv.Calls(userauthtest.PathAccount))

	// A wrong code: typed 4xx, the step stays pending.
	_, err = e.store.CompleteTwoFactor(ctx, "000000")
	var ce *ClientError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, http.StatusUnprocessableEntity, ce.StatusCode)
	assert.Contains(t, ce.Fields, "code")
	_, err = e.store.AccessToken(ctx)
	assert.ErrorIs(t, err, ErrTwoFactorRequired)

	code, err := e.srv.Code(e.secret)
	require.NoError(t, err)
	tok, err = e.store.CompleteTwoFactor(ctx, code)
	require.NoError(t, err)
	assert.True(t, tok.Valid())
	resp := e.getAccount(t, userauthtest.PathAccount)
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	require.Len(t, changes, 2)
	assert.Equal(t, TwoFactorGoogleAuthenticator, changes[0].Requires2FA)
	assert.Equal(t, *tok, changes[1])
}

// TestStoreCompleteTwoFactorHoldsTheLock renews the 2FA grace period while
// the access token has expired, and asks for a token while the 2FA call is
// on the wire. Both spend the one refresh token, so the renewal must wait
// for the 2FA step and use its answer: otherwise the server sees the token
// reused and revokes the session.
func TestStoreCompleteTwoFactorHoldsTheLock(t *testing.T) {
	t.Parallel()
	e := newStoreEnv(t, nil, nil)
	ctx := context.Background()
	_, err := e.store.Login(ctx, tom)
	require.ErrorIs(t, err, ErrTwoFactorRequired)
	code, err := e.srv.Code(e.secret)
	require.NoError(t, err)
	_, err = e.store.CompleteTwoFactor(ctx, code)
	require.NoError(t, err)

	e.srv.Advance(16 * time.Minute) // the access token and the 2FA grace expire
	code, err = e.srv.Code(e.secret)
	require.NoError(t, err)
	e.srv.Fail(userauthtest.PathTwoFactor, 1, userauthtest.Fault{Delay: 200 * time.Millisecond})
	calls := e.srv.Calls(userauthtest.PathTwoFactor)
	done := make(chan *Token, 1)
	go func() {
		tok, err := e.store.CompleteTwoFactor(ctx, code)
		assert.NoError(t, err)
		done <- tok
	}()
	require.Eventually(t, func() bool { return e.srv.Calls(userauthtest.PathTwoFactor) > calls },
		5*time.Second, time.Millisecond, "the 2FA call reaches the server")

	access, err := e.store.AccessToken(ctx) // expired: would refresh
	require.NoError(t, err)
	tok := <-done
	require.NotNil(t, tok)
	assert.Equal(t, tok.AccessToken, access, "the renewal took the 2FA step's answer")
	assert.Equal(t, 0, e.srv.Calls(userauthtest.PathRefresh), "no refresh spent the token meanwhile")
	resp := e.getAccount(t, userauthtest.PathSensitive)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the session is alive, its grace period renewed")
}

func TestStoreTwoFactorHandlerOncePerStep(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	var e *storeEnv
	e = newStoreEnv(t, nil, nil, WithTwoFactorHandler(func(ctx context.Context, m TwoFactorMethod) (string, error) {
		return e.totpHandler(&calls)(ctx, m)
	}))
	ctx := context.Background()
	tok, err := e.store.Login(ctx, tom)
	require.NoError(t, err)
	assert.Empty(t, tok.Requires2FA)
	assert.Equal(t, int32(1), calls.Load())
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathTwoFactor))

	// A refresh answer that asks for 2FA again takes the same path, with
	// one handler call however many callers wait.
	e.srv.Advance(16 * time.Minute)
	e.srv.Advance(time.Minute) // a fresh TOTP window, as codes are single use
	e.srv.RequireTwoFactorOnNextRefresh()
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.store.AccessToken(ctx)
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(2), calls.Load())
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathRefresh))
	assert.Equal(t, 2, e.srv.Calls(userauthtest.PathTwoFactor))
	resp := e.getAccount(t, userauthtest.PathAccount)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestStoreSMSWithHandler(t *testing.T) {
	t.Parallel()
	var e *storeEnv
	e = newStoreEnv(t, nil, nil, WithTwoFactorHandler(func(_ context.Context, m TwoFactorMethod) (string, error) {
		if m != TwoFactorSMS {
			return "", fmt.Errorf("got %q", m)
		}
		return e.srv.LastSMSCode(sam.Email), nil
	}))
	tok, err := e.store.Login(context.Background(), sam)
	require.NoError(t, err)
	assert.True(t, tok.Valid())
}

func TestStoreTwoFactorHandlerError(t *testing.T) {
	t.Parallel()
	e := newStoreEnv(t, nil, nil, WithTwoFactorHandler(func(context.Context, TwoFactorMethod) (string, error) {
		return "", errors.New("user walked away")
	}))
	_, err := e.store.Login(context.Background(), tom)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "user walked away")
	assert.Equal(t, 0, e.srv.Calls(userauthtest.PathTwoFactor))
}

func TestTransport401RefreshesOnceAndRetriesOnce(t *testing.T) {
	t.Parallel()
	e := newStoreEnv(t, nil, nil)
	ctx := context.Background()
	old, err := e.store.Login(ctx, ann)
	require.NoError(t, err)

	e.srv.ExpireAccessTokens() // the JWT still looks valid to the client
	resp := e.getAccount(t, userauthtest.PathAccount)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathRefresh))
	assert.Equal(t, 2, e.srv.Calls(userauthtest.PathAccount))
	cur, _ := e.store.Token(ctx)
	assert.NotEqual(t, old.AccessToken, cur.AccessToken)

	// The endpoint refuses again, within a minute, the pair a renewal made
	// for its 401: that is the endpoint's answer, returned as it is,
	// without another refresh.
	e.srv.ResetCalls()
	e.srv.Fail(userauthtest.PathAccount, 5, userauthtest.Fault{Status: http.StatusUnauthorized, Body: `{"error":{"code":"401","reason":"no"}}`})
	resp = e.getAccount(t, userauthtest.PathAccount)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathAccount))
	assert.Equal(t, 0, e.srv.Calls(userauthtest.PathRefresh))
}

func TestTransport401ConcurrentShareOneRefresh(t *testing.T) {
	t.Parallel()
	e := newStoreEnv(t, nil, nil)
	_, err := e.store.Login(context.Background(), ann)
	require.NoError(t, err)
	e.srv.ExpireAccessTokens()
	e.srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Delay: 50 * time.Millisecond})
	hc := e.store.HTTPClient()
	var wg sync.WaitGroup
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := hc.Get(e.srv.URL + userauthtest.PathAccount)
			if assert.NoError(t, err) {
				assert.Equal(t, http.StatusOK, resp.StatusCode)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathRefresh))
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

func TestTransportReplaysBody(t *testing.T) {
	t.Parallel()
	var refreshes atomic.Int32
	var bodies []string
	var mu sync.Mutex
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, r.Header.Get("Authorization")+" "+string(b))
		n := len(bodies)
		mu.Unlock()
		switch {
		case r.URL.Path == "/auth/token/refresh":
			i := refreshes.Add(1) + 1
			fmt.Fprintf(w, `{"access_token":"at%d","refresh_token":"rt%d"}`, i, i)
		case n == 1:
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer api.Close()
	c, err := NewClient(api.URL, WithHTTPClient(api.Client()))
	require.NoError(t, err)
	storage := NewMemoryStorage()
	require.NoError(t, savePair(context.Background(), storage, &Token{AccessToken: "at1", RefreshToken: "rt1", Expiry: time.Now().Add(time.Hour)}))
	store := mustStore(t, c, storage)

	resp, err := store.HTTPClient().Post(api.URL+"/things", "text/plain", strings.NewReader("payload"))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, []string{"Bearer at1 payload", ` {"refresh_token":"rt1"}`, "Bearer at2 payload"}, bodies)

	// A body that cannot be replayed, to another endpoint: the 401 comes
	// back as it is, and the refused token is renewed for the next request.
	bodies = nil
	req, _ := http.NewRequest(http.MethodPost, api.URL+"/others", io.NopCloser(strings.NewReader("once")))
	resp, err = store.HTTPClient().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, []string{"Bearer at2 once", ` {"refresh_token":"rt2"}`}, bodies)
}

func TestTransport424StepUpWithHandler(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	var e *storeEnv
	e = newStoreEnv(t, []userauthtest.Option{userauthtest.WithAccessTTL(time.Hour)}, nil,
		WithTwoFactorHandler(func(ctx context.Context, m TwoFactorMethod) (string, error) {
			return e.totpHandler(&calls)(ctx, m)
		}))
	_, err := e.store.Login(context.Background(), tom)
	require.NoError(t, err)
	resp := e.getAccount(t, userauthtest.PathSensitive)
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	e.srv.Advance(16 * time.Minute) // past the 2FA grace period, not the token's expiry
	resp = e.getAccount(t, userauthtest.PathSensitive)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, int32(2), calls.Load(), "one handler call for login, one for the step-up")
	assert.Equal(t, 3, e.srv.Calls(userauthtest.PathSensitive))
	assert.Equal(t, 0, e.srv.Calls(userauthtest.PathRefresh))
}

func TestTransport424WithoutHandler(t *testing.T) {
	t.Parallel()
	e := newStoreEnv(t, []userauthtest.Option{userauthtest.WithAccessTTL(time.Hour)}, nil)
	ctx := context.Background()
	_, err := e.store.Login(ctx, tom)
	require.ErrorIs(t, err, ErrTwoFactorRequired)
	code, _ := e.srv.Code(e.secret)
	_, err = e.store.CompleteTwoFactor(ctx, code)
	require.NoError(t, err)

	e.srv.Advance(16 * time.Minute)
	resp := e.getAccount(t, userauthtest.PathSensitive)
	assert.Equal(t, http.StatusFailedDependency, resp.StatusCode)
	err = CheckResponse(resp)
	assert.ErrorIs(t, err, ErrTwoFactorExpired)
	var ce *ClientError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "2FA token expired", ce.Message)
	body, _ := io.ReadAll(resp.Body)
	assert.Contains(t, string(body), "2FA token expired", "CheckResponse leaves the body readable")

	// The caller renews the grace period with a fresh code.
	e.srv.Advance(time.Minute)
	code, _ = e.srv.Code(e.secret)
	_, err = e.store.CompleteTwoFactor(ctx, code)
	require.NoError(t, err)
	resp = e.getAccount(t, userauthtest.PathSensitive)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestTransportBearerOnlyToTheAPI(t *testing.T) {
	t.Parallel()
	var otherAuth atomic.Value
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherAuth.Store(r.Header.Get("Authorization"))
	}))
	defer other.Close()
	var apiAuth []string
	var mu sync.Mutex
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		apiAuth = append(apiAuth, r.URL.Path+"="+r.Header.Get("Authorization"))
		mu.Unlock()
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, other.URL+"/landing", http.StatusFound)
		}
	}))
	defer api.Close()

	c, err := NewClient(api.URL+"/", WithHTTPClient(api.Client()))
	require.NoError(t, err)
	storage := NewMemoryStorage()
	require.NoError(t, savePair(context.Background(), storage, &Token{AccessToken: "at", RefreshToken: "rt", Expiry: time.Now().Add(time.Hour)}))
	hc := mustStore(t, c, storage).HTTPClient()

	for _, u := range []string{other.URL + "/direct", api.URL + "/redirect", api.URL + "/auth/token", api.URL + "/account"} {
		otherAuth.Store("unset")
		resp, err := hc.Get(u)
		require.NoError(t, err)
		resp.Body.Close()
		if strings.HasPrefix(u, other.URL) || strings.HasSuffix(u, "/redirect") {
			assert.Equal(t, "", otherAuth.Load(), "bearer sent to another host via %s", u)
		}
	}
	assert.Equal(t, []string{"/redirect=Bearer at", "/auth/token=", "/account=Bearer at"}, apiAuth)
}

func TestStoreRefreshRejectedMeansLoginRequired(t *testing.T) {
	t.Parallel()
	var changes []Token
	e := newStoreEnv(t, nil, nil, WithOnTokenChange(func(tok Token) { changes = append(changes, tok) }))
	ctx := context.Background()
	tok, err := e.store.Login(ctx, ann)
	require.NoError(t, err)
	// Someone else spends the refresh token: ours is now a reused one.
	_, err = e.client.RefreshToken(ctx, RefreshRequest{RefreshToken: tok.RefreshToken})
	require.NoError(t, err)

	e.srv.Advance(16 * time.Minute)
	_, err = e.store.AccessToken(ctx)
	assert.ErrorIs(t, err, ErrLoginRequired)
	var ce *ClientError
	assert.ErrorAs(t, err, &ce, "the server's answer is kept")
	saved, _ := loadPair(ctx, e.storage)
	assert.Nil(t, saved, "rejected tokens are cleared")
	require.Len(t, changes, 2)
	assert.Equal(t, Token{}, changes[1])

	_, err = e.store.Login(ctx, ann)
	require.NoError(t, err, "a login after the rejection works at once")
}

func TestStoreTransientFailureKeepsTokens(t *testing.T) {
	t.Parallel()
	e := newStoreEnv(t, nil, nil)
	ctx := context.Background()
	tok, err := e.store.Login(ctx, ann)
	require.NoError(t, err)

	// Due (inside the skew) but not expired: served at once; the renewal
	// behind fails, and the still-valid token keeps being served.
	e.srv.Advance(15*time.Minute - 10*time.Second)
	e.srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Status: 500})
	got, err := e.store.AccessToken(ctx)
	require.NoError(t, err)
	assert.Equal(t, tok.AccessToken, got)
	settle(e.store)
	got, err = e.store.AccessToken(ctx)
	require.NoError(t, err)
	assert.Equal(t, tok.AccessToken, got)
	settle(e.store)
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathRefresh), "the failure is remembered: no second call")

	// Expired, and the server still failing: the typed error, tokens kept,
	// and the failure remembered for a moment of the store's clock.
	e.srv.Advance(time.Minute)
	e.srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Status: 503})
	_, err = e.store.AccessToken(ctx)
	var se *ServerError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 503, se.StatusCode)
	_, err = e.store.AccessToken(ctx)
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 2, e.srv.Calls(userauthtest.PathRefresh))
	saved, _ := loadPair(ctx, e.storage)
	assert.Equal(t, tok.RefreshToken, saved.RefreshToken)

	e.srv.Advance(failureMemory)
	got, err = e.store.AccessToken(ctx)
	require.NoError(t, err)
	assert.NotEqual(t, tok.AccessToken, got)
	assert.Equal(t, 3, e.srv.Calls(userauthtest.PathRefresh))
}

// flakyStorage fails Save while fail is set, but for the next pass saves.
type flakyStorage struct {
	*MemoryStorage
	fail atomic.Bool
	pass atomic.Int32
}

func (f *flakyStorage) Save(ctx context.Context, t *Record) error {
	if f.fail.Load() && f.pass.Add(-1) < 0 {
		return errors.New("disk full")
	}
	return f.MemoryStorage.Save(ctx, t)
}

func TestStoreSaveFailureKeepsRotatedToken(t *testing.T) {
	t.Parallel()
	storage := &flakyStorage{MemoryStorage: NewMemoryStorage()}
	e := newStoreEnv(t, nil, storage)
	ctx := context.Background()
	old, err := e.store.Login(ctx, ann)
	require.NoError(t, err)

	e.srv.Advance(16 * time.Minute)
	storage.pass.Store(1) // the spending record is written
	storage.fail.Store(true)
	renewed, err := e.store.AccessToken(ctx)
	require.NoError(t, err, "the rotated pair, refused by storage, is kept and served")
	rec, _ := storage.Load(ctx)
	assert.Equal(t, PhaseSpending, rec.Phase, "storage says the spent token is in flight: no other process presents it")
	assert.Equal(t, old.RefreshToken, rec.Token.RefreshToken)

	// Storage is back: the rotated pair is written back behind the callers,
	// with no second refresh (which would present a spent token).
	storage.fail.Store(false)
	e.srv.Advance(failureMemory) // the store's clock: the failure is forgotten
	got, err := e.store.Token(ctx)
	require.NoError(t, err)
	assert.Equal(t, renewed, got.AccessToken)
	settle(e.store)
	saved, _ := loadPair(ctx, storage)
	require.NotNil(t, saved)
	assert.Equal(t, got.RefreshToken, saved.RefreshToken)
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathRefresh))
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

func TestStoreLogout(t *testing.T) {
	t.Parallel()
	var changes []Token
	e := newStoreEnv(t, nil, nil, WithOnTokenChange(func(tok Token) { changes = append(changes, tok) }))
	ctx := context.Background()
	_, err := e.store.Login(ctx, ann)
	require.NoError(t, err)
	require.NoError(t, e.store.Logout(ctx))
	saved, _ := loadPair(ctx, e.storage)
	assert.Nil(t, saved)
	_, err = e.store.AccessToken(ctx)
	assert.ErrorIs(t, err, ErrLoginRequired)
	require.Len(t, changes, 2)
	assert.Equal(t, Token{}, changes[1])
}

func TestStoreForcedRefresh(t *testing.T) {
	t.Parallel()
	e := newStoreEnv(t, nil, nil)
	ctx := context.Background()
	tok, err := e.store.Login(ctx, ann)
	require.NoError(t, err)
	got, err := e.store.Refresh(ctx)
	require.NoError(t, err)
	assert.NotEqual(t, tok.RefreshToken, got.RefreshToken)
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathRefresh))
}

func TestStoreAdoptsTokenSavedByAnother(t *testing.T) {
	t.Parallel()
	// Two stores share one storage, as two processes would: the second
	// finds the first one's refresh and uses it instead of spending the
	// rotated-away refresh token.
	storage := NewMemoryStorage()
	e := newStoreEnv(t, nil, storage)
	ctx := context.Background()
	_, err := e.store.Login(ctx, ann)
	require.NoError(t, err)
	other := mustStore(t, e.client, storage, WithClock(e.srv.Now))
	_, err = other.AccessToken(ctx)
	require.NoError(t, err)

	e.srv.Advance(16 * time.Minute)
	a, err := e.store.AccessToken(ctx)
	require.NoError(t, err)
	b, err := other.AccessToken(ctx)
	require.NoError(t, err)
	assert.Equal(t, a, b)
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathRefresh))
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

func TestStoreInvalidOptionsReturnErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts []StoreOption
		want string
	}{
		{"negative skew", []StoreOption{WithRefreshSkew(-time.Second)}, "userauth: WithRefreshSkew: negative skew -1s"},
		{"zero timeout", []StoreOption{WithRefreshTimeout(0)}, "userauth: WithRefreshTimeout: 0s is not positive"},
		{"nil handler", []StoreOption{WithTwoFactorHandler(nil)}, "userauth: WithTwoFactorHandler: nil handler"},
		{"nil on change", []StoreOption{WithOnTokenChange(nil)}, "userauth: WithOnTokenChange: nil function"},
		{"nil clock", []StoreOption{WithClock(nil)}, "userauth: WithClock: nil clock"},
		{"the first invalid one is reported", []StoreOption{nil, WithRefreshSkew(-time.Second), WithRefreshTimeout(-1)},
			"userauth: WithRefreshSkew: negative skew -1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewTokenStore(nil, nil, tt.opts...)
			assert.Nil(t, s)
			assert.EqualError(t, err, tt.want)
		})
	}
}

func TestSessionRefreshSchedule(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := mustStore(t, nil, nil, WithClock(func() time.Time { return now }))
	var heard time.Duration // as after an answer from the server
	tests := []struct {
		name   string
		offset *time.Duration
		expiry time.Time
		want   time.Time
	}{
		{"long-lived: skew before exp", &heard, now.Add(time.Hour), now.Add(time.Hour - DefaultRefreshSkew)},
		{"short-lived: half its life", &heard, now.Add(20 * time.Second), now.Add(10 * time.Second)},
		{"expired: now", &heard, now.Add(-time.Minute), now.Add(-time.Minute)},
		{"unknown: bounded, not forever", &heard, time.Time{}, now.Add(unknownExpiryLifetime)},
		{"saved by a clock not compared: bounded", nil, now.Add(time.Hour), now.Add(unknownExpiryLifetime - DefaultRefreshSkew)},
		{"saved by a clock not compared, short: kept", nil, now.Add(time.Minute), now.Add(time.Minute - DefaultRefreshSkew)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := recordOf(&Token{AccessToken: "a", RefreshToken: "r", Expiry: tt.expiry})
			sn := s.schedule(&snapshot{}, rec, tt.offset, now)
			assert.Equal(t, tt.want, sn.refreshAt)
			assert.Equal(t, "Bearer a", sn.bearer)
		})
	}
}

func TestJWTExpiry(t *testing.T) {
	t.Parallel()
	srv := userauthtest.NewServer()
	defer srv.Close()
	_, err := srv.AddUser(userauthtest.User{Email: "a@b.c", Password: "p"})
	require.NoError(t, err)
	c, _ := NewClient(srv.URL)
	tr, err := c.Login(context.Background(), LoginRequest{Email: "a@b.c", Password: "p"})
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(15*time.Minute), jwtExpiry(tr.AccessToken), 2*time.Second)
	for _, bad := range []string{"", "opaque", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOiJzb29uIn0.x"} {
		assert.True(t, jwtExpiry(bad).IsZero(), bad)
	}
}

func TestTokenRedactsAndValid(t *testing.T) {
	t.Parallel()
	tok := Token{AccessToken: "at-SECRET", RefreshToken: "rt-SECRET", Expiry: time.Now().Add(time.Hour)}
	for _, s := range []string{fmt.Sprint(tok), fmt.Sprintf("%+v", &tok), fmt.Sprintf("%#v", tok)} {
		assert.NotContains(t, s, "SECRET")
	}
	var nilTok *Token
	assert.False(t, nilTok.Valid())
	assert.True(t, tok.Valid())
	assert.False(t, (&Token{AccessToken: "a", Requires2FA: TwoFactorSMS}).Valid())
	assert.False(t, (&Token{AccessToken: "a", Expiry: time.Now().Add(-time.Second)}).Valid())
}

func TestTokenSource(t *testing.T) {
	t.Parallel()
	e := newStoreEnv(t, nil, nil)
	tok, err := e.store.Login(context.Background(), ann)
	require.NoError(t, err)
	ot, err := e.store.TokenSource(context.Background()).Token()
	require.NoError(t, err)
	assert.Equal(t, tok.AccessToken, ot.AccessToken)
	assert.Equal(t, "Bearer", ot.TokenType)
	assert.Empty(t, ot.RefreshToken, "the refresh token stays in the store")
	assert.True(t, tok.Expiry.Equal(ot.Expiry), "got %v, want %v", ot.Expiry, tok.Expiry)
}

// outageStorage is a shared storage (with a Locker) that can go down.
type outageStorage struct {
	*MemoryStorage
	down atomic.Bool
}

func (o *outageStorage) err() error {
	if o.down.Load() {
		return fmt.Errorf("%w: dial tcp 127.0.0.1:6379: connection refused", ErrStorageUnavailable)
	}
	return nil
}

func (o *outageStorage) Load(ctx context.Context) (*Record, error) {
	if err := o.err(); err != nil {
		return nil, err
	}
	return o.MemoryStorage.Load(ctx)
}

func (o *outageStorage) Save(ctx context.Context, t *Record) error {
	if err := o.err(); err != nil {
		return err
	}
	return o.MemoryStorage.Save(ctx, t)
}

func (o *outageStorage) Lock(context.Context) (func(), error) {
	if err := o.err(); err != nil {
		return nil, err
	}
	return func() {}, nil
}

func TestStoreStorageOutageDegrades(t *testing.T) {
	t.Parallel()
	var logs strings.Builder
	var logMu sync.Mutex
	storage := &outageStorage{MemoryStorage: NewMemoryStorage()}
	e := newStoreEnv(t, nil, storage)
	c, err := NewClient(e.srv.URL, WithLogger(slog.New(slog.NewTextHandler(lockedWriter{&logs, &logMu}, nil))))
	require.NoError(t, err)
	store := mustStore(t, c, storage, WithClock(e.srv.Now))
	ctx := context.Background()
	first, err := store.Login(ctx, ann)
	require.NoError(t, err)

	storage.down.Store(true)
	got, err := store.AccessToken(ctx)
	require.NoError(t, err, "a fresh token needs no storage")
	assert.Equal(t, first.AccessToken, got)

	e.srv.Advance(16 * time.Minute)
	renewed, err := store.AccessToken(ctx)
	require.NoError(t, err, "expired during the outage: refreshed in-process")
	assert.NotEqual(t, first.AccessToken, renewed)
	for range 20 { // the renewed pair, not saved yet, is fresh: never renewed again
		again, err := store.AccessToken(ctx)
		require.NoError(t, err)
		assert.Equal(t, renewed, again)
		settle(store)
	}
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathRefresh))
	logMu.Lock()
	assert.Contains(t, logs.String(), "shared storage unavailable")
	assert.NotContains(t, logs.String(), renewed)
	logMu.Unlock()

	// Storage returns: the lagging tokens are saved at the next look.
	storage.down.Store(false)
	e.srv.Advance(failureMemory) // the store's clock: the failure is forgotten
	got, err = store.AccessToken(ctx)
	require.NoError(t, err)
	assert.Equal(t, renewed, got)
	settle(store)
	saved, _ := loadPair(ctx, storage)
	require.NotNil(t, saved)
	assert.Equal(t, renewed, saved.AccessToken)
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathRefresh))
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

func TestStoreStorageOutageFailClosed(t *testing.T) {
	t.Parallel()
	storage := &outageStorage{MemoryStorage: NewMemoryStorage()}
	e := newStoreEnv(t, nil, storage, WithFailClosed())
	ctx := context.Background()
	_, err := e.store.Login(ctx, ann)
	require.NoError(t, err)
	storage.down.Store(true)
	e.srv.Advance(16 * time.Minute)
	_, err = e.store.AccessToken(ctx)
	assert.ErrorIs(t, err, ErrStorageUnavailable)
	assert.Equal(t, 0, e.srv.Calls(userauthtest.PathRefresh), "no refresh without the shared lock")
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func FuzzJWTExpiry(f *testing.F) {
	for _, seed := range []string{
		"eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE5MDAwMDAwMDB9.sig",
		"eyJhbGciOiJIUzI1NiJ9.eyJleHAiOiJzb29uIn0.sig",
		"eyJhbGciOiJub25lIn0.eyJleHAiOjEuNWUxMH0.",
		"a.b.c", "", "...", "opaque-token",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		exp := jwtExpiry(token) // must never panic
		if !exp.IsZero() && strings.Count(token, ".") != 2 {
			t.Fatalf("an expiry %v from %q, which is not a JWT", exp, token)
		}
	})
}

// TestStoreLogoutRevokes: Logout has the server revoke the session (the
// old access token then gets 401), then clears the storage; with the
// server gone, it still clears the storage and says the tokens were not
// revoked.
func TestStoreLogoutRevokes(t *testing.T) {
	t.Parallel()
	e := newStoreEnv(t, nil, nil)
	ctx := context.Background()
	tok, err := e.store.Login(ctx, ann)
	require.NoError(t, err)
	require.NoError(t, e.store.Logout(ctx))
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathLogout))
	saved, _ := loadPair(ctx, e.storage)
	assert.Nil(t, saved)
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+userauthtest.PathAccount, nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the old access token is revoked")

	_, err = e.store.Login(ctx, ann)
	require.NoError(t, err)
	e.srv.Close() // the server cannot be reached any more
	err = e.store.Logout(ctx)
	assert.ErrorIs(t, err, ErrNotRevoked)
	var te *TransportError
	assert.ErrorAs(t, err, &te, "the server's failure is wrapped")
	saved, _ = loadPair(ctx, e.storage)
	assert.Nil(t, saved, "storage is cleared all the same")
	_, err = e.store.AccessToken(ctx)
	assert.ErrorIs(t, err, ErrLoginRequired)
}

// TestStoreLogoutRenewsAnExpiredToken: an expired access token cannot log
// out; it is renewed first, then revoked.
func TestStoreLogoutRenewsAnExpiredToken(t *testing.T) {
	t.Parallel()
	e := newStoreEnv(t, nil, nil)
	ctx := context.Background()
	tok, err := e.store.Login(ctx, ann)
	require.NoError(t, err)
	e.srv.Advance(16 * time.Minute)
	require.NoError(t, e.store.Logout(ctx))
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathRefresh))
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathLogout))
	_, err = e.client.RefreshToken(ctx, RefreshRequest{RefreshToken: tok.RefreshToken})
	assert.True(t, refused(err, http.StatusUnauthorized), "got %v, want 401", err)
}

// TestStoreLogoutPendingAndLocal: a pending 2FA step is cleared without a
// call; LogoutLocal never calls the server.
func TestStoreLogoutPendingAndLocal(t *testing.T) {
	t.Parallel()
	e := newStoreEnv(t, nil, nil)
	ctx := context.Background()
	_, err := e.store.Login(ctx, tom)
	require.ErrorIs(t, err, ErrTwoFactorRequired)
	require.NoError(t, e.store.Logout(ctx))
	saved, _ := loadPair(ctx, e.storage)
	assert.Nil(t, saved)

	tok, err := e.store.Login(ctx, ann)
	require.NoError(t, err)
	require.NoError(t, e.store.LogoutLocal(ctx))
	saved, _ = loadPair(ctx, e.storage)
	assert.Nil(t, saved)
	assert.Equal(t, 0, e.srv.Calls(userauthtest.PathLogout), "no call for a pending step, nor for LogoutLocal")
	_, err = e.client.RefreshToken(ctx, RefreshRequest{RefreshToken: tok.RefreshToken})
	assert.NoError(t, err, "LogoutLocal leaves the session alive on the server")
}

// TestStoreSetToken adopts a pair obtained outside the store, then renews
// it; a pair that asks for 2FA becomes a pending step as after Login.
func TestStoreSetToken(t *testing.T) {
	t.Parallel()
	var changes atomic.Int32
	e := newStoreEnv(t, nil, nil, WithOnTokenChange(func(Token) { changes.Add(1) }))
	ctx := context.Background()
	resp, err := e.client.Login(ctx, ann) // a pair from elsewhere
	require.NoError(t, err)
	tok, err := e.store.SetToken(ctx, resp)
	require.NoError(t, err)
	assert.Equal(t, resp.AccessToken, tok.AccessToken)
	saved, _ := loadPair(ctx, e.storage)
	require.NotNil(t, saved)
	assert.Equal(t, resp.RefreshToken, saved.RefreshToken, "saved before SetToken returns")
	assert.Equal(t, int32(1), changes.Load())

	e.srv.Advance(16 * time.Minute)
	renewed, err := e.store.AccessToken(ctx)
	require.NoError(t, err)
	assert.NotEqual(t, resp.AccessToken, renewed)
	assert.Equal(t, 0, e.srv.ReuseDetected())

	partial, err := e.client.Login(ctx, tom)
	require.NoError(t, err)
	_, err = e.store.SetToken(ctx, partial)
	var tfe *TwoFactorRequiredError
	require.ErrorAs(t, err, &tfe)
	code, _ := e.srv.Code(e.secret)
	_, err = e.store.CompleteTwoFactor(ctx, code)
	require.NoError(t, err)

	var ve *ValidationError
	for _, bad := range []*TokenResponse{nil, {RefreshToken: "r"}, {AccessToken: "a"}} {
		_, err := e.store.SetToken(ctx, bad)
		assert.ErrorAs(t, err, &ve)
	}
}

// TestTransport401Then424 is a store whose clock did not move with the
// fake's: the request meets a 401 (the token expired), then, with the
// renewed token, a 424 (the 2FA grace period expired too). One renewal and
// one 2FA step later, the request succeeds.
func TestTransport401Then424(t *testing.T) {
	t.Parallel()
	var asked atomic.Int32
	var e *storeEnv
	e = newStoreEnv(t, nil, nil, WithClock(time.Now), WithTwoFactorHandler(func(ctx context.Context, m TwoFactorMethod) (string, error) {
		return e.totpHandler(&asked)(ctx, m)
	}))
	ctx := context.Background()
	_, err := e.store.Login(ctx, tom)
	require.NoError(t, err)
	e.srv.Advance(16 * time.Minute) // the fake's clock only: the store does not see the expiry
	resp := e.getAccount(t, userauthtest.PathSensitive)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, 3, e.srv.Calls(userauthtest.PathSensitive), "401, 424, then 200")
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathRefresh), "one renewal")
	assert.Equal(t, int32(2), asked.Load(), "one code for the login, one for the 2FA step")

	// The endpoint refuses again, moments later, the pair a 2FA step made
	// for its 424: that is its answer, returned without asking for a code.
	e.srv.ResetCalls()
	e.srv.Advance(time.Minute) // a fresh TOTP window: codes are single use
	e.srv.Fail(userauthtest.PathSensitive, 10, userauthtest.Fault{Status: http.StatusFailedDependency, Body: `{"error":"2FA token expired"}`})
	resp = e.getAccount(t, userauthtest.PathSensitive)
	assert.Equal(t, http.StatusFailedDependency, resp.StatusCode)
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathSensitive))
	assert.Equal(t, int32(2), asked.Load(), "no code asked for the endpoint's own refusal")
}

// TestHTTPClientTimeout: the store's http.Client is bounded by the
// Client's per-attempt timeout, renewals and repeats included.
func TestHTTPClientTimeout(t *testing.T) {
	t.Parallel()
	e := newStoreEnv(t, nil, nil)
	c, err := NewClient(e.srv.URL, WithTimeout(200*time.Millisecond))
	require.NoError(t, err)
	store := mustStore(t, c, e.storage, WithClock(e.srv.Now))
	_, err = store.Login(context.Background(), ann)
	require.NoError(t, err)
	hc := store.HTTPClient()
	assert.Equal(t, 200*time.Millisecond, hc.Timeout)
	e.srv.Fail(userauthtest.PathAccount, 1, userauthtest.Fault{Hang: true})
	done := make(chan error, 1)
	go func() {
		_, err := hc.Get(e.srv.URL + userauthtest.PathAccount)
		done <- err
	}()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	case <-time.After(30 * time.Second):
		t.Fatal("a request to a server that never answers was still waiting after 30s")
	}
}
