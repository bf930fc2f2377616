package userauth

import (
	"context"
	"errors"
	"time"
)

// session is an immutable snapshot of the store's tokens.
type session struct {
	tok       *Token // nil: no tokens
	bearer    string // "Bearer " + tok.AccessToken
	refreshAt time.Time
	expiresAt time.Time
	known     bool // the expiry is known
	save      saveState
	parent    string // the refresh token this pair replaced; "" after a login
}

// saveState says whether storage holds a session's tokens.
type saveState uint8

const (
	saved saveState = iota
	unsaved
	lagging
)

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
	case s == nil || s.tok == nil || s.tok.Requires2FA != "" || s.save == unsaved:
		return stateNone
	case now.Before(s.refreshAt) && s.save == saved:
		return stateFresh
	case s.known && now.Before(s.expiresAt):
		return stateDue
	}
	return stateExpired
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
// current. When storage refuses it, tok is kept in memory so its refresh
// token is not lost: marked unsaved, it is not handed out until a later
// save succeeds; but when the storage is only unavailable and the store
// may degrade, it is handed out (lagging), and saved again at each renewal
// until storage takes it.
func (s *TokenStore) save(ctx context.Context, tok *Token, parent string) error {
	err := s.storage.Save(ctx, tok)
	switch {
	case err == nil:
		s.set(tok, saved, parent)
	case s.degradable(err):
		s.set(tok, lagging, parent)
		s.warn(ctx, "userauth: shared storage unavailable; new tokens kept in this process until it returns", err)
	default:
		s.set(tok, unsaved, parent)
		return err
	}
	return nil
}

// degradable reports a storage error the store may work around.
func (s *TokenStore) degradable(err error) bool {
	return !s.failClosed && errors.Is(err, ErrStorageUnavailable)
}

// set publishes the session for tok.
func (s *TokenStore) set(tok *Token, st saveState, parent string) *session {
	sess := s.sessionFor(tok)
	if sess.save != st || sess.parent != parent {
		c := *sess
		c.save, c.parent = st, parent
		sess = &c
	}
	s.cur.Store(sess)
	return sess
}

// sessionFor returns the current session when it holds tok's access token
// (its schedule is kept: an unknown expiry is not trusted anew), else a new
// saved one.
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
	expiry := tok.Expiry
	if expiry.IsZero() {
		sess.refreshAt = now.Add(unknownExpiryLifetime)
		return sess
	}
	skew := min(s.skew, max(expiry.Sub(now)/2, 0))
	sess.refreshAt, sess.expiresAt, sess.known = expiry.Add(-skew), expiry, true
	return sess
}

// sameToken reports whether a and b are the same pair, both non-nil.
func sameToken(a, b *Token) bool {
	return a != nil && b != nil && a.AccessToken == b.AccessToken && a.RefreshToken == b.RefreshToken &&
		a.Requires2FA == b.Requires2FA && a.Expiry.Equal(b.Expiry)
}
