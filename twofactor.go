package userauth

import (
	"context"
	"fmt"
	"net/http"
)

// The 2FA step: completing a pending step (after a login or a refresh that
// asked for 2FA) and renewing an expired grace period (after a 424). A step
// spends the pending refresh token, so it runs like a renewal, under the
// same locks (see renew.go), and on a context of its own.

// secondFactor completes a 2FA step for pending (a token whose answer asked
// for 2FA, or a complete one whose grace period expired) with a code from
// the handler, which runs on ask.
func (s *TokenStore) secondFactor(ctx, ask context.Context, pending *Token) (*Token, bool, error) {
	method := s.rememberMethod(pending.Requires2FA)
	if s.handler == nil {
		if pending.Requires2FA == "" {
			return nil, false, ErrTwoFactorExpired
		}
		return nil, false, &TwoFactorRequiredError{Method: method}
	}
	code, err := s.handler(ask, method)
	if err != nil {
		return nil, false, fmt.Errorf("userauth: two-factor handler: %w", err)
	}
	return s.spendOnTwoFactor(ctx, pending, code)
}

// spendOnTwoFactor posts code with pending's refresh token to /auth/2fa
// and saves the answer. A wrong code leaves the step pending; a refused
// refresh token (401) ends the session.
func (s *TokenStore) spendOnTwoFactor(ctx context.Context, pending *Token, code string) (*Token, bool, error) {
	if err := s.storageTakesWrites(ctx, pending); err != nil {
		return nil, false, err
	}
	sent := s.now()
	resp, err := s.client.TwoFactorAuthentication(ctx, Confirm2FA{Code: code, RefreshToken: pending.RefreshToken})
	if err != nil {
		if refused(err, http.StatusUnauthorized) || answeredSuccess(err) {
			return s.endSession(ctx, pending, err)
		}
		return nil, false, err
	}
	tok := s.tokenFromAnswer(resp, sent)
	if err := s.save(ctx, tok, s.replacing(pending)); err != nil {
		return nil, false, err
	}
	if tok.Requires2FA != "" {
		return nil, true, &TwoFactorRequiredError{Method: tok.Requires2FA}
	}
	s.markStepped(tok)
	return tok, true, nil
}

// rememberMethod records the method of a pending step, and returns the
// method of the last step seen when m is "" (a grace period renewal).
func (s *TokenStore) rememberMethod(m TwoFactorMethod) TwoFactorMethod {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m != "" {
		s.lastMethod = m
	}
	return s.lastMethod
}

// completeTwoFactor is CompleteTwoFactor under the store's write lock.
func (s *TokenStore) completeTwoFactor(ctx context.Context, code string) (*Token, bool, error) {
	unlock, err := s.lockStorage(ctx, "completing 2FA")
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	pending, flushed, err := s.newestPair(ctx)
	if err != nil {
		return nil, flushed, err
	}
	s.rememberMethod(pending.Requires2FA)
	tok, spent, err := s.spendOnTwoFactor(ctx, pending, code)
	return tok, flushed || spent, err
}

// adoptLocked saves tok, from an answer the caller got, as the session,
// under the store's write lock and the storage's Locker, then runs the 2FA
// step it may ask for. changed reports that tok was stored (then the 2FA
// step may still have failed).
func (s *TokenStore) adoptLocked(ctx, ask context.Context, tok *Token) (*Token, bool, error) {
	unlock, err := s.lockStorage(ctx, "saving a login")
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	return s.adoptHeld(ctx, ask, tok)
}

// adoptHeld is adoptLocked's work, with the storage's Locker held already
// (a login made by a renewal: see loginAgain).
func (s *TokenStore) adoptHeld(ctx, ask context.Context, tok *Token) (*Token, bool, error) {
	// What storage holds, so that a logout elsewhere before this login is
	// saved (while storage is down) is not undone. A login spends no
	// refresh token: one that storage refuses leaves the store as it was.
	var newest *Token
	if p := s.notSaved(); p != nil {
		newest = p.tok
	} else if cur := s.cur.Load(); cur != nil {
		newest = cur.tok
	}
	base := s.replacing(newest)
	base.login = true
	if err := s.keep(ctx, tok, base); err != nil {
		return nil, false, err
	}
	if s.relogin != nil {
		s.relogin.paused = false // a new session: it may be logged in again
	}
	s.forgetFailure()
	if tok.Requires2FA == "" {
		return tok, true, nil
	}
	full, _, err := s.secondFactor(ctx, ask, tok)
	return full, true, err
}
