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
	known     bool      // the expiry is known
	save      saveState // saved, or lagging
	parent    string    // of a lagging pair: the refresh token it replaced ("" when none)
	steppedAt time.Time // when this store's 2FA step made the pair; zero for others
	version   uint64    // counts the store's changes of tokens; see notify
}

// saveState says whether storage holds a session's tokens.
type saveState uint8

const (
	saved   saveState = iota
	lagging           // storage unavailable: handed out, saved at the next renewal
)

// unsavedPair is a rotated pair that storage refused: it holds the only
// good refresh token, so the next renewal saves it before anything else,
// and it is never handed out before that.
type unsavedPair struct {
	tok     *Token
	parent  string // the refresh token it replaced ("" when none)
	cleared bool   // this store cleared the storage's spent pair, not a logout
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
	case now.Before(s.refreshAt) && s.save == saved:
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

// valid reports whether s can be handed out although a renewal failed: its
// token is complete and known not to have expired.
func (s *session) valid(now time.Time) bool { return s.state(now) == stateDue }

func (s *session) access() string {
	if s == nil || s.tok == nil {
		return ""
	}
	return s.tok.AccessToken
}

// save persists tok, which replaced the refresh token parent, and makes it
// current. The save runs on a context of its own, and is tried again a
// little while the caller holds the storage's Locker: the pair holds the
// only good refresh token. When storage is only unavailable and the store
// may degrade, tok is handed out (lagging) and saved at the next renewal.
// When storage refuses it, tok is kept aside (unsaved) and the storage
// cleared, so that no other process spends the refresh token tok
// replaced; callers keep the last saved token until it expires.
func (s *TokenStore) save(ctx context.Context, tok *Token, parent string) error {
	err := s.saveWithRetries(ctx, tok)
	switch {
	case err == nil:
		s.unsaved = nil
		s.set(tok, saved, "")
	case s.degradable(err):
		s.unsaved = nil
		s.set(tok, lagging, parent)
		s.warn(ctx, "userauth: shared storage unavailable; new tokens kept in this process until it returns", err)
	default:
		s.unsaved = &unsavedPair{tok: tok, parent: parent, cleared: s.clearWithRetries(ctx) == nil}
		return err
	}
	return nil
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

// set publishes the session for tok.
func (s *TokenStore) set(tok *Token, st saveState, parent string) *session {
	cur := s.cur.Load()
	if f := s.stepFrom; f != nil && (tok == nil || tok.RefreshToken != f.pending) {
		s.stepFrom = nil // the step is over, or another session came
	}
	sess := s.sessionFor(tok)
	if sess.save != st || sess.parent != parent {
		c := *sess
		c.save, c.parent = st, parent
		sess = &c
	}
	if cur == nil || !sameToken(cur.tok, tok) {
		sess.version = s.versions.Add(1) // other tokens: sess is new
	}
	s.cur.Store(sess)
	return sess
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
	skew := min(s.skew, max(expiry.Sub(now)/2, 0))
	sess.refreshAt, sess.expiresAt, sess.known = expiry.Add(-skew), expiry, true
	return sess
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
