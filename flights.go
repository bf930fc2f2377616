package userauth

import (
	"context"
	"fmt"
)

// How callers reach the engine: the fresh path, which takes no lock; one
// transaction shared by every caller asking for the same thing (a
// singleflight); and transactions detached from their callers' contexts,
// so that a caller giving up never cuts a refresh token's spending short.

// usable returns a snapshot whose token can be used now, renewing first
// when callers must wait. A renewal that fails for a passing reason still
// serves a token that has not expired.
func (s *TokenStore) usable(ctx context.Context) (*snapshot, error) {
	if err := s.made(); err != nil {
		return nil, err
	}
	sn := s.snap.Load()
	switch sn.state(s.cfg.now()) {
	case stateFresh:
		return sn, nil
	case stateDue:
		if !s.cfg.blocking {
			s.renewBehind(ctx, sn)
			return sn, nil
		}
	}
	if ctx == nil {
		return nil, errNilContext
	}
	got, err := s.shared(ctx, goal{kind: goalUsable, used: sn.paired()})
	if err != nil {
		if cur := s.snap.Load(); ctx.Err() == nil && !loginOrTwoFactorRequired(err) && cur.state(s.cfg.now()) == stateDue {
			return cur, nil
		}
		return nil, err
	}
	return got, nil
}

// renewBehind starts one renewal of sn's due token, unless one runs or
// the last failed moments ago; callers go on with the token meanwhile.
func (s *TokenStore) renewBehind(ctx context.Context, sn *snapshot) {
	if ctx == nil || s.cfg.now().Before(sn.failUntil) || !s.renewing.CompareAndSwap(false, true) {
		return
	}
	g := goal{kind: goalUsable, used: sn.paired()}
	ch := s.flights.DoChan(g.key(), func() (any, error) {
		return s.detachedRun(ctx, false, s.run(g))
	})
	// The flag falls when the renewal ends, whoever started it (a caller
	// that waits may have, and this call joined it).
	go func() {
		<-ch
		s.renewing.Store(false)
	}()
}

// shared runs g's transaction once for every caller that asks for the
// same thing meanwhile, and waits for it as long as ctx allows. A renewal
// that failed moments ago is answered with its error, without a call.
func (s *TokenStore) shared(ctx context.Context, g goal) (*snapshot, error) {
	if err := s.snap.Load().failedFor(g, s.cfg.now()); err != nil {
		return nil, err
	}
	ch := s.flights.DoChan(g.key(), func() (any, error) {
		// No caller's giving up stops it: others may wait for it.
		return s.detachedRun(ctx, false, s.run(g))
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*snapshot), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// key names the transactions callers share: the same goal for the same
// pair and request.
func (g goal) key() string {
	return fmt.Sprintf("%d/%d/%s", g.kind, g.used, g.cause)
}

// op is a transaction's work under the store's lock.
type op func(ctx, ask context.Context) (*snapshot, error)

// run is the op of g's transaction. A renewal that another transaction
// of this store made unnecessary meanwhile (its pair is newer than the
// one the caller saw, and fresh) does not start.
func (s *TokenStore) run(g goal) op {
	return func(ctx, ask context.Context) (*snapshot, error) {
		sn := s.snap.Load()
		if err := sn.failedFor(g, s.cfg.now()); err != nil {
			return nil, err // failed moments ago, while this caller waited
		}
		fresh := sn.state(s.cfg.now()) == stateFresh
		switch g.kind {
		case goalUsable:
			if fresh {
				return sn, nil
			}
		case goalForced, goalRefused:
			if fresh && sn.paired() != g.used {
				return sn, nil
			}
		case goalStepUp:
			if fresh && sn.paired() != g.used && sn.rec.Stepped {
				return sn, nil
			}
		}
		return s.transact(ctx, ask, g)
	}
}

// detached runs f for a caller that waits as long as ctx allows; f goes
// on without it (see detachedRun).
func (s *TokenStore) detached(ctx context.Context, f op) (*snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, err // given up before anything started
	}
	done := make(chan struct{})
	var sn *snapshot
	var err error
	go func() {
		defer close(done)
		sn, err = s.detachedRun(ctx, true, f)
	}()
	select {
	case <-done:
		return sn, err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// detachedRun runs f under the store's lock, on ctx's values without its
// cancellation, under the refresh timeout. For a caller that waits (its
// own), the lock is waited for as long as ctx allows (an f it gave up on
// meanwhile does not start), and ask, the 2FA handler's context, ends when
// ctx does: nothing is spent while the handler runs. A transaction callers
// share waits for the lock the refresh timeout at most, and no caller's
// giving up ends it.
func (s *TokenStore) detachedRun(ctx context.Context, own bool, f op) (*snapshot, error) {
	detached := context.WithoutCancel(ctx)
	wait, caller := ctx, ctx
	if !own {
		var cancel context.CancelFunc
		wait, cancel = context.WithTimeout(detached, s.cfg.timeout)
		defer cancel()
		caller = detached
	}
	if err := s.acquire(wait); err != nil {
		return nil, err
	}
	defer s.release()
	opCtx, cancel := context.WithTimeout(detached, s.cfg.timeout)
	defer cancel()
	ask, cancelAsk := context.WithCancel(opCtx)
	defer cancelAsk()
	defer context.AfterFunc(caller, cancelAsk)()
	return f(opCtx, ask)
}

// acquire takes the store's lock. Waiting callers are served in the order
// they came (a channel's senders are), so a Logout is not overtaken by
// operations that started after it. After Shutdown it fails.
func (s *TokenStore) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err // select would pick a free lock over it half the time
	}
	select {
	case s.lock <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	if s.closed.Load() {
		s.release()
		return ErrStoreShutDown
	}
	return nil
}

// release frees the store's lock, then delivers OnTokenChange's calls
// (see notifier).
func (s *TokenStore) release() {
	<-s.lock
	s.note.deliver(s.cfg.onChange)
}
