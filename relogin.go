package userauth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
)

// WithCredentials lets the store log in again by itself when its session
// ends at run time (the server refused the refresh token: the session was
// revoked, logged out elsewhere, or reuse was detected), for a service that
// holds its account's credentials. get is asked for them each time, so that
// a rotated password is picked up; a 2FA step the login asks for is taken
// by the TwoFactorHandler (see TOTPHandler).
//
// The login runs as the renewal that found the session ended, under the
// store's lock and the storage's Locker: every caller waiting for that
// renewal shares one login, and replicas sharing a Locker log in once (the
// others find its session in storage). Credentials the server refused are
// not sent again: every caller gets ErrInvalidCredentials, without a call
// to the API, until get returns others; other failures are remembered
// like a failed renewal's, so a login is tried at most once a second. After
// this store's own Logout or LogoutLocal it does not log in again until
// Login or SetToken starts a session.
func WithCredentials(get func(ctx context.Context) (LoginRequest, error)) StoreOption {
	return func(c *storeConfig) error {
		if get == nil {
			return errors.New("userauth: WithCredentials: nil function")
		}
		c.credentials = get
		return nil
	}
}

// relogin is what WithCredentials adds to a store. Guarded by the store's
// write lock.
type relogin struct {
	get     func(ctx context.Context) (LoginRequest, error)
	refused [sha256.Size]byte // of the credentials the server refused; zero for none
	paused  bool              // this store logged out: no login until a new session
}

// loginAgain logs in with the store's credentials, under the renewal's
// locks (see WithCredentials), and makes the answer the session.
func (s *TokenStore) loginAgain(ctx context.Context, ended error) (*Token, bool, error) {
	r := s.relogin
	if r == nil || r.paused {
		return nil, false, ended
	}
	req, err := r.get(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("userauth: logging in again: the credentials: %w", err)
	}
	sum := sha256.Sum256([]byte(req.Email + "\x00" + req.AlternateID + "\x00" + req.Password))
	if sum == r.refused {
		return nil, false, fmt.Errorf("userauth: logging in again: %w (the same credentials as last time)", ErrInvalidCredentials)
	}
	sent := s.now()
	resp, err := s.client.Login(ctx, req)
	if errors.Is(err, ErrInvalidCredentials) {
		r.refused = sum
	}
	if err != nil {
		return nil, false, err
	}
	r.refused = [sha256.Size]byte{}
	return s.adoptHeld(ctx, ctx, s.tokenFromAnswer(resp, sent))
}
