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

// TestOnTokenChangeInOrderAndOnlyForSavedPairs: renewals, logins and
// logouts race on one store. OnTokenChange runs one call at a time, each
// told the pair storage holds at that moment (or the zero Token after a
// logout), and is never told a pair storage refused.
func TestOnTokenChangeInOrderAndOnlyForSavedPairs(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	storage := newRefusingStorage()
	var mu sync.Mutex
	var running, overlapped int
	var mismatches []string
	s := e.store(t, storage, userauth.WithOnTokenChange(func(tok userauth.Token) {
		mu.Lock()
		running++
		if running > 1 {
			overlapped++
		}
		mu.Unlock()
		if saved := storage.stored(t); (saved == nil) != (tok.AccessToken == "") || saved != nil && saved.RefreshToken != tok.RefreshToken {
			mu.Lock()
			mismatches = append(mismatches, "told a pair storage does not hold")
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
					storage.refuseSaves(1, 1) // the next renewal's pair is refused
					_, _ = s.Refresh(ctx)
				}
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	assert.Zero(t, overlapped, "OnTokenChange ran twice at once")
	assert.Empty(t, mismatches)
	assert.Zero(t, e.srv.ReuseDetected())
}
