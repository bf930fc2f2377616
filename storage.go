package userauth

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// TokenStorage keeps the Record of one session. It is the Kotlin
// client's TokenStorage, with a context, errors, and a generation that
// tells who wrote last. TokenStore is its only caller.
//
// Save must never store a record over one of the same or a higher
// generation. A storage shared between processes either implements Locker
// (TokenStore holds the lock around every load and save, so the check may
// be a plain read before the write), or makes the check and the write one
// atomic step (a compare-and-set).
//
// A TokenStore returns a storage's errors as they are, so each error should
// say, once, which operation failed and on what, prefixed with the
// implementation's package: "userauth: saving tokens to <path>: ...".
type TokenStorage interface {
	// Load returns the stored record, or (nil, nil) when there is none.
	// DecodeRecord reads what json.Marshal of a Record wrote, and the bare
	// Token that versions before records stored.
	Load(ctx context.Context) (*Record, error)
	// Save stores r, all fields together, atomically, unless storage holds
	// a record of generation r.Generation or higher: then it stores
	// nothing and returns an error matching ErrConflict. An empty storage
	// takes any record.
	Save(ctx context.Context, r *Record) error
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

// MemoryStorage keeps the record in memory. It is the storage of a
// TokenStore made with a nil storage. It implements Locker with a lock of
// its own, so TokenStores sharing one MemoryStorage renew once. Safe for
// concurrent use; the zero value is an empty storage.
type MemoryStorage struct {
	mu   sync.Mutex
	rec  *Record
	slot chan struct{} // the Locker's one-slot semaphore, made on first use
}

// NewMemoryStorage returns an empty MemoryStorage.
func NewMemoryStorage() *MemoryStorage { return &MemoryStorage{} }

// Load returns a copy of the stored record, or nil.
func (m *MemoryStorage) Load(context.Context) (*Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rec == nil {
		return nil, nil
	}
	return m.rec.clone(), nil
}

// Save keeps a copy of r, unless it holds a record of r's generation or a
// higher one (ErrConflict).
func (m *MemoryStorage) Save(_ context.Context, r *Record) error {
	if r == nil {
		return errors.New("userauth: saving tokens: nil record")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rec != nil && m.rec.Generation >= r.Generation {
		return fmt.Errorf("userauth: saving tokens: generation %d over %d: %w", r.Generation, m.rec.Generation, ErrConflict)
	}
	m.rec = r.clone()
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
