package userauth

import (
	"context"
	"sync"
	"time"
)

// The per-attempt timeout.
//
// context.WithTimeout would give each attempt a runtime timer of its own,
// set up and stopped on every call: about 0.2 µs and two allocations of a
// Login's 4 µs of client work (bench's BenchmarkLoginOverhead). So a Client
// has one watchdog instead: a list of the attempts in flight, in deadline
// order, and a single timer that is armed for the earliest of them and
// left alone while calls come and go.

// attemptCtx is the context of one attempt: the call's context, made
// cancelable, which the watchdog cancels at deadline. It reports the
// deadline, and DeadlineExceeded (not Canceled) once the watchdog fired,
// like a context.WithTimeout would. Contexts derived from it see the
// cancellation with DeadlineExceeded as its cause (context.Cause).
type attemptCtx struct {
	context.Context // context.WithCancelCause of the call's context
	cancel          context.CancelCauseFunc
	deadline        time.Time
	prev, next      *attemptCtx // in the watchdog's list, under its lock
	listed          bool        // in the watchdog's list, under its lock
}

// Deadline returns the attempt's deadline, which is before the caller's
// (an attempt is only given a context when the caller's deadline is later).
func (c *attemptCtx) Deadline() (time.Time, bool) { return c.deadline, true }

// Err returns DeadlineExceeded once the watchdog has fired for the attempt.
func (c *attemptCtx) Err() error {
	err := c.Context.Err()
	if err != nil && context.Cause(c.Context) == context.DeadlineExceeded {
		return context.DeadlineExceeded
	}
	return err
}

// watchdog cancels the attempts that outlive their deadline.
type watchdog struct {
	mu         sync.Mutex
	head, tail *attemptCtx
	timer      *time.Timer // nil until the first attempt
	armed      bool        // the timer will fire at when
	when       time.Time
}

// start makes c the context of an attempt on ctx that must end within
// timeout. end must be called once the attempt is over.
func (w *watchdog) start(c *attemptCtx, ctx context.Context, timeout time.Duration) {
	c.Context, c.cancel = context.WithCancelCause(ctx)
	w.add(c, timeout)
}

// end takes c off the list and cancels it, if the watchdog has not.
func (w *watchdog) end(c *attemptCtx) {
	w.remove(c)
	c.cancel(context.Canceled)
}

// add lists c with its deadline, and arms the timer if it is the earliest.
// The deadline is taken under the lock, so that with one timeout per
// Client the list is always in deadline order.
func (w *watchdog) add(c *attemptCtx, timeout time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c.deadline = time.Now().Add(timeout)
	// Walk back from the tail to keep the list in order; with one timeout
	// per Client the new attempt is always last.
	at := w.tail
	for at != nil && at.deadline.After(c.deadline) {
		at = at.prev
	}
	w.insertAfter(at, c)
	if !w.armed || c.deadline.Before(w.when) {
		w.arm(c.deadline)
	}
}

func (w *watchdog) insertAfter(at, c *attemptCtx) {
	c.prev = at
	if at == nil {
		c.next = w.head
		w.head = c
	} else {
		c.next = at.next
		at.next = c
	}
	if c.next == nil {
		w.tail = c
	} else {
		c.next.prev = c
	}
	c.listed = true
}

func (w *watchdog) unlink(c *attemptCtx) {
	if !c.listed {
		return
	}
	if c.prev == nil {
		w.head = c.next
	} else {
		c.prev.next = c.next
	}
	if c.next == nil {
		w.tail = c.prev
	} else {
		c.next.prev = c.prev
	}
	c.prev, c.next, c.listed = nil, nil, false
}

// remove takes c off the list. The timer stays armed: when it fires for an
// attempt that is gone, it re-arms for the earliest one left, if any.
func (w *watchdog) remove(c *attemptCtx) {
	w.mu.Lock()
	w.unlink(c)
	w.mu.Unlock()
}

// arm makes the timer fire at when. Called with the lock held.
func (w *watchdog) arm(when time.Time) {
	w.armed, w.when = true, when
	d := time.Until(when)
	if w.timer == nil {
		w.timer = time.AfterFunc(d, w.fire)
		return
	}
	w.timer.Reset(d)
}

// fire cancels every attempt past its deadline, then re-arms the timer for
// the earliest one left.
func (w *watchdog) fire() {
	w.mu.Lock()
	now := time.Now()
	var expired *attemptCtx // a chain through next, off the list
	for w.head != nil && !w.head.deadline.After(now) {
		c := w.head
		w.unlink(c)
		c.next, expired = expired, c
	}
	w.armed = false
	if w.head != nil {
		w.arm(w.head.deadline)
	}
	w.mu.Unlock()
	for expired != nil {
		c := expired
		expired, c.next = c.next, nil
		c.cancel(context.DeadlineExceeded)
	}
}
