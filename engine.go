package userauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// The engine: one transaction primitive, and the readers' snapshot.
//
// Every change of the session (renewal, login, 2FA step, logout) is one
// transaction: the store's lock, then the storage's Locker, load and merge
// (see merge), then the steps of the state machine (transition.go), each
// record written before its action when its generation grew, then the
// snapshot published and OnTokenChange told, then unlock. A transaction
// runs on a context detached from its callers' (see detached), bounded by
// the refresh timeout: a caller that gives up never cuts a refresh token's
// spending short.
//
// Readers take no lock: the snapshot is immutable, behind an atomic
// pointer.

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
	s.flights.DoChan(g.key(), func() (any, error) {
		defer s.renewing.Store(false)
		return s.detachedRun(ctx, false, s.run(g))
	})
}

// shared runs g's transaction once for every caller that asks for the
// same thing meanwhile, and waits for it as long as ctx allows. A renewal
// that failed moments ago is answered with its error, without a call.
func (s *TokenStore) shared(ctx context.Context, g goal) (*snapshot, error) {
	if sn := s.snap.Load(); s.cfg.now().Before(sn.failUntil) && g.kind <= goalStepUp {
		return nil, sn.failErr
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
		if s.cfg.now().Before(sn.failUntil) && g.kind <= goalStepUp {
			return nil, sn.failErr // failed moments ago, while this caller waited
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

func (s *TokenStore) release() { <-s.lock }

// maxSteps bounds a transaction's steps; no path of the state machine
// takes more than six.
const maxSteps = 12

// transact runs g's transaction under the store's lock (see the top of
// this file), and publishes what it ends with.
func (s *TokenStore) transact(ctx, ask context.Context, g goal) (*snapshot, error) {
	held := s.snap.Load()
	t := &txn{s: s, ctx: ctx, ask: ask, read: ctx, held: held, offset: held.offset, told: held.told,
		login: g.kind == goalAdopt, renewal: g.kind <= goalStepUp}
	if g.kind == goalLogout || g.kind == goalLogoutLocal {
		t.read = ask // a logout that cannot read storage in its caller's time changes nothing
	}
	unlock, err := s.lockStorage(t.read)
	if err != nil {
		return nil, s.remember(held, t.renewal, err)
	}
	defer unlock()
	if g.resp != nil {
		g.pair, g.resp = t.fromAnswer(g.resp, g.sent), nil
	}
	rec, err := t.load(held.rec, g.kind == goalAdopt)
	if err != nil {
		return nil, s.remember(held, t.renewal, err)
	}
	if held.rec == nil && rec.hasPair() {
		t.told = rec.Paired // what storage held at the store's first look is no change
	}
	rec, err = t.steps(rec, g)
	sn := s.publish(t, held, rec)
	if err != nil {
		return nil, s.remember(sn, t.renewal, err)
	}
	return sn, nil
}

// steps runs the state machine from rec for g: each record whose
// generation grew is written before its action. It returns the record the
// store holds at the end, and the transaction's error.
func (t *txn) steps(rec Record, g goal) (Record, error) {
	var a result
	var kept error // a write that failed, while the record is kept here
	conflicts := 0
	for range maxSteps {
		n, g2, act := step(rec, g, a, t.rules(rec))
		g, a = g2, result{}
		if n.Generation > t.stored {
			switch err := t.write(&n); {
			case err == nil:
			case errors.Is(err, ErrConflict) && conflicts < 3:
				conflicts++ // another store wrote meanwhile: start again from its record
				stored, lerr := t.load(nil, false)
				if lerr != nil {
					return rec, lerr
				}
				rec = stored
				continue
			case t.s.degradable(err):
				t.s.warn(t.ctx, "userauth: shared storage unavailable; the session is kept in this process until it returns", err)
			case t.spent && n.Phase != PhaseLoggedOut:
				// What this transaction's spending of a refresh token left:
				// the only good pair. Kept here, and written back by the
				// next transaction.
				kept = err
			default:
				// Nothing spent: a refused write changes nothing here either
				// (a login stays unsaved, a logout undone, nothing presented).
				if t.revoked != nil {
					err = errors.Join(err, fmt.Errorf("userauth: the server did not revoke the tokens either: %w", t.revoked))
				}
				return rec, err
			}
		}
		rec = n
		if act.kind != actDone {
			a = t.perform(&rec, act)
			continue
		}
		if g.loggedIn && errors.Is(act.err, ErrInvalidCode) {
			t.s.relogin.codeRefused()
		}
		if act.err == nil {
			act.err = kept
		}
		return rec, act.err
	}
	return rec, errors.New("userauth: internal error: the session's state machine did not settle")
}

// txn is one transaction's working state.
type txn struct {
	s        *TokenStore
	ctx, ask context.Context
	offset   *time.Duration
	held     *snapshot       // what the store held when the transaction started
	login    bool            // a login's pair was written (see merge)
	renewal  bool            // the transaction renews (goalUsable to goalStepUp)
	restored bool            // the record this store held unsaved was written back
	spent    bool            // a refresh token was presented
	read     context.Context // for loads: a logout's within its caller's time
	revoked  error           // the logout call's error, if it failed
	stored   uint64          // the generation storage holds, as far as this store knows
	wrote    bool            // a record of this transaction was saved
	told     uint64          // the pair OnTokenChange was last told of
}

// load reads storage and merges it with held (see merge); storage that
// lost held is given it back. When storage is unavailable and the store
// may degrade, held is the record.
func (t *txn) load(held *Record, adopting bool) (Record, error) {
	stored, err := t.s.storage.Load(t.read)
	switch {
	case err == nil:
	case t.s.degradable(err) && (held != nil || adopting):
		t.s.warn(t.ctx, "userauth: shared storage unavailable; using the session this process holds", err)
		if held == nil {
			return Record{}, nil // a login during an outage: kept here until storage returns
		}
		return *held, nil
	default:
		return Record{}, err
	}
	t.stored = stored.generation()
	h := t.held
	rec, back := merge(held, h.base, h.login && !h.saved(), stored)
	if t.restored = back; back {
		if err := t.write(&rec); err != nil && !t.s.degradable(err) && !errors.Is(err, ErrConflict) {
			return Record{}, err
		}
	}
	return rec, nil
}

// writeAttempts is how many times a transaction tries a write that
// storage refuses (a full disk for a moment, a cache's OOM reply).
const writeAttempts = 3

// write saves r, on a context of its own (a rotated pair must land even
// when the caller's time is up), trying a refused write again a little.
// A conflict or an unavailable storage is not tried again.
func (t *txn) write(r *Record) error {
	var err error
	for i := range writeAttempts {
		if i > 0 {
			time.Sleep(time.Duration(i) * 25 * time.Millisecond)
		}
		wctx, cancel := context.WithTimeout(context.WithoutCancel(t.ctx), t.s.cfg.timeout)
		err = t.s.storage.Save(wctx, r)
		timedOut := wctx.Err() != nil
		cancel()
		if err == nil {
			t.stored, t.wrote = r.Generation, true
			return nil
		}
		if errors.Is(err, ErrConflict) || errors.Is(err, ErrStorageUnavailable) || timedOut {
			return err // not a refusal: trying again changes nothing
		}
	}
	return err
}

// rules is what step knows of rec at this moment.
func (t *txn) rules(rec Record) rules {
	now := t.s.cfg.now()
	x := rules{now: now, api: t.s.client.baseURL.String(), timeout: t.s.cfg.timeout,
		handler: t.s.cfg.handler != nil, credentials: t.s.relogin != nil, restored: t.restored}
	if rec.hasPair() {
		sn := t.s.schedule(t.held, &rec, t.offset, now)
		sn.base = rec.Generation // fresh by time: whether storage has it is the engine's
		x.fresh = sn.state(now) == stateFresh
		x.valid = x.fresh || sn.state(now) == stateDue
	}
	if rec.Replaced != nil {
		exp := t.s.localExpiry(rec.Replaced, t.offset)
		x.replaced = exp.IsZero() || now.Before(exp)
	}
	return x
}

// perform runs act, the one kind of step that does I/O besides writes.
func (t *txn) perform(rec *Record, act action) result {
	s := t.s
	switch act.kind {
	case actAskCode:
		code, err := s.cfg.handler(t.ask, act.method)
		if err != nil {
			return result{kind: ansFailed, err: fmt.Errorf("userauth: two-factor handler: %w", err)}
		}
		return result{kind: ansCode, code: code}
	case actRevoke: // within the caller's time: a logout given up on goes on without the server
		t.revoked = s.client.Logout(t.ask, act.access)
		return result{kind: ansRevoked, err: t.revoked}
	case actLogin:
		pair, err := s.loginAgain(t)
		if err != nil {
			return result{kind: ansFailed, err: err}
		}
		t.login = true
		return result{kind: ansPair, pair: pair}
	}
	t.spent = true
	sent := s.cfg.now()
	var resp *TokenResponse
	var err error
	if act.code == "" {
		resp, err = s.client.RefreshToken(t.ctx, RefreshRequest{RefreshToken: rec.Token.RefreshToken})
	} else {
		resp, err = s.client.TwoFactorAuthentication(t.ctx, Confirm2FA{Code: act.code, RefreshToken: rec.Token.RefreshToken})
	}
	switch {
	case err == nil:
		return result{kind: ansPair, pair: t.fromAnswer(resp, sent)}
	case answeredSuccess(err), refused(err, http.StatusUnauthorized), act.code == "" && refused(err, http.StatusBadRequest):
		return result{kind: ansEnded, err: err} // spent, its successor lost; or refused for good
	}
	return result{kind: ansFailed, err: err}
}

// fromAnswer is the Token of an answer to a request sent at the local
// moment sent, and records the server clock's offset the answer shows.
func (t *txn) fromAnswer(r *TokenResponse, sent time.Time) *Token {
	if off, ok := serverOffset(r, sent); ok {
		t.offset = &off
	}
	return tokenFrom(r, sent)
}

// publish makes rec the snapshot readers see, and tells OnTokenChange of
// a new saved pair (or of none), in order: under the store's lock.
func (s *TokenStore) publish(t *txn, held *snapshot, rec Record) *snapshot {
	sn := s.schedule(held, &rec, t.offset, s.cfg.now())
	sn.told, sn.base = t.told, t.stored
	sn.login = !sn.saved() && (t.login || held.login && !held.saved())
	if !sn.saved() && t.renewal {
		// A renewal could not write it: the next, behind the callers, not
		// before a failure would be tried again.
		sn.failErr, sn.failUntil = errNotSavedYet, s.cfg.now().Add(failureMemory)
	}
	tell := t.wrote && t.stored == rec.Generation && sn.paired() != sn.told
	if tell {
		sn.told = sn.paired()
	}
	s.snap.Store(sn)
	if tell && s.cfg.onChange != nil {
		var tok Token
		if rec.hasPair() {
			tok = *rec.Token
		}
		s.cfg.onChange(tok)
	}
	return sn
}

// remember publishes a renewal's failure, handed to new callers for
// failureMemory, so that a failing server or storage is not hammered;
// returns err.
func (s *TokenStore) remember(sn *snapshot, renewal bool, err error) error {
	if !renewal || errors.Is(err, ErrTwoFactorRequired) || errors.Is(err, errRefusalStands) || errors.Is(err, ErrStoreShutDown) {
		return err
	}
	c := *sn
	c.failErr, c.failUntil = err, s.cfg.now().Add(failureMemory)
	s.snap.Store(&c)
	if c.state(s.cfg.now()) == stateDue && !loginOrTwoFactorRequired(err) {
		s.warn(context.Background(), "userauth: token renewal failed; callers keep the current token until it expires", err)
	}
	return err
}

// lockStorage takes the storage's Locker, when it has one. When the
// storage is unavailable and the store may degrade, it warns and goes on
// under this process's lock alone.
func (s *TokenStore) lockStorage(ctx context.Context) (unlock func(), err error) {
	if s.locker == nil {
		return func() {}, nil
	}
	unlock, err = s.locker.Lock(ctx)
	switch {
	case err == nil:
		return unlock, nil
	case s.degradable(err):
		s.warn(ctx, "userauth: shared storage unavailable; renewing under this process's lock only, which other processes cannot see", err)
		return func() {}, nil
	}
	return nil, err
}

// degradable reports a storage error the store may work around.
func (s *TokenStore) degradable(err error) bool {
	return !s.cfg.failClosed && errors.Is(err, ErrStorageUnavailable)
}

// warn logs a failure the store works around; never a token.
func (s *TokenStore) warn(ctx context.Context, msg string, err error) {
	if l := s.client.logger; l != nil {
		l.LogAttrs(ctx, slog.LevelWarn, msg, slog.String("error", err.Error()))
	}
}
