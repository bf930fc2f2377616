package userauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// The engine: one transaction primitive.
//
// Every change of the session (renewal, login, 2FA step, logout) is one
// transaction: the store's lock, then the storage's Locker, load and merge
// (see merge), then the steps of the state machine (transition.go), each
// record written before its action when its generation grew, then the
// snapshot published (snapshot.go), then unlock, then OnTokenChange told
// (notify.go). A transaction runs on a context detached from its callers'
// (flights.go), bounded by the refresh timeout: a caller that gives up
// never cuts a refresh token's spending short.

// maxSteps bounds a transaction's steps; no path of the state machine
// takes more than six.
const maxSteps = 12

// transact runs g's transaction under the store's lock (see the top of
// this file), and publishes what it ends with.
func (s *TokenStore) transact(ctx, ask context.Context, g goal) (*snapshot, error) {
	held := s.snap.Load()
	t := &txn{s: s, ctx: ctx, ask: ask, read: ctx, held: held, offset: held.offset, told: held.told,
		login: g.kind == goalAdopt, renewal: g.kind <= goalStepUp}
	if g.kind == goalLogout || g.kind == goalLogoutLocal || g.kind == goalFlush {
		t.read = ask // a logout (or Shutdown) that cannot read storage in its caller's time changes nothing
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
			case t.s.degradable(err) && n.Phase != PhaseLoggedOut: // a logout must reach storage, or it changed nothing
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
	s            *TokenStore
	ctx, ask     context.Context
	offset       *time.Duration
	held         *snapshot       // what the store held when the transaction started
	login        bool            // a login's pair was written (see merge)
	renewal      bool            // the transaction renews (goalUsable to goalStepUp)
	restored     bool            // the record this store held unsaved was written back
	spent        bool            // a refresh token was presented
	read         context.Context // for loads: a logout's within its caller's time
	revoked      error           // the logout call's error, if it failed
	stored       uint64          // the generation storage holds, as far as this store knows
	storedPaired uint64          // and the pair it holds
	wrote        bool            // a record of this transaction was saved
	told         uint64          // the pair OnTokenChange was last told of
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
		t.stored, t.storedPaired = t.held.base, t.held.basePaired // what storage held when last seen
		if held == nil {
			return Record{}, nil // a login during an outage: kept here until storage returns
		}
		return *held, nil
	default:
		return Record{}, err
	}
	t.stored = stored.generation()
	if stored != nil {
		t.storedPaired = stored.Paired
	}
	h := t.held
	rec, back := merge(held, h.base, h.basePaired, h.login && !h.saved(), stored)
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
			t.stored, t.storedPaired, t.wrote = r.Generation, r.Paired, true
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
	x := rules{now: now, api: t.s.client.baseURL.String(),
		handler: t.s.cfg.handler != nil, credentials: t.s.relogin != nil, restored: t.restored}
	if rec.hasPair() {
		sn := t.s.schedule(t.held, &rec, t.offset, now)
		sn.base = rec.Generation // fresh by time: whether storage has it is the engine's
		x.fresh = sn.state(now) == stateFresh
		x.valid = x.fresh || sn.state(now) == stateDue
	}
	if h := t.held; rec.Phase == PhaseSpending && h.rec != nil && h.rec.Phase == PhaseSpending && h.rec.Generation == rec.Generation {
		// Judged by this store's clock alone, from when it first saw that
		// spending: another's clock may be hours off.
		x.abandoned = !now.Before(h.spendSeen.Add(2 * t.s.cfg.timeout))
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
	sn.told, sn.base, sn.basePaired = t.told, t.stored, t.storedPaired
	if rec.Phase == PhaseSpending {
		sn.spendSeen = s.cfg.now()
		if held.rec != nil && held.rec.Phase == PhaseSpending && held.rec.Generation == rec.Generation {
			sn.spendSeen = held.spendSeen // the same spending, seen before
		}
	}
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
		s.note.queue(tok)
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
