package userauth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"time"
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
// to the API, until get returns others (so are credentials answered 403 or
// 423, and a login whose 2FA code was refused); the store logs in by
// itself at most once every 30 seconds, longer when the server answers 429
// with a Retry-After. Every error of a failed login still matches
// ErrLoginRequired, with its cause. After a Logout or LogoutLocal (of any
// store sharing the storage: the session is recorded as logged out) it
// does not log in again until Login or SetToken starts a session. get runs
// while the store is locked: it must honour ctx.
//
// The memory of refused credentials is the store's: replicas each try them
// once.
func WithCredentials(get func(ctx context.Context) (LoginRequest, error)) StoreOption {
	return func(c *storeConfig) error {
		if get == nil {
			return errors.New("userauth: WithCredentials: nil function")
		}
		c.credentials = get
		return nil
	}
}

// reloginInterval is the least time between two logins the store makes by
// itself: an endpoint that answers 401 to every token must not cost a login
// a request.
const reloginInterval = 30 * time.Second

// relogin is what WithCredentials adds to a store. Guarded by the store's
// lock.
type relogin struct {
	get       func(ctx context.Context) (LoginRequest, error)
	last      [sha256.Size]byte // of the credentials of the last login
	refused   [sha256.Size]byte // of the credentials refused (or whose 2FA step was); zero for none
	notBefore time.Time         // no login before: reloginInterval after the last, or a 429's Retry-After
}

// loginAgain logs in with the store's credentials, for a transaction that
// found no session (see WithCredentials), and returns the answer's pair.
// Its errors match ErrLoginRequired, with the cause.
func (s *TokenStore) loginAgain(t *txn) (*Token, error) {
	pair, err := s.relogin.login(t)
	if err != nil && !errors.Is(err, ErrLoginRequired) {
		err = fmt.Errorf("%w (logging in again: %w)", ErrLoginRequired, err)
	}
	return pair, err
}

func (r *relogin) login(t *txn) (*Token, error) {
	s := t.s
	req, err := r.credentials(t.ctx)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(req.Email + "\x00" + req.AlternateID + "\x00" + req.Password))
	switch {
	case sum == r.refused:
		return nil, fmt.Errorf("%w: the same credentials as last time", ErrInvalidCredentials)
	case s.cfg.now().Before(r.notBefore):
		return nil, fmt.Errorf("not before %s (the last login was less than %v ago, or the server asked to wait)",
			r.notBefore.UTC().Format(time.RFC3339), reloginInterval)
	}
	r.notBefore, r.last = s.cfg.now().Add(reloginInterval), sum
	sent := s.cfg.now()
	resp, err := s.client.Login(t.ctx, req)
	var ae *APIError
	switch {
	case err == nil:
		r.refused = [sha256.Size]byte{}
		return t.fromAnswer(resp, sent), nil
	case errors.As(err, &ae) && ae.StatusCode == http.StatusTooManyRequests:
		r.notBefore = s.cfg.now().Add(max(ae.RetryAfter, reloginInterval))
	case errors.As(err, &ae) && ae.StatusCode >= 400 && ae.StatusCode < 500 && ae.StatusCode != http.StatusRequestTimeout:
		r.refused = sum // wrong, locked, forbidden: the same credentials will not do
	}
	return nil, err
}

// codeRefused records that the 2FA step of the last login was refused: a
// new login with the same credentials would ask again.
func (r *relogin) codeRefused() { r.refused = r.last }

// credentials asks get for them; a panic in get is its error, not the
// process's end (get runs in the renewal's goroutine).
func (r *relogin) credentials(ctx context.Context) (req LoginRequest, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = errors.New("the credentials function panicked")
		}
	}()
	req, err = r.get(ctx)
	if err != nil {
		return req, fmt.Errorf("the credentials: %w", err)
	}
	return req, nil
}
