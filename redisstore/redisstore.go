// Package redisstore keeps a userauth session in Redis, so that several
// replicas of a service can act as the same user. Store implements
// userauth.TokenStorage and userauth.Locker: a TokenStore over it refreshes
// under a distributed lock, after re-reading Redis, so that however many
// replicas see the access token expire, one of them spends the refresh
// token and the others adopt its result. Without the lock, two replicas
// presenting the same rotating refresh token is exactly what the server's
// theft detection punishes, logging every replica out.
//
// The lock is github.com/bsm/redislock: an owner token, release by its
// owner only, a TTL, and a bounded wait with backoff. When Redis cannot be
// reached, every method returns an error matching
// userauth.ErrStorageUnavailable, which lets the TokenStore carry on alone
// (see userauth.WithFailClosed for the other choice).
//
// It is a module of its own, so that users who do not need Redis never
// build its client.
package redisstore

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/bsm/redislock"
	"github.com/redis/go-redis/v9"

	"github.com/tarilabs/userauth"
)

// Defaults of a Store made without options.
const (
	// DefaultKeyPrefix starts every key the Store writes.
	DefaultKeyPrefix = "userauth:"
	// DefaultLockTTL is how long the refresh lock lives if its holder dies;
	// it must be longer than the token store's refresh timeout
	// (userauth.DefaultRefreshTimeout, 30s).
	DefaultLockTTL = time.Minute
	// DefaultLockWait bounds the wait for the lock.
	DefaultLockWait = 30 * time.Second
	// opTimeout bounds a release of the lock, which runs without the
	// caller's context.
	opTimeout = 5 * time.Second
)

// ErrLockBusy is returned by Lock when another holder kept the lock for
// the whole wait while Redis was reachable.
var ErrLockBusy = errors.New("redisstore: refresh lock busy")

// ErrCorrupt is matched when the stored value cannot be read as a token:
// not JSON, encrypted with another key, or plain text where encryption is
// configured.
var ErrCorrupt = errors.New("redisstore: stored token unreadable")

// UnavailableError reports that Redis could not be reached. It matches
// userauth.ErrStorageUnavailable and wraps the cause.
type UnavailableError struct {
	// Op is the operation: "load", "save", "clear" or "lock".
	Op string
	// Err is the cause, as go-redis reported it.
	Err error
}

// Error says which operation failed and why.
func (e *UnavailableError) Error() string {
	return "redisstore: " + e.Op + ": redis unavailable: " + e.Err.Error()
}

// Unwrap returns userauth.ErrStorageUnavailable and the cause.
func (e *UnavailableError) Unwrap() []error {
	return []error{userauth.ErrStorageUnavailable, e.Err}
}

// Store is a userauth.TokenStorage and userauth.Locker over one Redis key.
// Safe for concurrent use.
type Store struct {
	rdb      redis.UniversalClient
	locks    *redislock.Client
	key      string
	lockKey  string
	ttl      time.Duration
	lockTTL  time.Duration
	lockWait time.Duration
	aead     cipher.AEAD // nil: tokens stored as plain JSON
}

// Option configures a Store.
type Option func(*config) error

type config struct {
	prefix   string
	ttl      time.Duration
	lockTTL  time.Duration
	lockWait time.Duration
	encKey   []byte
}

// WithKeyPrefix sets the prefix of the keys (default DefaultKeyPrefix).
func WithKeyPrefix(p string) Option {
	return func(c *config) error {
		c.prefix = p
		return nil
	}
}

// WithTokenTTL makes Redis drop the tokens d after each save; 0, the
// default, keeps them until Clear. Set it to about the refresh token's
// lifetime to leave no stale sessions behind.
func WithTokenTTL(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("redisstore: WithTokenTTL: negative %v", d)
		}
		c.ttl = d
		return nil
	}
}

// WithLockTTL sets how long the refresh lock lives if its holder dies
// (default DefaultLockTTL). Keep it longer than the token store's refresh
// timeout, or a slow refresh could outlive its lock.
func WithLockTTL(d time.Duration) Option {
	return func(c *config) error {
		if d < time.Millisecond {
			return fmt.Errorf("redisstore: WithLockTTL: %v is below a millisecond", d)
		}
		c.lockTTL = d
		return nil
	}
}

// WithLockWait bounds how long Lock waits for another holder (default
// DefaultLockWait); the caller's context may end it sooner.
func WithLockWait(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("redisstore: WithLockWait: %v is not positive", d)
		}
		c.lockWait = d
		return nil
	}
}

// WithEncryptionKey encrypts the tokens at rest with AES-256-GCM under
// key, which must be 32 bytes; the Redis key is bound in as additional
// data. Tokens in a shared cache are secrets: anyone who can read the key
// can act as the user.
func WithEncryptionKey(key []byte) Option {
	return func(c *config) error {
		if len(key) != 32 {
			return fmt.Errorf("redisstore: WithEncryptionKey: key is %d bytes, want 32", len(key))
		}
		c.encKey = append([]byte(nil), key...)
		return nil
	}
}

// New returns a Store keeping one session under key (with the prefix) in
// Redis. Options are applied in order; an invalid one is an error.
func New(client redis.UniversalClient, key string, opts ...Option) (*Store, error) {
	if client == nil {
		return nil, errors.New("redisstore: nil Redis client")
	}
	if key == "" {
		return nil, errors.New("redisstore: empty key")
	}
	cfg := config{prefix: DefaultKeyPrefix, lockTTL: DefaultLockTTL, lockWait: DefaultLockWait}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	s := &Store{
		rdb:      client,
		locks:    redislock.New(client),
		key:      cfg.prefix + key,
		lockKey:  cfg.prefix + key + ":lock",
		ttl:      cfg.ttl,
		lockTTL:  cfg.lockTTL,
		lockWait: cfg.lockWait,
	}
	if cfg.encKey != nil {
		block, err := aes.NewCipher(cfg.encKey)
		if err != nil {
			return nil, fmt.Errorf("redisstore: %w", err)
		}
		if s.aead, err = cipher.NewGCM(block); err != nil {
			return nil, fmt.Errorf("redisstore: %w", err)
		}
	}
	return s, nil
}

// Key returns the Redis key holding the tokens.
func (s *Store) Key() string { return s.key }

// recordPrefix starts every value Save writes: "r2:<generation>:", then
// the record's JSON, sealed when encryption is configured. The generation
// is in clear so that the save script can compare it; the sealed record
// repeats it, and Load checks that both agree. A value without the prefix
// is a bare token written by an earlier version, read as generation 1.
const recordPrefix = "r2:"

// saveScript stores ARGV[2] at KEYS[1] unless the value there has the
// generation ARGV[1] or a higher one, with a TTL of ARGV[3] milliseconds
// when it is positive; it returns {stored (1 or 0), the generation that
// was there}. One script, so the comparison and the write are one step
// for every replica, with or without the lock.
var saveScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
local g = 0
if cur then
  g = tonumber(string.match(cur, '^r2:(%d+):') or '1')
end
if g >= tonumber(ARGV[1]) then
  return {0, g}
end
if tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[2])
end
return {1, g}
`)

// Load reads the session's record: (nil, nil) when there is none. A bare
// token that an earlier version stored is read as a record of generation
// 1; the next Save replaces it with a record.
func (s *Store) Load(ctx context.Context) (*userauth.Record, error) {
	raw, err := s.rdb.Get(ctx, s.key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, opError("load", err)
	}
	gen, body, versioned := splitRecord(raw)
	data, err := s.open(body)
	if err != nil {
		return nil, err
	}
	rec, err := userauth.DecodeRecord(data)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	case versioned && rec.Generation != gen:
		return nil, fmt.Errorf("%w: generation %d in clear, %d in the record", ErrCorrupt, gen, rec.Generation)
	}
	return rec, nil
}

// splitRecord splits a stored value into the generation in clear and the
// record, when it has the prefix.
func splitRecord(raw []byte) (gen uint64, body []byte, versioned bool) {
	rest, ok := bytes.CutPrefix(raw, []byte(recordPrefix))
	if !ok {
		return 0, raw, false
	}
	digits, body, ok := bytes.Cut(rest, []byte(":"))
	if !ok {
		return 0, raw, false
	}
	gen, err := strconv.ParseUint(string(digits), 10, 64)
	if err != nil {
		return 0, raw, false
	}
	return gen, body, true
}

// Save stores r in one value, unless Redis holds a record of r's
// generation or a higher one: then it stores nothing, and its error
// matches userauth.ErrConflict. The comparison and the write are one Lua
// script.
func (s *Store) Save(ctx context.Context, r *userauth.Record) error {
	if r == nil {
		return errors.New("redisstore: save: nil record")
	}
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("redisstore: save: %w", err)
	}
	value := append([]byte(recordPrefix+strconv.FormatUint(r.Generation, 10)+":"), s.seal(data)...)
	res, err := saveScript.Run(ctx, s.rdb, []string{s.key}, strconv.FormatUint(r.Generation, 10), value, s.ttl.Milliseconds()).Int64Slice()
	switch {
	case err != nil:
		return opError("save", err)
	case len(res) != 2:
		return fmt.Errorf("redisstore: save: unexpected script answer %v", res)
	case res[0] == 0:
		return fmt.Errorf("redisstore: save: generation %d over %d: %w", r.Generation, res[1], userauth.ErrConflict)
	}
	return nil
}

// Clear deletes the key, session and all: for cleaning up after tests and
// demos. A TokenStore never calls it; its logout writes a logged-out
// record, which no replica holding an older one can overwrite.
func (s *Store) Clear(ctx context.Context) error {
	if err := s.rdb.Del(ctx, s.key).Err(); err != nil {
		return opError("clear", err)
	}
	return nil
}

// Lock takes the refresh lock, waiting with backoff while another replica
// holds it, up to the lock wait or the end of ctx. The returned function
// releases it, if this Store still owns it.
func (s *Store) Lock(ctx context.Context) (func(), error) {
	wctx, cancel := context.WithTimeout(ctx, s.lockWait)
	defer cancel()
	lock, err := s.locks.Obtain(wctx, s.lockKey, s.lockTTL, &redislock.Options{
		RetryStrategy: redislock.ExponentialBackoff(2*time.Millisecond, 64*time.Millisecond),
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("redisstore: lock: %w", ctx.Err())
		}
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, redislock.ErrNotObtained) {
			// Waited in vain: busy, or unreachable? Ask.
			pctx, pcancel := context.WithTimeout(context.Background(), time.Second)
			perr := s.rdb.Ping(pctx).Err()
			pcancel()
			if perr == nil {
				return nil, fmt.Errorf("%w after %v", ErrLockBusy, s.lockWait)
			}
			err = perr
		}
		return nil, opError("lock", err)
	}
	return func() {
		rctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		// A failed release only leaves the lock to expire by its TTL.
		_ = lock.Release(rctx)
	}, nil
}

// opError wraps a go-redis error: anything but an error reply from the
// server means Redis could not be reached.
func opError(op string, err error) error {
	var reply redis.Error
	if errors.As(err, &reply) && !errors.Is(err, redis.ErrClosed) {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	return &UnavailableError{Op: op, Err: err}
}

// sealedPrefix marks an encrypted value; plain values are JSON objects.
const sealedPrefix = "userauth-aesgcm-v1:"

func (s *Store) seal(data []byte) []byte {
	if s.aead == nil {
		return data
	}
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	out := append([]byte(sealedPrefix), nonce...)
	return s.aead.Seal(out, nonce, data, []byte(s.key))
}

func (s *Store) open(raw []byte) ([]byte, error) {
	sealed, isSealed := bytes.CutPrefix(raw, []byte(sealedPrefix))
	switch {
	case s.aead == nil && isSealed:
		return nil, fmt.Errorf("%w: encrypted, and no key configured", ErrCorrupt)
	case s.aead == nil:
		return raw, nil
	case !isSealed:
		return nil, fmt.Errorf("%w: stored in clear, but encryption is configured", ErrCorrupt)
	}
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, fmt.Errorf("%w: truncated", ErrCorrupt)
	}
	data, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(s.key))
	if err != nil {
		return nil, fmt.Errorf("%w: cannot decrypt (another key?)", ErrCorrupt)
	}
	return data, nil
}
