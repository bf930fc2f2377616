package userauth

import (
	"context"
	"errors"
	"time"
)

// session is an immutable snapshot of the store's tokens, as callers are
// served them.
type session struct {
	tok       *Token // nil: no tokens
	bearer    string // "Bearer " + tok.AccessToken
	refreshAt time.Time
	expiresAt time.Time
	known     bool         // the expiry is known
	lag       *unsavedPair // nil: storage holds tok; else storage was unavailable (lagging)
	steppedAt time.Time    // when this store's 2FA step made the pair; zero for others
	version   uint64       // counts the store's changes of tokens; see notify
}

// unsavedPair is a pair that storage does not hold: one it refused, kept
// aside (s.unsaved) and never handed out, or one it could not take,
// handed out (a lagging session's lag). Either holds the only good refresh
// token, so the next renewal saves it before anything else. parent and
// cleared say what storage holds meanwhile, as far as this store knows.
type unsavedPair struct {
	tok     *Token
	parent  string // the refresh token storage holds ("" when none)
	cleared bool   // this store cleared storage's spent pair, not a logout
	login   bool   // from a login: parent was not spent, and is no newer session
}

// tokenState is what callers do with a session's token.
type tokenState uint8

const (
	stateNone    tokenState = iota // no complete, handed-out token: wait for a renewal
	stateFresh                     // hand it out
	stateDue                       // hand it out; one renewal starts behind the callers
	stateExpired                   // wait for the renewal
)

// state says what callers do with s at now.
func (s *session) state(now time.Time) tokenState {
	switch {
	case s == nil || s.tok == nil || s.tok.Requires2FA != "":
		return stateNone
	case now.Before(s.refreshAt) && s.lag == nil:
		return stateFresh
	case s.known && now.Before(s.expiresAt), !s.known && now.Before(s.refreshAt):
		return stateDue // (a lagging pair of unknown expiry: within its trust period)
	}
	return stateExpired
}

// freshByTime reports whether s's token is complete and not yet due,
// whether storage holds it or not (a lagging pair is still fresh).
func (s *session) freshByTime(now time.Time) bool {
	return s != nil && s.tok != nil && s.tok.Requires2FA == "" && now.Before(s.refreshAt)
}

// servedDespiteFailure reports whether s's token is handed out although
// the renewal callers waited for failed: it is due (complete, not expired,
// or of unknown expiry within its trust period). A fresh token needs no
// renewal: a forced one that fails is reported to its caller.
func (s *session) servedDespiteFailure(now time.Time) bool { return s.state(now) == stateDue }

// token is a copy of s's tokens as the store hands them out: Expiry is the
// store's (see TokenStore.Token), zero when it counts it unknown.
func (s *session) token() *Token {
	t := *s.tok
	t.Expiry = time.Time{}
	if s.known {
		t.Expiry = s.expiresAt
	}
	return &t
}

func (s *session) access() string {
	if s == nil || s.tok == nil {
		return ""
	}
	return s.tok.AccessToken
}

// keep saves tok and makes it current. The save runs on a context of its
// own, and is tried again a little (see withRetries). When storage is only
// unavailable and the store may degrade, tok is handed out (lagging) and
// saved at the next renewal; base says what storage holds meanwhile. When
// storage refuses it, keep changes nothing and returns the error.
func (s *TokenStore) keep(ctx context.Context, tok *Token, base unsavedPair) error {
	err := s.saveWithRetries(ctx, tok)
	switch {
	case err == nil:
		s.unsaved = nil
		s.set(tok, nil)
	case s.degradable(err):
		s.unsaved = nil
		base.tok = tok
		s.set(tok, &base)
		s.warn(ctx, "userauth: shared storage unavailable; new tokens kept in this process until it returns", err)
	default:
		return err
	}
	return nil
}

// save is keep for a rotated pair, whose refresh token is the only good
// one: when storage refuses it, tok is kept aside (unsaved) and storage
// cleared of the spent pair, so that no other process presents its
// refresh token; callers keep the last saved token until it expires.
func (s *TokenStore) save(ctx context.Context, tok *Token, base unsavedPair) error {
	err := s.keep(ctx, tok, base)
	if err != nil {
		base.tok, base.cleared = tok, s.clearWithRetries(ctx) == nil
		s.unsaved = &base
	}
	return err
}

// replacing is what storage holds, as far as this store knows, for a pair
// that replaces old: what storage held before old, when old is a pair
// storage does not hold (see notSaved); else old itself.
func (s *TokenStore) replacing(old *Token) unsavedPair {
	if p := s.notSaved(); p != nil && sameToken(p.tok, old) {
		return unsavedPair{parent: p.parent, cleared: p.cleared, login: p.login}
	}
	if old == nil {
		return unsavedPair{}
	}
	return unsavedPair{parent: old.RefreshToken}
}

// writeAttempts is how many times the store tries a storage that refuses
// a write: a save, or a clear.
const writeAttempts = 3

// withRetries runs write until it succeeds or the storage is only
// unavailable (see degradable), writeAttempts times at most, a short wait
// between attempts. Each attempt runs on ctx's values with a deadline of
// its own: the caller's may be used up by a slow storage, and a rotated
// pair must still land, a spent one still go.
func (s *TokenStore) withRetries(ctx context.Context, write func(context.Context) error) error {
	var err error
	for i := range writeAttempts {
		if i > 0 {
			time.Sleep(time.Duration(i) * 25 * time.Millisecond)
		}
		if err = s.writeOnce(ctx, write); err == nil || s.degradable(err) {
			return err
		}
	}
	return err
}

// writeOnce is one attempt of withRetries.
func (s *TokenStore) writeOnce(ctx context.Context, write func(context.Context) error) error {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
	defer cancel()
	return write(wctx)
}

// saveWithRetries saves tok (see withRetries).
func (s *TokenStore) saveWithRetries(ctx context.Context, tok *Token) error {
	return s.withRetries(ctx, func(ctx context.Context) error { return s.storage.Save(ctx, tok) })
}

// clearWithRetries clears the storage (see withRetries).
func (s *TokenStore) clearWithRetries(ctx context.Context) error {
	return s.withRetries(ctx, s.storage.Clear)
}

// degradable reports a storage error the store may work around.
func (s *TokenStore) degradable(err error) bool {
	return !s.failClosed && errors.Is(err, ErrStorageUnavailable)
}

// set publishes the session for tok, lagging when lag is not nil (see
// unsavedPair). Other tokens get a new version (see notify), and end the
// 2FA step stepFrom remembers, unless they are that step's.
func (s *TokenStore) set(tok *Token, lag *unsavedPair) {
	cur := s.cur.Load()
	if f := s.stepFrom; f != nil && (tok == nil || tok.RefreshToken != f.pending) {
		s.stepFrom = nil // the step is over, or another session came
	}
	sess := s.sessionFor(tok)
	if sess.lag != lag {
		c := *sess
		c.lag = lag
		sess = &c
	}
	if cur == nil || !sameToken(cur.tok, tok) {
		sess.version = s.versions.Add(1) // other tokens: sess is new
	}
	s.cur.Store(sess)
}

// stepFrom is a complete pair, and the refresh token of the pending 2FA
// step a renewal of it was answered with.
type stepFrom struct {
	complete *Token
	pending  string
}

// sessionFor returns the current session when it holds tok (its schedule
// is kept: an unknown expiry is not trusted anew), else a new saved one.
func (s *TokenStore) sessionFor(tok *Token) *session {
	if cur := s.cur.Load(); cur != nil && sameToken(cur.tok, tok) {
		return cur
	}
	sess := &session{tok: tok}
	if tok == nil {
		return sess
	}
	sess.bearer = "Bearer " + tok.AccessToken
	now := s.now()
	expiry := s.localExpiry(tok)
	if expiry.Sub(now) > maxTrustedLifetime {
		expiry = time.Time{} // a sentinel, saved or read with the offset
	}
	if expiry.IsZero() {
		sess.refreshAt = now.Add(unknownExpiryLifetime)
		return sess
	}
	if s.offset.Load() == nil {
		// Saved by a clock the store cannot compare with the server's:
		// trust it for a while only; the renewal's answer tells.
		expiry = minTime(expiry, now.Add(unknownExpiryLifetime))
	}
	sess.refreshAt, sess.expiresAt, sess.known = expiry.Add(-s.refreshSkew(tok, expiry.Sub(now))), expiry, true
	return sess
}

// refreshSkew is how long before its expiry tok is renewed: the store's
// skew, capped at half the token's lifetime, so that a short-lived token
// is not renewed as soon as it arrives. The lifetime is the token's exp
// less its iat, wherever the pair comes from, so a stored token with
// little left is due, not fresh. Without an iat the store knows only
// left, what the token has left now, and takes it for the lifetime.
func (s *TokenStore) refreshSkew(tok *Token, left time.Duration) time.Duration {
	if exp, iat := jwtTimes(tok.AccessToken); !exp.IsZero() && !iat.IsZero() && exp.After(iat) {
		return min(s.skew, exp.Sub(iat)/2)
	}
	return min(s.skew, max(left/2, 0))
}

// localExpiry is when tok's access token expires by the store's clock:
// its exp claim less the server clock's offset the store measured, when it
// has (a pair saved by a process whose clock differs is read right);
// otherwise the Expiry the pair was saved with, which sessionFor trusts
// for unknownExpiryLifetime at most.
func (s *TokenStore) localExpiry(tok *Token) time.Time {
	if off := s.offset.Load(); off != nil {
		if exp := jwtExpiry(tok.AccessToken); !exp.IsZero() {
			return exp.Add(-*off)
		}
	}
	return tok.Expiry
}

// tokenFromAnswer is the Token of an answer to a request sent at the local
// moment sent, and records the server clock's offset the answer shows.
func (s *TokenStore) tokenFromAnswer(r *TokenResponse, sent time.Time) *Token {
	if off, ok := serverOffset(r, sent); ok {
		s.offset.Store(&off)
	}
	return tokenFrom(r, sent)
}

// markStepped records that this store's 2FA step made tok, the current
// pair: a 424 on an older pair is then answered by tok, without another
// step.
func (s *TokenStore) markStepped(tok *Token) {
	if cur := s.cur.Load(); cur != nil && sameToken(cur.tok, tok) {
		c := *cur
		c.steppedAt = s.now()
		s.cur.Store(&c)
	}
}

// sameToken reports whether a and b are the same pair, both non-nil.
func sameToken(a, b *Token) bool {
	return a != nil && b != nil && a.AccessToken == b.AccessToken && a.RefreshToken == b.RefreshToken &&
		a.Requires2FA == b.Requires2FA && a.Expiry.Equal(b.Expiry)
}

// minTime is the earlier of a and b.
func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
