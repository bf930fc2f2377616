package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tarilabs/userauth"
)

func TestMain(m *testing.M) {
	if os.Getenv("REDIS_ADDR") == "" && os.Getenv("CI") == "" {
		// go test shows nothing of a passing package without -v, so the
		// skip is said on the terminal, when there is one.
		if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
			fmt.Fprintln(tty, skipNotice)
			tty.Close()
		}
		// The Examples need a Redis as much as the tests do, whatever -run
		// selects: they cannot skip themselves, so they are not run.
		if f := flag.Lookup("test.skip"); f != nil && f.Value.String() == "" {
			_ = flag.Set("test.skip", "^Example")
		}
	}
	goleak.VerifyTestMain(m)
}

// skipNotice says why the Redis tests did not run, and how to run them.
const skipNotice = "redisstore: REDIS_ADDR is not set: the Redis tests and Examples are skipped. " +
	"Start one with: redis-server --port 6379 --save '' --daemonize yes; then REDIS_ADDR=127.0.0.1:6379 go test -race work"

// redisAddr is the Redis the tests use: REDIS_ADDR, which .ci/run sets
// after starting one. In CI a missing Redis fails the tests; elsewhere they
// are skipped with a hint.
func redisAddr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("REDIS_ADDR")
	if addr == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("REDIS_ADDR is not set: .ci/run must start Redis and export its address")
		}
		t.Skip(skipNotice)
	}
	return addr
}

func newRedis(t testing.TB, addr string) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// uniqueKey keeps tests that share one Redis apart.
func uniqueKey(t testing.TB) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return strings.ReplaceAll(t.Name(), "/", "-") + "-" + hex.EncodeToString(b)
}

func newStore(t testing.TB, rdb redis.UniversalClient, opts ...Option) *Store {
	t.Helper()
	s, err := New(rdb, uniqueKey(t), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { rdb.Del(context.Background(), s.key, s.lockKey) })
	return s
}

var tok = &userauth.Token{AccessToken: "eyJ.access-SECRET.sig", RefreshToken: "refresh-SECRET", Expiry: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}

// recordOf is the record of generation gen holding tok.
func recordOf(tok *userauth.Token, gen uint64) *userauth.Record {
	return &userauth.Record{Generation: gen, Paired: gen, Phase: userauth.PhaseActive, Token: tok}
}

func TestStoreImplementsStorageAndLocker(t *testing.T) {
	var _ userauth.TokenStorage = (*Store)(nil)
	var _ userauth.Locker = (*Store)(nil)
}

func TestNewValidates(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer rdb.Close()
	for name, f := range map[string]func() (*Store, error){
		"nil client":     func() (*Store, error) { return New(nil, "k") },
		"empty key":      func() (*Store, error) { return New(rdb, "") },
		"short enc key":  func() (*Store, error) { return New(rdb, "k", WithEncryptionKey(make([]byte, 16))) },
		"negative ttl":   func() (*Store, error) { return New(rdb, "k", WithTokenTTL(-1)) },
		"zero lock ttl":  func() (*Store, error) { return New(rdb, "k", WithLockTTL(0)) },
		"zero lock wait": func() (*Store, error) { return New(rdb, "k", WithLockWait(0)) },
	} {
		t.Run(name, func(t *testing.T) {
			s, err := f()
			assert.Nil(t, s)
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), "redisstore: "), err.Error())
		})
	}
	s, err := New(rdb, "sess", WithKeyPrefix("app:"))
	require.NoError(t, err)
	assert.Equal(t, "app:sess", s.Key())
}

func TestLoadSaveClear(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, newRedis(t, redisAddr(t)))
	got, err := s.Load(ctx)
	require.NoError(t, err)
	assert.Nil(t, got)
	require.NoError(t, s.Save(ctx, recordOf(tok, 1)))
	got, err = s.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, recordOf(tok, 1), got)
	assert.ErrorIs(t, s.Save(ctx, recordOf(tok, 1)), userauth.ErrConflict, "a generation Redis holds already is refused")
	require.NoError(t, s.Clear(ctx))
	got, err = s.Load(ctx)
	require.NoError(t, err)
	assert.Nil(t, got)
	assert.Error(t, s.Save(ctx, nil))
}

func TestTokenTTL(t *testing.T) {
	ctx := context.Background()
	rdb := newRedis(t, redisAddr(t))
	s := newStore(t, rdb, WithTokenTTL(time.Hour))
	require.NoError(t, s.Save(ctx, recordOf(tok, 1)))
	ttl, err := rdb.TTL(ctx, s.key).Result()
	require.NoError(t, err)
	assert.InDelta(t, time.Hour.Seconds(), ttl.Seconds(), 5)
}

func TestEncryptionAtRest(t *testing.T) {
	ctx := context.Background()
	rdb := newRedis(t, redisAddr(t))
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	s := newStore(t, rdb, WithEncryptionKey(key))
	require.NoError(t, s.Save(ctx, recordOf(tok, 1)))

	raw, err := rdb.Get(ctx, s.key).Result()
	require.NoError(t, err)
	assert.NotContains(t, raw, tok.AccessToken)
	assert.NotContains(t, raw, tok.RefreshToken)
	assert.NotContains(t, raw, "SECRET")
	got, err := s.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, recordOf(tok, 1), got)

	// Another key, no key, a value moved to another Redis key, a clear
	// value where encryption is on: all refused as corrupt.
	other := make([]byte, 32)
	_, _ = rand.Read(other)
	wrong, _ := New(rdb, strings.TrimPrefix(s.key, DefaultKeyPrefix), WithEncryptionKey(other))
	_, err = wrong.Load(ctx)
	assert.ErrorIs(t, err, ErrCorrupt)
	plain, _ := New(rdb, strings.TrimPrefix(s.key, DefaultKeyPrefix))
	_, err = plain.Load(ctx)
	assert.ErrorIs(t, err, ErrCorrupt)
	moved := newStore(t, rdb, WithEncryptionKey(key))
	require.NoError(t, rdb.Set(ctx, moved.key, raw, 0).Err())
	_, err = moved.Load(ctx)
	assert.ErrorIs(t, err, ErrCorrupt, "the Redis key is bound into the ciphertext")
	require.NoError(t, plain.Save(ctx, recordOf(tok, 2)))
	_, err = s.Load(ctx)
	assert.ErrorIs(t, err, ErrCorrupt)
	for _, e := range []error{err} {
		assert.NotContains(t, e.Error(), "SECRET")
	}
}

func TestLockExcludes(t *testing.T) {
	rdb := newRedis(t, redisAddr(t))
	s := newStore(t, rdb)
	var inside, most atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				unlock, err := s.Lock(context.Background())
				if !assert.NoError(t, err) {
					return
				}
				n := inside.Add(1)
				for {
					m := most.Load()
					if n <= m || most.CompareAndSwap(m, n) {
						break
					}
				}
				time.Sleep(time.Millisecond)
				inside.Add(-1)
				unlock()
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(1), most.Load())
}

func TestLockBusyAndOwnership(t *testing.T) {
	rdb := newRedis(t, redisAddr(t))
	s := newStore(t, rdb, WithLockWait(50*time.Millisecond), WithLockTTL(200*time.Millisecond))
	unlock, err := s.Lock(context.Background())
	require.NoError(t, err)
	_, err = s.Lock(context.Background())
	assert.ErrorIs(t, err, ErrLockBusy)
	assert.False(t, errors.Is(err, userauth.ErrStorageUnavailable), "busy is not down")

	// The holder dies: the lock expires by its TTL, another takes it, and
	// the late release of the first owner does not free the second's lock.
	time.Sleep(250 * time.Millisecond)
	unlock2, err := s.Lock(context.Background())
	require.NoError(t, err)
	unlock()
	_, err = s.Lock(context.Background())
	assert.ErrorIs(t, err, ErrLockBusy, "released only by its owner")
	unlock2()
	unlock3, err := s.Lock(context.Background())
	require.NoError(t, err)
	unlock3()

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = s.Lock(ctx)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestUnreachableRedisIsTyped(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	s := newStore(t, newRedis(t, addr), WithLockWait(100*time.Millisecond))
	ctx := context.Background()
	_, err = s.Load(ctx)
	checkUnavailable(t, err, "load")
	checkUnavailable(t, s.Save(ctx, recordOf(tok, 1)), "save")
	checkUnavailable(t, s.Clear(ctx), "clear")
	_, err = s.Lock(ctx)
	checkUnavailable(t, err, "lock")
}

func checkUnavailable(t *testing.T, err error, op string) {
	t.Helper()
	var ue *UnavailableError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, op, ue.Op)
	assert.ErrorIs(t, err, userauth.ErrStorageUnavailable)
	assert.Contains(t, err.Error(), "redisstore: "+op+": redis unavailable: ")
}

// proxy is a loopback TCP proxy in front of Redis that can be cut and
// restored on the same address, to stage an outage.
type proxy struct {
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
	wg     sync.WaitGroup
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &proxy{target: target, addr: ln.Addr().String(), conns: map[net.Conn]bool{}}
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[up] = true, true
			p.mu.Unlock()
			for _, pair := range [][2]net.Conn{{c, up}, {up, c}} {
				p.wg.Add(1)
				go func() {
					defer p.wg.Done()
					_, _ = io.Copy(pair[0], pair[1])
					pair[0].Close()
					pair[1].Close()
				}()
			}
		}
	}()
}

// cut closes the listener and every connection: Redis is "down".
func (p *proxy) cut() {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
	p.mu.Unlock()
	p.wg.Wait()
}

// restore listens again on the same address.
func (p *proxy) restore(t *testing.T) {
	ln, err := net.Listen("tcp", p.addr)
	require.NoError(t, err)
	p.serve(ln)
}

// TestAnUnsendableAccessTokenInRedisIsCorrupt: a stored access token with a
// control character (CR, LF) could never be presented, so Load refuses it
// as it refuses any value that is not a complete token.
func TestAnUnsendableAccessTokenInRedisIsCorrupt(t *testing.T) {
	rdb := newRedis(t, redisAddr(t))
	s := newStore(t, rdb)
	ctx := context.Background()
	require.NoError(t, rdb.Set(ctx, s.key, `{"access_token":"a\r\nX-Injected: 1","refresh_token":"r"}`, 0).Err())
	got, err := s.Load(ctx)
	assert.Nil(t, got)
	assert.ErrorIs(t, err, ErrCorrupt)
	assert.NotContains(t, err.Error(), "X-Injected")
}

// TestValueOfAnEarlierVersionIsUpgraded: a value as versions before session
// records stored it (a bare token, clear or sealed) is read as a record of
// generation 1, and the next save replaces it with a record that the save
// script can compare.
func TestValueOfAnEarlierVersionIsUpgraded(t *testing.T) {
	ctx := context.Background()
	rdb := newRedis(t, redisAddr(t))
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	for _, opts := range [][]Option{nil, {WithEncryptionKey(key)}} {
		s := newStore(t, rdb, opts...)
		legacy, err := json.Marshal(tok)
		require.NoError(t, err)
		require.NoError(t, rdb.Set(ctx, s.key, s.seal(legacy), 0).Err())
		got, err := s.Load(ctx)
		require.NoError(t, err)
		assert.Equal(t, uint64(1), got.Generation)
		assert.Equal(t, userauth.PhaseActive, got.Phase)
		assert.Equal(t, tok.RefreshToken, got.Token.RefreshToken)

		assert.ErrorIs(t, s.Save(ctx, recordOf(tok, 1)), userauth.ErrConflict, "the legacy value counts as generation 1")
		require.NoError(t, s.Save(ctx, recordOf(tok, 2)))
		raw, err := rdb.Get(ctx, s.key).Result()
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(raw, "r2:2:"), "upgraded to a record")
		got, err = s.Load(ctx)
		require.NoError(t, err)
		assert.Equal(t, uint64(2), got.Generation)
	}
}
