package userauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
)

// This file ends sessions: Logout, which has the server revoke the tokens
// and clears them here, and LogoutLocal, which only clears them.

// Logout ends the session, on the server and here. The server revokes
// every token of the user (Client.Logout, with the newest complete access
// token, renewed first only if it has expired and can be renewed); then
// the tokens are cleared in memory and in storage, so every process
// sharing the storage is logged out. A pending 2FA step is cleared without
// a call.
//
// Storage is cleared even when the server cannot be reached or refuses:
// the error then matches ErrNotRevoked and wraps the server's, and the
// tokens may still work until they expire. When storage cannot be
// cleared, Logout returns its error and the store keeps the session (the
// server may have revoked it already): call it again. Logout holds the storage's
// Locker: a renewal in flight in another process either finishes first
// (its pair is then revoked and cleared) or finds the storage empty; it
// never writes the session back. Logout waits, as long as ctx allows, for
// a renewal or 2FA step of this store under way and for the Locker when
// another process holds it; when ctx ends first it returns ctx's error and
// changes nothing. A Login answered while Logout runs is saved after it;
// if the server revoked it, its first use ends in ErrLoginRequired.
func (s *TokenStore) Logout(ctx context.Context) error { return s.logout(ctx, true) }

// LogoutLocal forgets the tokens, in memory and in storage, as Logout
// does, without asking the server to revoke them: they stay valid until
// they expire, for anyone who holds a copy.
func (s *TokenStore) LogoutLocal(ctx context.Context) error { return s.logout(ctx, false) }

func (s *TokenStore) logout(ctx context.Context, revoke bool) error {
	if err := s.made(); err != nil {
		return err
	}
	if ctx == nil {
		return errNilContext
	}
	if err := ctx.Err(); err != nil {
		return err // given up before anything started
	}
	held := s.cur.Load() // revoked when storage holds nothing newer
	if err := s.acquire(ctx); err != nil {
		return err
	}
	changed, err := s.logoutUnderLock(ctx, revoke, held)
	if (err == nil || errors.Is(err, ErrNotRevoked)) && s.relogin != nil {
		s.relogin.paused = true // logged out on purpose: not logged in again
	}
	s.release()
	if changed {
		s.notify()
	}
	return err
}

// logoutUnderLock is Logout's work under the store's write lock. changed
// reports that the store's tokens changed: forgotten, in memory and in
// storage, or renewed by revoke. When storage cannot be cleared, the store
// keeps what it holds (forgetting it here only would let the next call
// load the stored pair again), and the pair revoke renewed replaces the
// spent one.
func (s *TokenStore) logoutUnderLock(ctx context.Context, revoke bool, held *session) (changed bool, err error) {
	unlock, err := s.lockStorage(ctx, "logging out")
	if err != nil {
		return false, err
	}
	defer unlock()
	var revokeErr error
	var renewed *unsavedPair
	if revoke {
		renewed, revokeErr = s.revoke(ctx, held)
	}
	// The storage is cleared even when the caller's context ended during
	// the server's call.
	if err := s.clearWithRetries(ctx); err != nil {
		var saveErr error
		if renewed != nil {
			saveErr = s.save(ctx, renewed.tok, *renewed)
			changed = saveErr == nil || s.notSaved() != nil
		}
		if revokeErr != nil {
			revokeErr = fmt.Errorf("userauth: the server did not revoke the tokens either: %w", revokeErr)
		}
		return changed, errors.Join(err, saveErr, revokeErr)
	}
	s.unsaved = nil
	s.set(nil, nil)
	s.forgetFailure()
	if revokeErr != nil {
		return true, fmt.Errorf("%w: %w", ErrNotRevoked, revokeErr)
	}
	return true, nil
}

// revoke has the server revoke the session's tokens, with the access
// token of the newest pair (see pairToRevoke), renewed first when it has
// expired; renewed is that renewal's pair, nil when none ran. The renewal
// runs on a context of its own, as every spending of a refresh token does.
//
// Other pairs stand in for a newest pair that cannot be used, with their
// access token only, while it is valid: when storage holds no pair,
// another store cleared it (a logout, or a pair it could not save), and
// the pair this store held may be spent; when storage holds the pending
// 2FA step a renewal of this store was answered with, the complete pair
// the step replaced was handed out and still opens the account. A pending
// step of any other origin is cleared without a call, and a refresh token
// whose session ended is never presented.
func (s *TokenStore) revoke(ctx context.Context, held *session) (renewed *unsavedPair, err error) {
	now := s.now()
	tok, renewable := s.pairToRevoke(ctx)
	switch f := s.stepFrom; {
	case tok == nil && held != nil:
		tok, renewable = held.tok, false
	case tok != nil && f != nil && tok.RefreshToken == f.pending:
		tok, renewable = f.complete, false
	}
	if tok == nil || tok.Requires2FA != "" {
		return nil, nil // nothing complete to revoke
	}
	access := tok.AccessToken
	if s.sessionFor(tok).state(now) == stateExpired {
		if !renewable || slices.Contains(s.ended, tok.RefreshToken) {
			return nil, nil // nothing usable: its successor, if any, reached nobody
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
		defer cancel()
		sent := s.now()
		resp, err := s.client.RefreshToken(rctx, RefreshRequest{RefreshToken: tok.RefreshToken})
		switch {
		case refused(err, http.StatusBadRequest, http.StatusUnauthorized):
			return nil, nil // the server ended the session already
		case answeredSuccess(err):
			s.endedWith(tok) // spent, its successor lost
			return nil, err
		case err != nil:
			return nil, err
		}
		base := s.replacing(tok)
		base.tok = s.tokenFromAnswer(resp, sent)
		renewed = &base
		access = resp.AccessToken
	}
	return renewed, s.client.Logout(ctx, access)
}

// pairToRevoke is the newest pair of the session: one this store holds
// unsaved, else storage's, else (storage unreadable) this store's; nil
// when storage holds none.
func (s *TokenStore) pairToRevoke(ctx context.Context) (tok *Token, renewable bool) {
	if p := s.notSaved(); p != nil {
		return p.tok, true
	}
	cur := s.cur.Load()
	if stored, err := s.storage.Load(ctx); err == nil {
		return stored, stored != nil
	}
	if cur != nil {
		return cur.tok, cur.tok != nil
	}
	return nil, false
}
