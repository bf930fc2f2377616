package redisstore_test

// Adversarial tests of TokenStore over redisstore: replicas sharing one
// Redis key. They need REDIS_ADDR (skipped without it), as the package's
// own tests do. Each TestHostile... fails while its guarantee is broken.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tarilabs/userauth"
	"github.com/tarilabs/userauth/redisstore"
	"github.com/tarilabs/userauth/userauthtest"
)

var atkAnn = userauth.LoginRequest{Email: "ann@attack.test", Password: "pw-ann-SECRET-1"}

type redisEnv struct {
	srv    *userauthtest.Server
	client *userauth.Client
	rdb    *redis.Client
	key    string
}

func newRedisEnv(t *testing.T) *redisEnv {
	t.Helper()
	addr := os.Getenv("REDIS_ADDR")
	if addr == "" {
		t.Skip("REDIS_ADDR is not set")
	}
	srv := userauthtest.NewServer()
	t.Cleanup(srv.Close)
	_, err := srv.AddUser(userauthtest.User{Email: atkAnn.Email, Password: atkAnn.Password})
	require.NoError(t, err)
	c, err := userauth.NewClient(srv.URL, userauth.WithHTTPClient(srv.Client()), userauth.WithRetry(2, time.Millisecond, 2*time.Millisecond))
	require.NoError(t, err)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Close() })
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	key := "attack-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		rdb.ConfigSet(context.Background(), "maxmemory", "0")
		rdb.Del(context.Background(), redisstore.DefaultKeyPrefix+key, redisstore.DefaultKeyPrefix+key+":lock")
	})
	return &redisEnv{srv: srv, client: c, rdb: rdb, key: key}
}

// replica is one TokenStore over its own Redis client and Store on the
// shared key, with a clock offset from the fake's.
func (e *redisEnv) replica(t *testing.T, offset time.Duration, opts ...userauth.StoreOption) *userauth.TokenStore {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR")})
	t.Cleanup(func() { rdb.Close() })
	st, err := redisstore.New(rdb, e.key)
	require.NoError(t, err)
	clock := func() time.Time { return e.srv.Now().Add(offset) }
	s, err := userauth.NewTokenStore(e.client, st, append([]userauth.StoreOption{userauth.WithClock(clock)}, opts...)...)
	require.NoError(t, err)
	return s
}

func exp(t *testing.T, jwt string) time.Time {
	parts := strings.Split(jwt, ".")
	require.Len(t, parts, 3)
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var c struct{ Exp int64 }
	require.NoError(t, json.Unmarshal(raw, &c))
	return time.Unix(c.Exp, 0)
}

// TestHostileRedisOOMOnSaveLetsAnotherReplicaSpend: Redis reaches its
// maxmemory (noeviction) while replica A's refresh is on its way. A's SET
// of the rotated pair is refused with an OOM error reply, an error that is
// not "unavailable". Replica B must never spend the refresh token A
// already spent (theft detection would end the session): Redis holds A's
// spending record, which no other replica presents, and A writes its own
// pair back later.
func TestHostileRedisOOMOnSaveLetsAnotherReplicaSpend(t *testing.T) {
	e := newRedisEnv(t)
	ctx := context.Background()
	a, b := e.replica(t, 0), e.replica(t, 0)
	_, err := a.Login(ctx, atkAnn)
	require.NoError(t, err)
	_, err = b.AccessToken(ctx)
	require.NoError(t, err)

	e.srv.Advance(16 * time.Minute)
	e.srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Delay: 300 * time.Millisecond})
	done := make(chan error, 1)
	go func() { _, err := a.AccessToken(ctx); done <- err }()
	require.Eventually(t, func() bool { return e.srv.Calls(userauthtest.PathRefresh) == 1 }, 5*time.Second, time.Millisecond)
	require.NoError(t, e.rdb.ConfigSet(ctx, "maxmemory", "1").Err())
	errA := <-done
	t.Logf("A: %v", errA)
	require.NoError(t, e.rdb.ConfigSet(ctx, "maxmemory", "0").Err())

	// B finds the refresh token in flight: told to try again, never
	// presenting it.
	_, errB := b.AccessToken(ctx)
	t.Logf("B: %v", errB)
	assert.Equal(t, 0, e.srv.ReuseDetected(), "B presented the refresh token A had spent")
	if errB != nil {
		assert.ErrorIs(t, errB, userauth.ErrStorageUnavailable)
	}
	// Redis has room again: A writes its pair back behind its callers, and
	// B adopts it.
	e.srv.Advance(2 * time.Second)
	ta, err := a.AccessToken(ctx)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		tb, err := b.AccessToken(ctx)
		return err == nil && tb == ta
	}, 10*time.Second, 5*time.Millisecond, "B adopts the pair A wrote back")
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

// TestHostileRedisReplicasWithSkewedClocks: two replicas on one Redis key,
// one with its clock an hour ahead (a replica whose NTP is off). Token.Expiry
// is an instant of the writer's clock, so the replica on time adopts the
// other's pairs as good for an hour too long and hands out expired tokens.
func TestHostileRedisReplicasWithSkewedClocks(t *testing.T) {
	e := newRedisEnv(t)
	ctx := context.Background()
	onTime := e.replica(t, 0, userauth.WithBlockingRefresh())
	ahead := e.replica(t, time.Hour, userauth.WithBlockingRefresh())
	_, err := onTime.Login(ctx, atkAnn)
	require.NoError(t, err)
	expired := 0
	for range 60 {
		e.srv.Advance(time.Minute)
		for _, s := range []*userauth.TokenStore{onTime, ahead} {
			tok, err := s.AccessToken(ctx)
			require.NoError(t, err)
			if !exp(t, tok).After(e.srv.Now()) {
				expired++
			}
		}
	}
	t.Logf("refreshes: %d; minutes an expired token was handed out: %d", e.srv.Calls(userauthtest.PathRefresh), expired)
	assert.Zero(t, expired, "AccessToken handed out tokens the server had expired")
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

// TestHostileRedisStormAndLogoutAcrossReplicas (holds): six replicas, storms
// of expiries and forced 401s, one refresh per round; then a logout during
// held renewals elsewhere: storage empty, every replica ErrLoginRequired.
func TestHostileRedisStormAndLogoutAcrossReplicas(t *testing.T) {
	e := newRedisEnv(t)
	ctx := context.Background()
	var reps []*userauth.TokenStore
	for range 6 {
		reps = append(reps, e.replica(t, 0))
	}
	_, err := reps[0].Login(ctx, atkAnn)
	require.NoError(t, err)
	for round := 1; round <= 4; round++ {
		if round%2 == 0 {
			e.srv.ExpireAccessTokens()
		} else {
			e.srv.Advance(16 * time.Minute)
		}
		var wg sync.WaitGroup
		for _, s := range reps {
			for range 20 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp, err := s.HTTPClient().Get(e.srv.URL + userauthtest.PathAccount)
					if assert.NoError(t, err) {
						resp.Body.Close()
						assert.Equal(t, http.StatusOK, resp.StatusCode)
					}
				}()
			}
		}
		wg.Wait()
		assert.Equal(t, round, e.srv.Calls(userauthtest.PathRefresh), "round %d", round)
	}

	e.srv.Advance(16 * time.Minute)
	e.srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Hold: 200 * time.Millisecond})
	var wg sync.WaitGroup
	for _, s := range reps[1:] {
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = s.AccessToken(ctx) }()
	}
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, reps[0].Logout(ctx))
	wg.Wait()
	st, err := redisstore.New(e.rdb, e.key)
	require.NoError(t, err)
	rec, err := st.Load(ctx)
	require.NoError(t, err)
	require.NotNil(t, rec)
	assert.Equal(t, userauth.PhaseLoggedOut, rec.Phase, "storage holds the logged-out record after Logout")
	e.srv.Advance(16 * time.Minute)
	for i, s := range reps {
		_, err := s.AccessToken(ctx)
		assert.ErrorIs(t, err, userauth.ErrLoginRequired, "replica %d", i)
	}
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

// TestHostileRedisLogoutFindingAnotherReplicasPendingLoginRevokesNothing: replicas A
// and B share a Redis key. A holds ann's complete session; B logs tom in,
// pending a 2FA step, over the shared key. A.Logout finds tom's pending
// step, which no renewal of A was answered with: it clears it without a
// call, and ann's other sessions keep working.
func TestHostileRedisLogoutFindingAnotherReplicasPendingLoginRevokesNothing(t *testing.T) {
	e := newRedisEnv(t)
	ctx := context.Background()
	tom := userauth.LoginRequest{Email: "tom@attack.test", Password: "pw-tom-SECRET-2"}
	_, err := e.srv.AddUser(userauthtest.User{Email: tom.Email, Password: tom.Password, TwoFactor: userauthtest.TwoFactorTOTP})
	require.NoError(t, err)
	a, b := e.replica(t, 0), e.replica(t, 0)
	_, err = a.Login(ctx, atkAnn)
	require.NoError(t, err)

	other, err := userauth.NewTokenStore(e.client, nil, userauth.WithClock(e.srv.Now))
	require.NoError(t, err)
	_, err = other.Login(ctx, atkAnn)
	require.NoError(t, err)
	otherAccess, err := other.AccessToken(ctx)
	require.NoError(t, err)

	_, err = b.Login(ctx, tom)
	var tfa *userauth.TwoFactorRequiredError
	require.ErrorAs(t, err, &tfa)

	require.NoError(t, a.Logout(ctx))
	assert.Equal(t, 0, e.srv.Calls(userauthtest.PathLogout),
		"A revoked with ann's token while Redis held tom's pending login")
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+userauthtest.PathAccount, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+otherAccess)
	resp, err := e.srv.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "logging out tom's pending login revoked ann's other sessions")
}
