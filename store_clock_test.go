package userauth_test

// The token store and clocks it cannot trust: a proxy's Date ahead or
// behind, tokens without iat, answers without Date, replicas that have not
// heard from the server yet. Public API only; the harness (atkEnv,
// serverExp, bearerGet, ...) is store_hostile_test.go's.

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tarilabs/userauth"
	"github.com/tarilabs/userauth/userauthtest"
)

// headerRewrite rewrites every answer's headers.
type headerRewrite struct {
	base http.RoundTripper
	f    func(http.Header)
}

func (r headerRewrite) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if err == nil {
		r.f(resp.Header)
	}
	return resp, err
}

// clientRewriting is a Client for e's fake whose answers' headers f rewrites (a
// proxy in between).
func clientRewriting(t *testing.T, e *atkEnv, f func(http.Header)) *userauth.Client {
	t.Helper()
	c, err := userauth.NewClient(e.srv.URL, userauth.WithHTTPClient(&http.Client{
		Transport: headerRewrite{base: e.srv.Client().Transport, f: f},
	}))
	require.NoError(t, err)
	return c
}

// shiftDate moves the Date header by d, as a proxy with a wrong clock.
func shiftDate(d time.Duration) func(http.Header) {
	return func(h http.Header) {
		if t, err := http.ParseTime(h.Get("Date")); err == nil {
			h.Set("Date", t.Add(d).UTC().Format(http.TimeFormat))
		}
	}
}

// countRefreshes calls AccessToken every step of the fake's clock for
// span, and returns the refreshes the server saw meanwhile. s should renew
// before it answers (WithBlockingRefresh), so that no renewal runs behind
// the count.
func countRefreshes(t *testing.T, e *atkEnv, s *userauth.TokenStore, span, step time.Duration) int {
	t.Helper()
	ctx := context.Background()
	before := e.srv.Calls(userauthtest.PathRefresh)
	for elapsed := time.Duration(0); elapsed < span; elapsed += step {
		_, err := s.AccessToken(ctx)
		require.NoError(t, err)
		e.srv.Advance(step)
	}
	return e.srv.Calls(userauthtest.PathRefresh) - before
}

// TestHostileStoreDateBehindDefersToIat: access tokens carry a true iat and
// exp (15 minutes); a proxy in front of the API writes a Date from a clock
// that is behind (2 minutes, an hour). The later of iat and Date is the
// server's clock at issue: 16 minutes after the login, the token handed out
// is not one the server has expired.
func TestHostileStoreDateBehindDefersToIat(t *testing.T) {
	t.Parallel()
	for _, behind := range []time.Duration{2 * time.Minute, time.Hour} {
		t.Run(fmt.Sprint("Date behind by ", behind), func(t *testing.T) {
			e := newAtkEnv(t)
			ctx := context.Background()
			c := clientRewriting(t, e, shiftDate(-behind))
			s, err := userauth.NewTokenStore(c, nil, userauth.WithClock(e.srv.Now))
			require.NoError(t, err)
			_, err = s.Login(ctx, atkAnn)
			require.NoError(t, err)
			e.srv.Advance(16 * time.Minute)
			tok, err := s.AccessToken(ctx)
			require.NoError(t, err)
			assert.True(t, serverExp(t, tok).After(e.srv.Now()), "an expired access token was handed out")
			assert.Equal(t, http.StatusOK, bearerGet(t, e, tok, userauthtest.PathAccount))
		})
	}
}

// TestHostileStoreDateAheadRenewsEarlyNotOnEveryCall: a proxy's Date 14
// minutes ahead of a server whose tokens carry a true iat and a 15-minute
// exp. The later of iat and Date is taken (a stale iat looks the same), so
// the token looks one minute long and is renewed at half that, every 30 s:
// early, never on every call (84 calls here).
func TestHostileStoreDateAheadRenewsEarlyNotOnEveryCall(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	c := clientRewriting(t, e, shiftDate(14*time.Minute))
	s, err := userauth.NewTokenStore(c, nil, userauth.WithClock(e.srv.Now), userauth.WithBlockingRefresh())
	require.NoError(t, err)
	_, err = s.Login(context.Background(), atkAnn)
	require.NoError(t, err)
	n := countRefreshes(t, e, s, 14*time.Minute, 10*time.Second)
	t.Logf("refreshes in 14 minutes of a 15-minute token: %d", n)
	assert.LessOrEqual(t, n, 29, "one renewal per half of the apparent lifetime at most")
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

// TestHostileStoreNoServerClockTrustsTheLocalClock: a server whose tokens
// have a true exp but no iat, behind a proxy that drops the Date header: no
// answer tells the server's clock, and exp is read against the local clock.
// A 15-minute token is not renewed in its first 14 minutes.
func TestHostileStoreNoServerClockTrustsTheLocalClock(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t, userauthtest.WithTokenClaims(func(c map[string]any) { delete(c, "iat") }))
	c := clientRewriting(t, e, func(h http.Header) { h.Del("Date") })
	s, err := userauth.NewTokenStore(c, nil, userauth.WithClock(e.srv.Now), userauth.WithBlockingRefresh())
	require.NoError(t, err)
	_, err = s.Login(context.Background(), atkAnn)
	require.NoError(t, err)
	n := countRefreshes(t, e, s, 14*time.Minute, 10*time.Second)
	t.Logf("refreshes in 14 minutes of a 15-minute token: %d", n)
	assert.Zero(t, n)
}

// TestHostileStoreReplicasRenewOnceBeforeTheyKnowTheServerClock: five
// replicas share a storage, all clocks right; one logs in, the others only
// read. A pair read before a store has heard from the server is trusted
// five minutes at most (a replica whose clock is behind would hand out
// expired tokens), so each reader renews once early, and then knows the
// server's clock: over 29 minutes, at most one refresh per token lifetime
// plus one per reader.
func TestHostileStoreReplicasRenewOnceBeforeTheyKnowTheServerClock(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := userauth.NewMemoryStorage()
	stores := make([]*userauth.TokenStore, 5)
	for i := range stores {
		stores[i] = e.store(t, storage, userauth.WithBlockingRefresh()) // no renewal behind the count
	}
	_, err := stores[0].Login(ctx, atkAnn)
	require.NoError(t, err)
	before := e.srv.Calls(userauthtest.PathRefresh)
	for elapsed := time.Duration(0); elapsed < 29*time.Minute; elapsed += 15 * time.Second {
		for _, s := range stores {
			_, err := s.AccessToken(ctx)
			require.NoError(t, err)
		}
		e.srv.Advance(15 * time.Second)
	}
	n := e.srv.Calls(userauthtest.PathRefresh) - before
	t.Logf("refreshes in 29 minutes of 15-minute tokens across 5 replicas: %d", n)
	assert.LessOrEqual(t, n, 2+len(stores)-1)
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

// TestHostileStoreIatNearDate: an iat a minute or so from Date, either way:
// the later one is taken. The token handed out is never one the server has
// expired, and a 15-minute token is not renewed on every call.
func TestHostileStoreIatNearDate(t *testing.T) {
	t.Parallel()
	for _, drift := range []int64{-61, -60, 60, 61} {
		t.Run(fmt.Sprint("iat ", drift, "s from Date"), func(t *testing.T) {
			e := newAtkEnv(t, userauthtest.WithTokenClaims(func(c map[string]any) { c["iat"] = c["iat"].(int64) + drift }))
			ctx := context.Background()
			s := e.store(t, nil)
			_, err := s.Login(ctx, atkAnn)
			require.NoError(t, err)
			for range 10 {
				_, err := s.AccessToken(ctx)
				require.NoError(t, err)
			}
			e.quiesce()
			assert.LessOrEqual(t, e.srv.Calls(userauthtest.PathRefresh), 1, "a storm")
			e.srv.Advance(15*time.Minute + 5*time.Second)
			tok, err := s.AccessToken(ctx)
			require.NoError(t, err)
			t.Logf("drift %ds: handed out exp-now %v", drift, serverExp(t, tok).Sub(e.srv.Now()).Round(time.Second))
			assert.True(t, serverExp(t, tok).After(e.srv.Now()), "an expired access token was handed out")
		})
	}
}

// TestHostileStoreDateFarAheadWithoutIatCausesNoStorm: access tokens
// without iat (optional in a JWT), answers whose Date is a day ahead (a
// proxy with a wrong clock). exp is before Date: the lifetime is unknown,
// and the token is trusted for a while. The Date must not be taken for the
// server's clock, which would make every token look expired and every call
// refresh.
func TestHostileStoreDateFarAheadWithoutIatCausesNoStorm(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t, userauthtest.WithTokenClaims(func(c map[string]any) { delete(c, "iat") }))
	c := clientRewriting(t, e, shiftDate(24*time.Hour))
	s, err := userauth.NewTokenStore(c, nil, userauth.WithClock(e.srv.Now))
	require.NoError(t, err)
	ctx := context.Background()
	_, err = s.Login(ctx, atkAnn)
	require.NoError(t, err)
	for range 20 {
		_, err := s.AccessToken(ctx)
		require.NoError(t, err)
	}
	t.Logf("refreshes for 20 calls within a second of login: %d", e.srv.Calls(userauthtest.PathRefresh))
	assert.LessOrEqual(t, e.srv.Calls(userauthtest.PathRefresh), 1, "a refresh storm")
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

// TestHostileStoreStaleIatDefersToDate: a server whose access tokens carry
// an iat an hour old (the session's first issue, say) with a true exp and a
// true Date. iat is not the server's clock now: the Date is, and the store
// must not hand the token out after it expired.
func TestHostileStoreStaleIatDefersToDate(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t, userauthtest.WithTokenClaims(func(c map[string]any) { c["iat"] = c["iat"].(int64) - 3600 }))
	ctx := context.Background()
	s := e.annStore(t, nil)
	e.srv.Advance(16 * time.Minute)
	tok, err := s.AccessToken(ctx)
	require.NoError(t, err)
	assert.True(t, serverExp(t, tok).After(e.srv.Now()), "an expired access token was handed out")
	assert.Equal(t, http.StatusOK, bearerGet(t, e, tok, userauthtest.PathAccount), "the server refuses the token handed out")
}

// TestHostileStoreReplicaBehindBoundsPairsItCannotDate: two replicas share
// a storage; the writer's clock is right, the reader's an hour behind. The
// reader only adopts pairs from storage, so it has measured no offset, and
// the saved Expiry (the writer's clock) looks an hour later to it. It must
// trust that expiry for a while only, and never hand out a token the server
// has expired.
func TestHostileStoreReplicaBehindBoundsPairsItCannotDate(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := userauth.NewMemoryStorage()
	writer := e.store(t, storage)
	reader := e.store(t, storage, userauth.WithClock(func() time.Time { return e.srv.Now().Add(-time.Hour) }))
	_, err := writer.Login(ctx, atkAnn)
	require.NoError(t, err)
	_, err = reader.AccessToken(ctx)
	require.NoError(t, err)

	e.srv.Advance(16 * time.Minute)
	tok, err := reader.AccessToken(ctx)
	require.NoError(t, err)
	assert.True(t, serverExp(t, tok).After(e.srv.Now()), "the reader handed out an access token the server has expired")
}

// TestHostileStoreSlowAnswerDatesTheTokenFromTheRequest: the login answer
// is held back 5 s after the server issued the token. Counted from the
// answer's arrival, the token's expiry would be 5 s late; it is counted
// from when the request was sent. A token whose renewals fail is then never
// handed out after it expired (Token's doc: only while it "has not expired
// yet").
func TestHostileStoreSlowAnswerDatesTheTokenFromTheRequest(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	s := e.store(t, nil)
	e.srv.Fail(userauthtest.PathLogin, 1, userauthtest.Fault{Hold: 5 * time.Second})
	first, err := s.Login(ctx, atkAnn)
	require.NoError(t, err)
	exp := serverExp(t, first.AccessToken)
	e.srv.Fail(userauthtest.PathRefresh, 100, userauthtest.Fault{Status: 500})
	e.srv.Advance(exp.Sub(e.srv.Now()) + 2*time.Second) // 2 s past exp by the server's clock
	tok, err := s.AccessToken(ctx)
	if err == nil {
		assert.True(t, serverExp(t, tok).After(e.srv.Now()), "an access token the server expired 2 s ago was handed out")
	}
}

// TestHostileStoreSentinelExpIsAnUnknownExpiry: tokens whose exp is
// 9999-12-31T23:59:59Z (a common "never expires" value) while the server
// keeps its own 15-minute record. The lifetime is not believed: the token
// is an unknown expiry, renewed every five minutes, and no token handed
// out is one the server refuses.
func TestHostileStoreSentinelExpIsAnUnknownExpiry(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t, userauthtest.WithTokenClaims(func(c map[string]any) { c["exp"] = int64(253402300799) }))
	s := e.store(t, nil, userauth.WithBlockingRefresh())
	ctx := context.Background()
	tok, err := s.Login(ctx, atkAnn)
	require.NoError(t, err)
	assert.True(t, tok.Expiry.IsZero(), "an exp 8,000 years ahead is an unknown expiry, not %v", tok.Expiry)
	refused := 0
	for el := time.Duration(0); el < 29*time.Minute; el += 10 * time.Second {
		access, err := s.AccessToken(ctx)
		require.NoError(t, err)
		if bearerGet(t, e, access, userauthtest.PathAccount) != http.StatusOK {
			refused++
		}
		e.srv.Advance(10 * time.Second)
	}
	t.Logf("29 minutes of calls every 10 s: %d refreshes", e.srv.Calls(userauthtest.PathRefresh))
	assert.Zero(t, refused, "tokens the server had expired were handed out")
	assert.LessOrEqual(t, e.srv.Calls(userauthtest.PathRefresh), 6, "renewed about every five minutes, no more")
}

// TestHostileStoreDateBehindWithoutIatRecoversThroughTheTransport: tokens
// without iat, behind a proxy whose Date runs 10 minutes behind. Nothing
// tells that Date from a server clock (RELIABILITY.md, known limits): a
// 15-minute token looks 25 minutes long. A request through the store's
// transport 16 minutes on meets the server's 401, renews once and is
// answered.
func TestHostileStoreDateBehindWithoutIatRecoversThroughTheTransport(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t, userauthtest.WithTokenClaims(func(c map[string]any) { delete(c, "iat") }))
	c := clientRewriting(t, e, shiftDate(-10*time.Minute))
	s, err := userauth.NewTokenStore(c, nil, userauth.WithClock(e.srv.Now))
	require.NoError(t, err)
	_, err = s.Login(context.Background(), atkAnn)
	require.NoError(t, err)
	e.srv.Advance(16 * time.Minute)
	resp, err := s.HTTPClient().Get(e.srv.URL + userauthtest.PathAccount)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathRefresh))
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

// TestHostileStoreIatAheadRenewsAtMostOncePerCall: tokens whose iat is 5 s
// before their exp (an issuer whose clock runs ahead of the API's): each
// looks 5 s long, and the store believes it (RELIABILITY.md, known
// limits). Calls 10 s apart then renew at most once each, never in a loop
// within a call, and every token handed out works.
func TestHostileStoreIatAheadRenewsAtMostOncePerCall(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t, userauthtest.WithTokenClaims(func(c map[string]any) { c["iat"] = c["exp"].(int64) - 5 }))
	s := e.store(t, nil, userauth.WithBlockingRefresh())
	ctx := context.Background()
	_, err := s.Login(ctx, atkAnn)
	require.NoError(t, err)
	calls := 0
	for el := time.Duration(0); el < 10*time.Minute; el += 10 * time.Second {
		before := e.srv.Calls(userauthtest.PathRefresh)
		access, err := s.AccessToken(ctx)
		require.NoError(t, err)
		calls++
		require.LessOrEqual(t, e.srv.Calls(userauthtest.PathRefresh)-before, 1, "one call renewed more than once")
		require.Equal(t, http.StatusOK, bearerGet(t, e, access, userauthtest.PathAccount))
		e.srv.Advance(10 * time.Second)
	}
	t.Logf("%d calls, %d refreshes", calls, e.srv.Calls(userauthtest.PathRefresh))
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

// TestHostileStoreSentinelExpReadFromAFileIsNotHandedOut: tokens whose exp
// is 9999-12-31. Store A logs in over a FileStorage; store B reads the
// file. B's Token and TokenSource never hand out the sentinel as the
// expiry: Token says unknown (zero), and the TokenSource, as oauth2 reads
// a zero Expiry as never expiring, the moment the store renews anyway.
func TestHostileStoreSentinelExpReadFromAFileIsNotHandedOut(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t, userauthtest.WithTokenClaims(func(c map[string]any) { c["exp"] = int64(253402300799) }))
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tokens.json")
	fa, err := userauth.NewFileStorage(path)
	require.NoError(t, err)
	a := e.store(t, fa)
	tok, err := a.Login(ctx, atkAnn)
	require.NoError(t, err)
	require.True(t, tok.Expiry.IsZero())

	fb, err := userauth.NewFileStorage(path)
	require.NoError(t, err)
	b := e.store(t, fb)
	got, err := b.Token(ctx)
	require.NoError(t, err)
	assert.True(t, got.Expiry.IsZero() || !got.Expiry.After(e.srv.Now().Add(5*time.Minute+time.Second)),
		"Token().Expiry of a sentinel exp read from the file: %v", got.Expiry)
	ots, err := b.TokenSource(ctx).Token()
	require.NoError(t, err)
	assert.True(t, ots.Expiry.IsZero() || !ots.Expiry.After(e.srv.Now().Add(5*time.Minute+time.Second)),
		"TokenSource's Expiry of a sentinel exp read from the file: %v", ots.Expiry)
}
