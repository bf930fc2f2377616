package redisstore

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tarilabs/userauth"
	"github.com/tarilabs/userauth/userauthtest"
)

const (
	helperEnv = "REDISSTORE_TEST_HELPER"
	replicas  = 8
	rounds    = 3
)

var ann = userauth.LoginRequest{Email: "ann@example.com", Password: "pw-ann"}

// TestHelperProcess is not a test: it is the body of a replica process,
// chosen by helperEnv, and does nothing otherwise.
func TestHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) == "" {
		return
	}
	fmt.Println(replica())
	os.Exit(0)
}

// replica builds its own TokenStore over the shared Redis key, waits for
// the start time, asks for a token, and reports a digest of it.
func replica() string {
	offset, _ := time.ParseDuration(os.Getenv("REPLICA_CLOCK_OFFSET"))
	var startNanos int64
	fmt.Sscan(os.Getenv("REPLICA_START_AT"), &startNanos)
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR")})
	defer rdb.Close()
	store, err := New(rdb, os.Getenv("REPLICA_KEY"))
	if err != nil {
		return "ERR " + err.Error()
	}
	var storage userauth.TokenStorage = store
	if os.Getenv(helperEnv) == "nolock" {
		storage = plain{store}
	}
	c, err := userauth.NewClient(os.Getenv("REPLICA_BASE_URL"))
	if err != nil {
		return "ERR " + err.Error()
	}
	ts, err := userauth.NewTokenStore(c, storage, userauth.WithClock(func() time.Time { return time.Now().Add(offset) }))
	if err != nil {
		return "ERR " + err.Error()
	}
	time.Sleep(time.Until(time.Unix(0, startNanos)))
	access, err := ts.AccessToken(context.Background())
	if err != nil {
		return "ERR " + err.Error()
	}
	sum := sha256.Sum256([]byte(access))
	return "TOKEN " + hex.EncodeToString(sum[:8])
}

// plain hides the Locker: the storage without its distributed lock.
type plain struct{ userauth.TokenStorage }

type replicaRun struct {
	srv     *userauthtest.Server
	key     string
	offset  time.Duration
	outputs []string
}

// runReplicas logs in once, then for each round expires the access token
// and starts all replicas at the same instant.
func runReplicas(t *testing.T, mode string, rounds int, eachRound func(r *replicaRun, round int)) *replicaRun {
	addr := redisAddr(t)
	srv := userauthtest.NewServer()
	t.Cleanup(srv.Close)
	_, err := srv.AddUser(userauthtest.User{Email: ann.Email, Password: ann.Password})
	require.NoError(t, err)
	rdb := newRedis(t, addr)
	store := newStore(t, rdb)
	c, err := userauth.NewClient(srv.URL)
	require.NoError(t, err)
	_, err = mustStore(t, c, store).Login(context.Background(), ann)
	require.NoError(t, err)

	r := &replicaRun{srv: srv, key: strings.TrimPrefix(store.Key(), DefaultKeyPrefix)}
	for round := 1; round <= rounds; round++ {
		srv.Advance(16 * time.Minute)
		r.offset += 16 * time.Minute
		// A slow refresh makes every replica that refreshes overlap. The
		// processes start together at startAt: far enough ahead that all
		// have started, even on a loaded machine (at 700 ms some had not,
		// and the contrast run saw no overlap).
		srv.Fail(userauthtest.PathRefresh, replicas, userauthtest.Fault{Delay: 300 * time.Millisecond})
		startAt := time.Now().Add(2 * time.Second).UnixNano()
		r.outputs = make([]string, replicas)
		var wg sync.WaitGroup
		for i := range replicas {
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
			cmd.Env = append(os.Environ(), helperEnv+"="+mode, "REDIS_ADDR="+addr, "REPLICA_KEY="+r.key,
				"REPLICA_BASE_URL="+srv.URL, "REPLICA_CLOCK_OFFSET="+r.offset.String(), fmt.Sprint("REPLICA_START_AT=", startAt))
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, _ := cmd.CombinedOutput()
				sc := bufio.NewScanner(strings.NewReader(string(out)))
				for sc.Scan() {
					if line := sc.Text(); strings.HasPrefix(line, "TOKEN ") || strings.HasPrefix(line, "ERR ") {
						r.outputs[i] = line
					}
				}
			}()
		}
		wg.Wait()
		eachRound(r, round)
	}
	return r
}

func TestReplicasShareOneRefreshPerRound(t *testing.T) {
	runReplicas(t, "lock", rounds, func(r *replicaRun, round int) {
		for i, out := range r.outputs {
			require.True(t, strings.HasPrefix(out, "TOKEN "), "round %d replica %d: %q", round, i, out)
			assert.Equal(t, r.outputs[0], out, "round %d: every replica ends with the same token", round)
		}
		assert.Equal(t, round, r.srv.Calls(userauthtest.PathRefresh), "round %d: exactly one refresh per round", round)
		assert.Equal(t, 0, r.srv.ReuseDetected(), "round %d", round)
		t.Logf("round %d: %d replicas, %d refreshes in all, %d reuses", round, replicas, r.srv.Calls(userauthtest.PathRefresh), r.srv.ReuseDetected())
	})
}

// TestReplicasWithoutLockStillSpendOnce: the same run with the storage's
// Locker hidden. The save script's compare-and-set on the generation still
// lets one replica write the spending record; the others find the refresh
// token in flight and never present it: one refresh, no reuse. Without a
// lock to wait on, they are told to try again (ErrStorageUnavailable) while
// their token has expired.
func TestReplicasWithoutLockStillSpendOnce(t *testing.T) {
	run := runReplicas(t, "nolock", 1, func(r *replicaRun, _ int) {})
	refreshes, reuses := run.srv.Calls(userauthtest.PathRefresh), run.srv.ReuseDetected()
	t.Logf("without the lock: %d replicas, %d refreshes, %d reuse detected; outputs %q", replicas, refreshes, reuses, run.outputs)
	assert.Equal(t, 1, refreshes, "one replica spent the refresh token")
	assert.Zero(t, reuses, "no replica presented it again")
	tokens := 0
	for _, out := range run.outputs {
		if strings.HasPrefix(out, "TOKEN ") {
			tokens++
		} else {
			assert.Contains(t, out, "another process is renewing the tokens")
		}
	}
	assert.GreaterOrEqual(t, tokens, 1)
}

// fakeAPI starts the fake API with ann as its user, and a client for it.
func fakeAPI(t *testing.T) (*userauthtest.Server, *userauth.Client) {
	srv := userauthtest.NewServer()
	t.Cleanup(srv.Close)
	_, err := srv.AddUser(userauthtest.User{Email: ann.Email, Password: ann.Password})
	require.NoError(t, err)
	c, err := userauth.NewClient(srv.URL, userauth.WithHTTPClient(srv.Client()))
	require.NoError(t, err)
	return srv, c
}

func TestRedisOutageMidRun(t *testing.T) {
	addr := redisAddr(t)
	px := newProxy(t, addr)
	srv, c := fakeAPI(t)
	store := newStore(t, newRedis(t, px.addr), WithLockWait(500*time.Millisecond))
	direct := newRedis(t, addr)
	ts := mustStore(t, c, store, userauth.WithClock(srv.Now))
	ctx := context.Background()
	first, err := ts.Login(ctx, ann)
	require.NoError(t, err)

	px.cut() // Redis goes away
	_, err = store.Load(ctx)
	checkUnavailable(t, err, "load")
	got, err := ts.AccessToken(ctx)
	require.NoError(t, err, "a valid token is still served")
	assert.Equal(t, first.AccessToken, got)

	srv.Advance(16 * time.Minute)
	renewed, err := ts.AccessToken(ctx)
	require.NoError(t, err, "expired during the outage: refreshed in-process, with a warning")
	assert.NotEqual(t, first.AccessToken, renewed)

	px.restore(t)                // Redis is back
	srv.Advance(2 * time.Second) // past the store's memory of the failed save
	got, err = ts.AccessToken(ctx)
	require.NoError(t, err)
	assert.Equal(t, renewed, got, "served at once; saved behind the caller")
	directStore, err := New(direct, strings.TrimPrefix(store.Key(), DefaultKeyPrefix))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		saved, err := directStore.Load(ctx)
		return err == nil && saved != nil && saved.Token != nil && saved.Token.AccessToken == renewed
	}, 10*time.Second, 5*time.Millisecond, "the tokens refreshed during the outage reached Redis once it returned")
	assert.Equal(t, 1, srv.Calls(userauthtest.PathRefresh))
	assert.Equal(t, 0, srv.ReuseDetected())
}

func TestRedisOutageFailClosed(t *testing.T) {
	addr := redisAddr(t)
	px := newProxy(t, addr)
	srv, c := fakeAPI(t)
	store := newStore(t, newRedis(t, px.addr), WithLockWait(200*time.Millisecond))
	ts := mustStore(t, c, store, userauth.WithClock(srv.Now), userauth.WithFailClosed())
	_, err := ts.Login(context.Background(), ann)
	require.NoError(t, err)
	px.cut()
	srv.Advance(16 * time.Minute)
	_, err = ts.AccessToken(context.Background())
	assert.ErrorIs(t, err, userauth.ErrStorageUnavailable)
	var ue *UnavailableError
	assert.ErrorAs(t, err, &ue)
	assert.Equal(t, 0, srv.Calls(userauthtest.PathRefresh))
}

// BenchmarkRefresh measures one forced refresh through a TokenStore over
// memory and over Redis (lock, read, save, release) against the same
// loopback fake: the difference is what Redis adds to a refresh.
func BenchmarkRefresh(b *testing.B) {
	srv := userauthtest.NewServer()
	defer srv.Close()
	if _, err := srv.AddUser(userauthtest.User{Email: ann.Email, Password: ann.Password}); err != nil {
		b.Fatal(err)
	}
	c, err := userauth.NewClient(srv.URL, userauth.WithHTTPClient(srv.Client()))
	if err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, storage userauth.TokenStorage) {
		ts := mustStore(b, c, storage)
		ctx := context.Background()
		if _, err := ts.Login(ctx, ann); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if _, err := ts.Refresh(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("memory", func(b *testing.B) { run(b, userauth.NewMemoryStorage()) })
	b.Run("redis", func(b *testing.B) { run(b, newStore(b, newRedis(b, redisAddr(b)))) })
}

// mustStore is userauth.NewTokenStore for tests, failing the test on an
// error.
func mustStore(t testing.TB, c *userauth.Client, storage userauth.TokenStorage, opts ...userauth.StoreOption) *userauth.TokenStore {
	t.Helper()
	ts, err := userauth.NewTokenStore(c, storage, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// TestLogoutWinsOverARenewalElsewhere logs out through one replica while
// another is in the middle of a refresh: the refresh must not write the
// session back to Redis.
func TestLogoutWinsOverARenewalElsewhere(t *testing.T) {
	addr := redisAddr(t)
	srv, c := fakeAPI(t)
	first := newStore(t, newRedis(t, addr))
	second, err := New(newRedis(t, addr), strings.TrimPrefix(first.Key(), DefaultKeyPrefix))
	require.NoError(t, err)
	a := mustStore(t, c, first, userauth.WithClock(srv.Now))
	b := mustStore(t, c, second, userauth.WithClock(srv.Now))
	ctx := context.Background()
	_, err = a.Login(ctx, ann)
	require.NoError(t, err)
	_, err = b.AccessToken(ctx)
	require.NoError(t, err)

	srv.Advance(16 * time.Minute)
	srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Delay: 300 * time.Millisecond})
	renewed := make(chan error, 1)
	go func() {
		_, err := b.AccessToken(ctx)
		renewed <- err
	}()
	require.Eventually(t, func() bool { return srv.Calls(userauthtest.PathRefresh) == 1 },
		5*time.Second, time.Millisecond, "the other replica's refresh reaches the server")
	require.NoError(t, a.Logout(ctx))
	<-renewed

	saved, err := first.Load(ctx)
	require.NoError(t, err)
	require.NotNil(t, saved)
	assert.Equal(t, userauth.PhaseLoggedOut, saved.Phase, "the logout wins: Redis holds the logged-out record")
	srv.Advance(16 * time.Minute)
	for name, s := range map[string]*userauth.TokenStore{"logged out": a, "other": b} {
		_, err := s.AccessToken(ctx)
		assert.ErrorIs(t, err, userauth.ErrLoginRequired, name)
	}
}
