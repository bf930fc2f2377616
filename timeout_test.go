package userauth

import (
	"context"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// waitDone waits for ctx to end, failing the test if it never does.
func waitDone(t *testing.T, ctx context.Context) bool {
	t.Helper()
	select {
	case <-ctx.Done():
		return true
	case <-time.After(10 * time.Second):
		t.Error("the attempt never ended")
		return false
	}
}

// start is watchdog.start as the tests use it: a new context, and the
// function that ends it.
func start(w *watchdog, ctx context.Context, timeout time.Duration) (*attemptCtx, func()) {
	c := new(attemptCtx)
	w.start(c, ctx, timeout)
	return c, func() { w.end(c) }
}

func listed(w *watchdog) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for c := w.head; c != nil; c = c.next {
		n++
		if c.next != nil && c.next.deadline.Before(c.deadline) {
			panic("watchdog list out of deadline order")
		}
	}
	return n
}

// TestWatchdogStorm starts attempts from many goroutines with timeouts of
// different lengths (so that the list is not filled in deadline order),
// ends half of them at once, and checks that every other one ends at its
// deadline, not before, as a context.WithTimeout would.
func TestWatchdogStorm(t *testing.T) {
	var w watchdog
	var wg sync.WaitGroup
	for i := range 300 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			early := i%2 == 0
			timeout := time.Duration(1+rand.IntN(40)) * time.Millisecond
			if early {
				// Long enough that ending it at once is surely early, even
				// on a loaded machine under the race detector.
				timeout += 500 * time.Millisecond
			}
			ctx, end := start(&w, context.Background(), timeout)
			child, cancelChild := context.WithCancel(ctx)
			defer cancelChild()
			deadline, ok := ctx.Deadline()
			assert.True(t, ok)
			if early {
				end()
				assert.Equal(t, context.Canceled, ctx.Err(), "an attempt ended early is canceled")
				time.Sleep(time.Until(deadline) + 10*time.Millisecond)
				assert.Equal(t, context.Canceled, ctx.Err(), "and never times out afterwards")
				return
			}
			defer end()
			if !waitDone(t, ctx) {
				return
			}
			assert.False(t, time.Now().Before(deadline), "ended %v before its deadline", time.Until(deadline))
			assert.Equal(t, context.DeadlineExceeded, ctx.Err())
			assert.Equal(t, context.DeadlineExceeded, context.Cause(ctx))
			<-child.Done()
			assert.ErrorIs(t, context.Cause(child), context.DeadlineExceeded, "a derived context learns why")
		}()
	}
	wg.Wait()
	assert.Zero(t, listed(&w), "every attempt left the list")
}

// TestWatchdogRearms checks that the single timer, armed for an attempt
// that ended early, still ends the next one on time.
func TestWatchdogRearms(t *testing.T) {
	var w watchdog
	_, end := start(&w, context.Background(), 5*time.Millisecond)
	end()
	time.Sleep(20 * time.Millisecond) // the timer fires for nothing
	ctx, end := start(&w, context.Background(), 10*time.Millisecond)
	defer end()
	require.True(t, waitDone(t, ctx))
	assert.Equal(t, context.DeadlineExceeded, ctx.Err())

	// An attempt with a later deadline listed before an earlier one: the
	// timer moves to the earlier.
	late, endLate := start(&w, context.Background(), time.Hour)
	defer endLate()
	soon, endSoon := start(&w, context.Background(), 10*time.Millisecond)
	defer endSoon()
	require.True(t, waitDone(t, soon))
	assert.NoError(t, late.Err())
	assert.Equal(t, 1, listed(&w))
}

// TestWatchdogCallerCancel checks that the caller's cancellation reaches the
// attempt at once and is reported as such.
func TestWatchdogCallerCancel(t *testing.T) {
	var w watchdog
	type key struct{}
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	ctx, end := start(&w, parent, time.Hour)
	defer end()
	assert.Equal(t, "v", ctx.Value(key{}))
	stopped := make(chan struct{})
	context.AfterFunc(ctx, func() { close(stopped) })
	cancel()
	require.True(t, waitDone(t, ctx))
	assert.Equal(t, context.Canceled, ctx.Err())
	<-stopped
	end()
	assert.Zero(t, listed(&w))
}

// TestWatchdogNoGoroutinePerAttempt checks that attempts in flight cost no
// goroutine, whatever their number.
func TestWatchdogNoGoroutinePerAttempt(t *testing.T) {
	var w watchdog
	before := runtime.NumGoroutine()
	ends := make([]func(), 0, 1000)
	for range 1000 {
		ctx, end := start(&w, context.Background(), time.Hour)
		_, cancel := context.WithCancel(ctx) // as net/http derives one
		defer cancel()
		ends = append(ends, end)
	}
	assert.Equal(t, 1000, listed(&w))
	assert.LessOrEqual(t, runtime.NumGoroutine(), before+2)
	for _, end := range ends {
		end()
	}
	assert.Zero(t, listed(&w))
}
