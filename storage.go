package userauth

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// TokenStorage persists the tokens of one session. It mirrors the Kotlin
// client's TokenStorage, with a context and errors. TokenStore is its only
// caller and serialises its writes within a process; implementations shared
// between processes should also implement Locker.
//
// A TokenStore returns a storage's errors as they are, so each error should
// say, once, which operation failed and on what, prefixed with the
// implementation's package: "userauth: saving tokens to <path>: ...".
type TokenStorage interface {
	// Load returns the saved token, or (nil, nil) when there is none.
	Load(ctx context.Context) (*Token, error)
	// Save replaces the saved token, all fields together, atomically.
	Save(ctx context.Context, t *Token) error
	// Clear removes the saved token. Clearing an empty storage is not an
	// error.
	Clear(ctx context.Context) error
}

// ErrStorageUnavailable is what a TokenStorage or Locker wraps (for
// errors.Is) when it cannot be reached at all, as a shared cache during an
// outage, as opposed to refusing an operation. It lets a TokenStore carry
// on with the tokens it holds; see WithFailClosed.
var ErrStorageUnavailable = errors.New("userauth: token storage unavailable")

// Locker is implemented by storages shared between processes. TokenStore
// holds the lock while it refreshes, and re-reads the storage under it, so
// that only one process spends a refresh token and the others adopt its
// result.
type Locker interface {
	// Lock blocks until the lock is held or ctx ends, and returns the
	// function that releases it. Its errors, like a TokenStorage's, reach
	// callers as they are.
	Lock(ctx context.Context) (unlock func(), err error)
}

// MemoryStorage keeps the token in memory. It is the storage of a
// TokenStore made with a nil storage. It implements Locker with a lock of
// its own, so TokenStores sharing one MemoryStorage renew once. Safe for
// concurrent use; the zero value is an empty storage.
type MemoryStorage struct {
	mu   sync.Mutex
	tok  *Token
	slot chan struct{} // the Locker's one-slot semaphore, made on first use
}

// NewMemoryStorage returns an empty MemoryStorage.
func NewMemoryStorage() *MemoryStorage { return &MemoryStorage{} }

// Load returns a copy of the saved token, or nil.
func (m *MemoryStorage) Load(context.Context) (*Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tok == nil {
		return nil, nil
	}
	t := *m.tok
	return &t, nil
}

// Save keeps a copy of t.
func (m *MemoryStorage) Save(_ context.Context, t *Token) error {
	if t == nil {
		return errors.New("userauth: saving tokens: nil token")
	}
	c := *t
	m.mu.Lock()
	m.tok = &c
	m.mu.Unlock()
	return nil
}

// Clear forgets the token.
func (m *MemoryStorage) Clear(context.Context) error {
	m.mu.Lock()
	m.tok = nil
	m.mu.Unlock()
	return nil
}

// Lock takes the storage's lock, waiting until it is free or ctx ends (then
// the error matches ctx.Err()). The lock is not reentrant. The returned
// function releases it; calling that function again does nothing.
func (m *MemoryStorage) Lock(ctx context.Context) (func(), error) {
	m.mu.Lock()
	if m.slot == nil {
		m.slot = make(chan struct{}, 1)
	}
	slot := m.slot
	m.mu.Unlock()
	// An ended context wins even when the lock is free, so that a
	// cancelled caller never goes on to work under it.
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("userauth: locking the memory storage: %w", err)
	}
	select {
	case slot <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("userauth: locking the memory storage: %w", ctx.Err())
	}
	var once sync.Once
	return func() { once.Do(func() { <-slot }) }, nil
}
