package userauth_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tarilabs/userauth"
)

// savedOrder records, in order, the refresh tokens storage took.
type savedOrder struct {
	*refusingStorage
	mu    sync.Mutex
	order map[string]int
}

func (s *savedOrder) Save(ctx context.Context, r *userauth.Record) error {
	err := s.refusingStorage.Save(ctx, r)
	if err == nil && r.Token != nil && r.Phase == userauth.PhaseActive {
		s.mu.Lock()
		if _, ok := s.order[r.Token.RefreshToken]; !ok {
			s.order[r.Token.RefreshToken] = len(s.order)
		}
		s.mu.Unlock()
	}
	return err
}

func (s *savedOrder) index(refresh string) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.order[refresh]
	return i, ok
}

// TestOnTokenChangeInOrderAndOnlyForSavedPairs: renewals, logins and
// logouts race on one store, some of whose saves storage refuses.
// OnTokenChange runs one call at a time, outside the store's lock (it may
// call the store), is told only pairs storage took, never an older pair
// after a newer one.
func TestOnTokenChangeInOrderAndOnlyForSavedPairs(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := &savedOrder{refusingStorage: newRefusingStorage(), order: map[string]int{}}
	var mu sync.Mutex
	var running, overlapped, last int
	var problems []string
	var s *userauth.TokenStore
	s = e.store(t, storage, userauth.WithOnTokenChange(func(tok userauth.Token) {
		mu.Lock()
		running++
		if running > 1 {
			overlapped++
		}
		mu.Unlock()
		_, _ = s.AccessToken(ctx) // f may call the store
		if tok.RefreshToken != "" {
			i, ok := storage.index(tok.RefreshToken)
			mu.Lock()
			switch {
			case !ok:
				problems = append(problems, "told a pair storage never took")
			case i < last:
				problems = append(problems, "told an older pair after a newer one")
			default:
				last = i
			}
			mu.Unlock()
		}
		time.Sleep(time.Millisecond) // long enough for an overlap to show
		mu.Lock()
		running--
		mu.Unlock()
	}))
	_, err := s.Login(ctx, atkAnn)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 10 {
				switch (i + j) % 4 {
				case 0:
					_, _ = s.Refresh(ctx)
				case 1:
					_ = s.Logout(ctx)
				case 2:
					_, _ = s.Login(ctx, atkAnn)
				default:
					storage.refuseSaves(1, 1) // the next renewal's pair is refused once
					_, _ = s.Refresh(ctx)
				}
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	assert.Zero(t, overlapped, "OnTokenChange ran twice at once")
	assert.Empty(t, problems)
	assert.Zero(t, e.srv.ReuseDetected())
}

// TestOnTokenChangeMayChangeTheStore: f logs out, or renews, from within:
// no deadlock, and the change it makes is told too.
func TestOnTokenChangeMayChangeTheStore(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var mu sync.Mutex
	var told []userauth.Token
	var s *userauth.TokenStore
	s = e.store(t, nil, userauth.WithOnTokenChange(func(tok userauth.Token) {
		mu.Lock()
		told = append(told, tok)
		n := len(told)
		mu.Unlock()
		switch n {
		case 1:
			_, err := s.Refresh(ctx)
			assert.NoError(t, err)
		case 2:
			assert.NoError(t, s.LogoutLocal(ctx))
		}
	}))
	_, err := s.Login(ctx, atkAnn)
	require.NoError(t, err)
	require.NoError(t, ctx.Err(), "a call from OnTokenChange deadlocked the store")
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, told, 3, "the login, the renewal, the logout")
	assert.NotEqual(t, told[0].RefreshToken, told[1].RefreshToken)
	assert.Empty(t, told[2].AccessToken)
}
