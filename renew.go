package userauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"
)

// The renewal engine.
//
// Locks, always taken in this order and released in reverse:
//
//  1. the store's write lock (s.write): one state-changing operation of
//     this store at a time (renewal, login, 2FA step, logout);
//  2. the storage's Locker, when it has one: one such operation across
//     every process sharing the storage;
//  3. s.mu: a moment's guard of the single-flight and failure fields,
//     never held across I/O.
//
// Readers take none of them: the current session is an immutable value
// behind an atomic pointer.
//
// Where a rotated pair is, by what storage did with it:
//
//	storage took it         current session, state saved    handed out
//	storage unavailable     current session, state lagging  handed out; saved at the next renewal
//	(and the store may
//	degrade)
//	storage refused it      kept aside (s.unsaved); the     not handed out: callers keep the last
//	(a write error)         spent pair cleared from storage saved token until it expires
//
// A pair that is not saved holds the only good refresh token, so every
// renewal loads storage's pair, then saves its own (flush) unless storage
// shows that it lost: cleared by a logout since, or holding a pair another
// process wrote, which wins. A renewal whose refresh or 2FA step was
// answered 2xx but whose answer could not be read ends the session: the
// server spent the refresh token, and presenting it again would look like
// theft; so is a stored pair holding a refresh token whose session ended
// here (s.ended). What a renewal of each kind does with the newest pair
// once it is known:
//
//	renewDue     a fresh pair (another process's, or one just saved): keep it; else refresh
//	renewForced  a fresh pair other than the refused one: keep it; else refresh
//	renewStepUp  a pair this store's 2FA step made, other than the refused one: keep it; else 2FA step
//
// A pair with a pending 2FA step is completed through the handler, or
// answered with *TwoFactorRequiredError without one.

// errStillLagging is remembered after a renewal that could not save the
// pair it holds, storage being unavailable.
var errStillLagging = fmt.Errorf("%w: new tokens not saved yet", ErrStorageUnavailable)

// errSessionEnded is the cause of a session ended for a stored pair whose
// refresh token this store saw the server refuse or spend before.
var errSessionEnded = errors.New("its refresh token was refused or spent before")

// renewal kinds; see the table above.
type renewKind uint8

const (
	renewDue renewKind = iota
	renewForced
	renewStepUp
)

type flight struct {
	done chan struct{}
	tok  *Token
	err  error
}

type failure struct {
	err   error
	until time.Time
}

// usableSession returns a session whose token can be used now, renewing it
// first when callers must wait.
func (s *TokenStore) usableSession(ctx context.Context) (*session, error) {
	if s == nil || s.write == nil {
		return nil, errNotMade
	}
	sess := s.cur.Load()
	switch sess.state(s.now()) {
	case stateFresh:
		return sess, nil
	case stateDue:
		if !s.blocking {
			s.renewBehind(ctx, sess)
			return sess, nil
		}
	}
	return s.awaitRenewal(ctx, sess)
}

// renewBehind starts one renewal of sess's due token, unless one runs
// already or the last one failed within failureMemory; callers go on with
// the token meanwhile.
func (s *TokenStore) renewBehind(ctx context.Context, sess *session) {
	// One caller wins the flag; the others go on at once, without
	// contending for s.mu.
	if ctx == nil || !s.renewing.CompareAndSwap(false, true) {
		return
	}
	s.mu.Lock()
	switch {
	case s.flight == nil && !s.failedRecently():
		s.startFlight(ctx, renewDue, sess.access())
	case s.flight == nil:
		s.renewing.Store(false) // failed recently: a later caller tries again
	}
	s.mu.Unlock()
}

// awaitRenewal waits for the renewal of sess, which callers cannot use as
// it is. When the renewal fails for a passing reason, a token that has not
// expired yet is served all the same.
func (s *TokenStore) awaitRenewal(ctx context.Context, sess *session) (*session, error) {
	if ctx == nil {
		return nil, errNilContext
	}
	got, err := s.joinOrStartRenewal(ctx, renewDue, sess.access())
	if err == nil {
		return got, nil
	}
	// The renewal may have found a newer pair in storage before it failed:
	// the token served is the current one.
	if cur := s.cur.Load(); ctx.Err() == nil && !loginOrTwoFactorRequired(err) && cur.servedDespiteFailure(s.now()) {
		return cur, nil // runRenewal logged the failure, once for all callers
	}
	return nil, err
}

// renewAfterRefusal returns a session other than the one whose token,
// stale, the server just refused: the current one when it answers the
// refusal (see keepNewest), else the result of one shared renewal of the
// given kind.
func (s *TokenStore) renewAfterRefusal(ctx context.Context, kind renewKind, stale string) (*session, error) {
	if sess := s.cur.Load(); sess != nil && sess.tok != nil && sess.tok.Requires2FA == "" && s.keepNewest(kind, stale, sess.tok) {
		return sess, nil
	}
	got, err := s.joinOrStartRenewal(ctx, kind, stale)
	if err == nil && !s.keepNewest(kind, stale, got.tok) {
		// Joined a renewal of another kind, or one that kept the refused
		// token: run one of our own.
		got, err = s.joinOrStartRenewal(ctx, kind, stale)
	}
	return got, err
}

// joinOrStartRenewal joins the renewal in flight or starts one, then waits
// for it as long as ctx allows. The renewal runs on a context of its own
// (see startFlight), so a caller that gives up never cancels it for the
// others, and a rotated refresh token is never lost halfway.
func (s *TokenStore) joinOrStartRenewal(ctx context.Context, kind renewKind, stale string) (*session, error) {
	s.mu.Lock()
	f := s.flight
	if f == nil {
		// A renewal may have ended between the caller's look and now.
		if sess := s.cur.Load(); sess.state(s.now()) == stateFresh && sess.tok.AccessToken != stale && s.keepNewest(kind, stale, sess.tok) {
			s.mu.Unlock()
			return sess, nil
		}
		if s.failedRecently() {
			err := s.failed.err
			s.mu.Unlock()
			return nil, err
		}
		f = s.startFlight(ctx, kind, stale)
	}
	s.mu.Unlock()
	select {
	case <-f.done:
		if f.err != nil {
			return nil, f.err
		}
		return s.sessionFor(f.tok), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// failedRecently reports a renewal that failed within failureMemory. Called
// with s.mu held.
func (s *TokenStore) failedRecently() bool {
	return s.failed != nil && s.now().Before(s.failed.until)
}

// forgetFailure drops the memory of a failed renewal.
func (s *TokenStore) forgetFailure() {
	s.mu.Lock()
	s.failed = nil
	s.mu.Unlock()
}

// startFlight starts a renewal in a goroutine that ends with it, on ctx's
// values without its cancellation, under the refresh timeout. Called with
// s.mu held.
func (s *TokenStore) startFlight(ctx context.Context, kind renewKind, stale string) *flight {
	f := &flight{done: make(chan struct{})}
	s.flight = f
	s.renewing.Store(true)
	go s.runRenewal(context.WithoutCancel(ctx), f, kind, stale)
	return f
}

// runRenewal runs one renewal under the refresh timeout and hands its
// result to every caller waiting for it.
func (s *TokenStore) runRenewal(ctx context.Context, f *flight, kind renewKind, stale string) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	tok, changed, err := s.renewUnderLocks(ctx, kind, stale)
	cancel()
	if err != nil && !loginOrTwoFactorRequired(err) && s.cur.Load().servedDespiteFailure(s.now()) {
		s.warn(ctx, "userauth: token renewal failed; callers keep the current token until it expires", err)
	}
	if changed {
		s.notify()
	}
	f.tok, f.err = tok, err
	close(f.done)
}

// renewUnderLocks brings the tokens up to date under the store's write
// lock and the storage's Locker, and ends the flight before releasing the
// write lock: a Logout that comes next forgets its failure. changed
// reports new tokens from the server (or tokens lost).
func (s *TokenStore) renewUnderLocks(ctx context.Context, kind renewKind, stale string) (tok *Token, changed bool, err error) {
	if err := s.acquire(ctx); err != nil {
		s.endFlight(err)
		return nil, false, err
	}
	defer s.release()
	tok, changed, err = s.renew(ctx, kind, stale)
	s.endFlight(err)
	return tok, changed, err
}

// endFlight clears the renewal in flight and remembers its failure, for
// failureMemory.
func (s *TokenStore) endFlight(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flight, s.failed = nil, nil
	switch {
	case err != nil && !errors.Is(err, ErrTwoFactorRequired):
		s.failed = &failure{err: err, until: s.now().Add(failureMemory)}
	case err == nil && s.cur.Load().lag != nil:
		// Storage still unavailable: the next attempt to save the pair
		// waits as long as a failure would, not for the next caller.
		s.failed = &failure{err: errStillLagging, until: s.now().Add(failureMemory)}
	}
	s.renewing.Store(false)
}

// renew is a renewal's work under the store's write lock.
func (s *TokenStore) renew(ctx context.Context, kind renewKind, stale string) (tok *Token, changed bool, err error) {
	unlock, err := s.lockStorage(ctx, "renewing the tokens")
	if err != nil {
		return nil, false, err
	}
	defer unlock()

	newest, flushed, err := s.newestPair(ctx)
	switch {
	case err != nil: // no pair, or storage failed
	case s.keepNewest(kind, stale, newest): // never a pending pair
		tok = newest
	case newest.Requires2FA != "" || kind == renewStepUp:
		tok, changed, err = s.secondFactor(ctx, ctx, newest)
	default:
		tok, changed, err = s.refreshWith(ctx, newest)
	}
	if errors.Is(err, ErrLoginRequired) && s.relogin != nil { // the session ended, or there was none
		var again bool
		tok, again, err = s.loginAgain(ctx, err)
		changed = changed || again
	}
	return tok, changed || flushed, err
}

// keepNewest reports whether newest, the pair storage holds, serves a
// renewal of the given kind without spending its refresh token (see the
// table above).
func (s *TokenStore) keepNewest(kind renewKind, stale string, newest *Token) bool {
	sess := s.sessionFor(newest)
	fresh := sess.freshByTime(s.now())
	switch kind {
	case renewDue:
		return fresh
	case renewForced:
		return stale != "" && newest.AccessToken != stale && fresh
	}
	return stale != "" && newest.AccessToken != stale && !sess.steppedAt.IsZero()
}

// newestPair returns the newest pair of the session, under the storage's
// Locker: a pair not saved yet (unsaved, or lagging) is saved first;
// otherwise it is what storage holds, made current. When storage is
// unavailable and the store may degrade, it is the pair this store holds.
// No pair at all is ErrLoginRequired. changed reports that what the store
// holds changed for callers (a pair saved at last, or the tokens lost).
func (s *TokenStore) newestPair(ctx context.Context) (newest *Token, changed bool, err error) {
	cur := s.cur.Load()
	stored, err := s.storage.Load(ctx)
	if err != nil {
		if !s.degradable(err) || (cur.access() == "" && s.unsaved == nil) {
			return nil, false, err
		}
		s.warn(ctx, "userauth: shared storage unavailable; renewing the tokens this process holds", err)
		if p := s.unsaved; p != nil { // the newest pair: the current one is spent
			s.unsaved = nil
			s.set(p.tok, p)
			return p.tok, true, nil
		}
		return cur.tok, false, nil
	}
	if p := s.notSaved(); p != nil {
		return s.flush(ctx, p, stored)
	}
	switch {
	case stored == nil:
		s.set(nil, nil)
		return nil, cur.access() != "", ErrLoginRequired
	case slices.Contains(s.ended, stored.RefreshToken): // left by a Clear that failed
		_, changed, err := s.endSession(ctx, stored, errSessionEnded)
		return nil, changed, err
	}
	s.set(stored, nil)
	return stored, false, nil
}

// notSaved is the pair this store holds that storage does not: the one
// kept aside, or a lagging current one; nil when none.
func (s *TokenStore) notSaved() *unsavedPair {
	if s.unsaved != nil {
		return s.unsaved
	}
	if cur := s.cur.Load(); cur != nil && cur.tok != nil {
		return cur.lag
	}
	return nil
}

// flush saves p, a pair storage did not take, given what storage holds
// now. A storage cleared since p replaced a pair (and not by this store)
// was logged out: the logout wins, and p is dropped. A storage holding a
// pair that is neither p nor the one it replaced was written by another
// process, whose pair wins over a rotated p; a login's p replaces it, as
// it would have with storage up, and, spending nothing, is saved as a
// login is (see keep).
func (s *TokenStore) flush(ctx context.Context, p *unsavedPair, stored *Token) (*Token, bool, error) {
	switch {
	case stored == nil && p.parent != "" && !p.cleared:
		s.unsaved = nil
		s.set(nil, nil)
		return nil, true, ErrLoginRequired
	case stored != nil && !p.login && p.parent != "" && stored.RefreshToken != p.parent && stored.RefreshToken != p.tok.RefreshToken:
		s.unsaved = nil
		s.set(stored, nil)
		return stored, true, nil
	}
	wasUnsaved := s.unsaved != nil
	save := s.save
	if p.login {
		save = s.keep
	}
	if err := save(ctx, p.tok, *p); err != nil {
		return nil, false, err
	}
	return p.tok, wasUnsaved && s.unsaved == nil, nil
}

// lockStorage takes the storage's Locker, when it has one, for doing (a
// phrase for the warning). When the storage is unavailable and the store
// may degrade, it warns and goes on under this process's lock alone.
func (s *TokenStore) lockStorage(ctx context.Context, doing string) (unlock func(), err error) {
	if s.locker == nil {
		return func() {}, nil
	}
	unlock, err = s.locker.Lock(ctx)
	switch {
	case err == nil:
		return unlock, nil
	case s.degradable(err):
		s.warn(ctx, "userauth: shared storage unavailable; "+doing+" under this process's lock only, which other processes cannot see", err)
		return func() {}, nil
	}
	return nil, err
}

// refreshWith spends stored's refresh token.
func (s *TokenStore) refreshWith(ctx context.Context, stored *Token) (*Token, bool, error) {
	if err := s.storageTakesWrites(ctx, stored); err != nil {
		return nil, false, err
	}
	sent := s.now()
	resp, err := s.client.RefreshToken(ctx, RefreshRequest{RefreshToken: stored.RefreshToken})
	if err != nil {
		if answeredSuccess(err) {
			return s.endSession(ctx, stored, err) // the token is spent, its successor lost
		}
		if !refused(err, http.StatusBadRequest, http.StatusUnauthorized) {
			return nil, false, err // passing trouble: keep the tokens
		}
		// A process that does not take the lock may have rotated it.
		if again, lerr := s.storage.Load(ctx); lerr == nil && again != nil && again.RefreshToken != stored.RefreshToken {
			s.set(again, nil)
			if again.Requires2FA != "" {
				return s.secondFactor(ctx, ctx, again)
			}
			return again, false, nil
		}
		return s.endSession(ctx, stored, err)
	}
	tok := s.tokenFromAnswer(resp, sent)
	if tok.Requires2FA != "" && stored.Requires2FA == "" {
		// Kept while the step is pending, even if it waits to be saved.
		s.stepFrom = &stepFrom{complete: stored, pending: tok.RefreshToken}
	}
	if err := s.save(ctx, tok, s.replacing(stored)); err != nil {
		return nil, false, err
	}
	if tok.Requires2FA != "" {
		full, _, err := s.secondFactor(ctx, ctx, tok)
		return full, true, err
	}
	return tok, true, nil
}

// storageTakesWrites writes stored, the pair about to be spent, back to
// storage, to learn that storage takes writes before its refresh token is
// spent: a storage that can neither save the pair to come nor clear the
// spent one (a file system gone read-only) would leave that one for
// another process to spend again. Only under a Locker, which keeps other
// writers out: without one, the write could undo a pair another process
// just saved. An unavailable storage is the degraded case, and lets the
// spending go on.
func (s *TokenStore) storageTakesWrites(ctx context.Context, stored *Token) error {
	if cur := s.cur.Load(); s.locker == nil || cur == nil || cur.lag != nil || !sameToken(cur.tok, stored) {
		return nil // not what storage holds, or no Locker: nothing to prove there
	}
	if err := s.writeOnce(ctx, func(ctx context.Context) error { return s.storage.Save(ctx, stored) }); err != nil && !s.degradable(err) {
		return err
	}
	return nil
}

// answeredSuccess reports an error that came after a 2xx status: the
// server acted on the call, but its answer could not be read.
func answeredSuccess(err error) bool {
	var de *DecodeError
	var te *TransportError
	return (errors.As(err, &de) && de.StatusCode/100 == 2) || (errors.As(err, &te) && te.StatusCode/100 == 2)
}

// refused reports an API answer with one of the statuses.
func refused(err error, statuses ...int) bool {
	var ce *ClientError
	if !errors.As(err, &ce) {
		return false
	}
	for _, st := range statuses {
		if ce.StatusCode == st {
			return true
		}
	}
	return false
}

// endSession clears the session of tok, which the server refused for
// good: its refresh token is unknown, spent or revoked, and is never
// presented again, even if storage cannot be cleared.
func (s *TokenStore) endSession(ctx context.Context, tok *Token, cause error) (*Token, bool, error) {
	s.endedWith(tok)
	if err := s.clearWithRetries(ctx); err != nil {
		s.warn(ctx, "userauth: clearing refused tokens failed", err)
	}
	s.unsaved = nil
	s.set(nil, nil)
	return nil, true, errLoginRequiredBy(cause)
}

// endedWith records that the session of tok ended: its refresh token, and
// the one it replaced when storage never took tok (spent by this store,
// and maybe still in storage), are never presented again.
func (s *TokenStore) endedWith(tok *Token) {
	s.ended = []string{tok.RefreshToken}
	if p := s.notSaved(); p != nil && sameToken(p.tok, tok) && !p.login && p.parent != "" {
		s.ended = append(s.ended, p.parent)
	}
}

// warn logs a failure the store works around; never a token.
func (s *TokenStore) warn(ctx context.Context, msg string, err error) {
	if l := s.client.logger; l != nil {
		l.LogAttrs(ctx, slog.LevelWarn, msg, slog.String("error", err.Error()))
	}
}
