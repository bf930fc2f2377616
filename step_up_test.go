package userauth_test

// 424 step-ups: one shared 2FA step, one repeat, never a loop.

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tarilabs/userauth"
	"github.com/tarilabs/userauth/userauthtest"
)

// TestHostileStore424DuringARenewalStepsUp: a 2FA user's token is due and
// its renewal runs behind the callers (held back by the server); the grace
// period is over. A request meets 424: the Transport's doc promises "one
// 2FA step is shared and the request repeated" with a handler. Joining the
// ordinary renewal is not enough: the refreshed token is not stepped up,
// and the request must still end 200.
func TestHostileStore424DuringARenewalStepsUp(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t, userauthtest.WithTwoFactorGrace(time.Minute))
	ctx := context.Background()
	var calls atomic.Int32
	s := e.store(t, nil, userauth.WithTwoFactorHandler(e.handler(&calls)))
	_, err := s.Login(ctx, atkTom)
	require.NoError(t, err)
	e.srv.Advance(15*time.Minute - 10*time.Second) // due; grace over
	e.srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Hold: 500 * time.Millisecond})
	_, err = s.AccessToken(ctx) // the renewal starts behind
	require.NoError(t, err)
	resp, err := s.HTTPClient().Get(e.srv.URL + userauthtest.PathSensitive)
	require.NoError(t, err)
	resp.Body.Close()
	t.Logf("status %d; handler calls after login %d", resp.StatusCode, calls.Load()-1)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "a 424 with a handler: one 2FA step and one repeat")
	e.quiesce()
	assert.Equal(t, 0, e.srv.ReuseDetected())
}

// TestHostileStore424StormAndRefusals: 100 requests meet 424 at once, for three
// grace periods in a row: one 2FA step each, handler once per step. Then a
// step refused 422 (wrong code) and one refused 401: the handler is not
// asked again in a loop.
func TestHostileStore424StormAndRefusals(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t, userauthtest.WithTwoFactorGrace(time.Minute))
	ctx := context.Background()
	var calls atomic.Int32
	var wrong atomic.Bool
	s := e.store(t, nil, userauth.WithTwoFactorHandler(func(ctx context.Context, m userauth.TwoFactorMethod) (string, error) {
		calls.Add(1)
		if wrong.Load() {
			return "000000", nil
		}
		return e.srv.Code(e.secret)
	}))
	_, err := s.Login(ctx, atkTom)
	require.NoError(t, err)
	hc := s.HTTPClient()
	storm := func() map[int]int {
		var mu sync.Mutex
		statuses := map[int]int{}
		var wg sync.WaitGroup
		for range 100 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := hc.Get(e.srv.URL + userauthtest.PathSensitive)
				st := -1
				if err == nil {
					st = resp.StatusCode
					resp.Body.Close()
				}
				mu.Lock()
				statuses[st]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		return statuses
	}
	for round := 1; round <= 3; round++ {
		e.srv.Advance(2 * time.Minute)
		before := calls.Load()
		st := storm()
		assert.Equal(t, map[int]int{200: 100}, st, "round %d", round)
		assert.Equal(t, int32(1), calls.Load()-before, "round %d: handler once per step", round)
	}
	e.srv.Advance(2 * time.Minute)
	wrong.Store(true)
	before := calls.Load()
	st := storm()
	t.Logf("wrong code: %v, handler calls %d", st, calls.Load()-before)
	assert.Equal(t, int32(1), calls.Load()-before, "handler asked once for a storm")
	wrong.Store(false)
	e.srv.Fail(userauthtest.PathTwoFactor, 1, userauthtest.Fault{Status: 401, Body: `{"error":"Invalid refresh token"}`})
	e.srv.Advance(2 * time.Second)
	before = calls.Load()
	st = storm()
	t.Logf("401 on the step: %v, handler calls %d", st, calls.Load()-before)
	assert.Equal(t, int32(1), calls.Load()-before)
	_, err = s.AccessToken(ctx)
	assert.ErrorIs(t, err, userauth.ErrLoginRequired)
	assert.Equal(t, 0, e.srv.ReuseDetected())
}
