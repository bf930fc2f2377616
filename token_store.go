package userauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// TokenStore keeps one session's tokens fresh for any number of goroutines,
// and, through a shared storage that implements Locker, for any number of
// processes. It renews the access token shortly before it expires (and
// after a 401), with exactly one renewal however many callers ask, saves
// every rotated token pair before handing it out, and handles the 2FA step
// of a login or refresh.
//
// A token is in one of three states. Fresh: it is handed out, taking no
// lock and allocating nothing. Due (within the refresh skew of its
// expiry, but not expired): it is still handed out at once, and one
// renewal starts behind the callers. Expired, or of unknown expiry past a
// short trust period: callers wait for the one renewal. WithBlockingRefresh
// makes callers wait for a due token too.
//
// Expiry is judged by the token's lifetime as the server stated it,
// counted from when it was asked for, so a machine whose clock is off
// neither renews on every call nor hands out expired tokens. A pair read
// from storage before the store has heard from the server is trusted for
// five minutes at most.
//
// No goroutine of a TokenStore outlives the operation that started it: a
// renewal or 2FA step runs in one that ends with it.
type TokenStore struct {
	client  *Client
	storage TokenStorage
	locker  Locker // storage's, when it has one
	cfg     storeConfig
	relogin *relogin // WithCredentials; nil without

	snap     atomic.Pointer[snapshot] // what readers are served
	lock     chan struct{}            // one transaction of this store at a time; see engine.go
	flights  singleflight.Group       // callers asking for the same transaction share one
	renewing atomic.Bool              // a renewal behind the callers of a due token is in flight
	closed   atomic.Bool              // Shutdown was called: no new transaction starts

	// lastLink is the last magic link exchanged, and the session it made
	// (see CompleteMagicLink). Guarded by lock.
	lastLink spentLink
	note     notifier // OnTokenChange's calls, delivered after the lock is released
}

// NewTokenStore returns a store for one session, using c for the API calls
// (nil means a client for DefaultBaseURL) and storage to persist the tokens
// (nil means a new MemoryStorage). Options are applied in order; an
// invalid one makes NewTokenStore fail.
func NewTokenStore(c *Client, storage TokenStorage, opts ...StoreOption) (*TokenStore, error) {
	cfg := storeConfig{skew: DefaultRefreshSkew, timeout: DefaultRefreshTimeout, now: time.Now}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	if c == nil {
		var err error
		if c, err = NewClient(""); err != nil {
			return nil, err
		}
	}
	if storage == nil {
		storage = NewMemoryStorage()
	}
	s := &TokenStore{client: c, storage: storage, cfg: cfg, lock: make(chan struct{}, 1)}
	s.locker, _ = storage.(Locker)
	if cfg.credentials != nil {
		s.relogin = &relogin{get: cfg.credentials}
	}
	s.snap.Store(&snapshot{})
	return s, nil
}

// Client returns the Client the store calls the API with.
func (s *TokenStore) Client() *Client { return s.client }

// errNotMade is the error of every call on a TokenStore that
// NewTokenStore did not make (the zero value, say).
var errNotMade = &ValidationError{Field: "TokenStore", Reason: "was not made by NewTokenStore"}

// made returns errNotMade for a store that NewTokenStore did not make.
func (s *TokenStore) made() error {
	if s == nil || s.lock == nil {
		return errNotMade
	}
	return nil
}

// ErrStoreShutDown is returned by a TokenStore after Shutdown for any call
// that would change its session (a renewal, a login, a 2FA step, a
// logout). A fresh token is still handed out.
var ErrStoreShutDown = errors.New("userauth: token store shut down")

// Shutdown stops the store from starting any new renewal, login, 2FA step
// or logout, and waits, as long as ctx allows, for the one under way to
// end, with its rotated pair saved. Call it on a service's way out (on
// SIGTERM, say) before the process exits: a process that exits while a
// renewal's answer is on its way keeps the spent refresh token in storage,
// and whoever presents it next ends the session (the server takes reuse
// for theft). After Shutdown, those calls return ErrStoreShutDown; a fresh
// token is still handed out. A pair this store holds that storage refused
// before is written back; when storage still refuses it, Shutdown returns
// the error (the session is not in storage). When ctx ends first, Shutdown
// returns ctx's error; calling it again waits again. It is safe to call
// more than once and from several goroutines.
func (s *TokenStore) Shutdown(ctx context.Context) error {
	if err := s.made(); err != nil {
		return err
	}
	if ctx == nil {
		return errNilContext
	}
	s.closed.Store(true)
	// The lock is free once the operation holding it has ended; those
	// queued behind it see closed and start nothing.
	select {
	case s.lock <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer s.release()
	if s.snap.Load().saved() {
		return nil
	}
	// A pair storage refused is written back now, or the next process finds
	// its spending record and the session ends.
	if _, err := s.transact(context.WithoutCancel(ctx), ctx, goal{kind: goalFlush}); err != nil {
		return err
	}
	if !s.snap.Load().saved() {
		return errNotSavedYet
	}
	return nil
}

// String describes the store by the API it speaks to, never by its tokens.
func (s *TokenStore) String() string {
	if s.made() != nil {
		return "userauth.TokenStore{not made by NewTokenStore}"
	}
	return "userauth.TokenStore{" + s.client.BaseURL().String() + "}"
}

// GoString is String: %#v shows no token either.
func (s *TokenStore) GoString() string { return s.String() }

// LogValue is String, for slog.
func (s *TokenStore) LogValue() slog.Value { return slog.StringValue(s.String()) }

// AccessToken returns a complete access token that can be used now. On a
// fresh token it takes no lock and allocates nothing.
func (s *TokenStore) AccessToken(ctx context.Context) (string, error) {
	sn, err := s.usable(ctx)
	if err != nil {
		return "", err
	}
	return sn.rec.Token.AccessToken, nil
}

// Token returns a copy of the current complete token that can be used now,
// renewing it first when it has expired (see TokenStore for when callers
// wait). Its Expiry is the store's: when the access token expires by this
// machine's clock, or sooner, five minutes ahead at most, for a pair read
// from storage before the store has compared its clock with the server's;
// zero when the store cannot tell it (no exp, or an absurd one: the store
// then renews the token within five minutes). Code that keeps the token
// until a non-zero Expiry asks again in time.
//
// Errors: ErrLoginRequired when there are no tokens or the server refused
// the refresh token; a *TwoFactorRequiredError while a 2FA step is pending
// and no handler is set; the typed API or storage error when a renewal
// failed for a passing reason. When such a failure hits a token that has
// not expired yet, the token is returned instead, and a warning logged.
func (s *TokenStore) Token(ctx context.Context) (*Token, error) {
	sn, err := s.usable(ctx)
	if err != nil {
		return nil, err
	}
	return sn.token(), nil
}

// Refresh renews the tokens now, even if the access token is still fresh,
// unless another caller or process renewed them since this store last
// looked. Concurrent calls share one renewal.
func (s *TokenStore) Refresh(ctx context.Context) (*Token, error) {
	if err := s.made(); err != nil {
		return nil, err
	}
	if ctx == nil {
		return nil, errNilContext
	}
	sn, err := s.shared(ctx, goal{kind: goalForced, used: s.snap.Load().paired()})
	if err != nil {
		return nil, err
	}
	return sn.token(), nil
}

// Login signs the user in and makes the answer the store's session (see
// SetToken). When the answer asks for 2FA, the store asks the
// TwoFactorHandler for a code and completes the step; without a handler it
// saves the pending step and returns a *TwoFactorRequiredError: call
// CompleteTwoFactor with the user's code.
func (s *TokenStore) Login(ctx context.Context, req LoginRequest) (*Token, error) {
	switch {
	case s.made() != nil:
		return nil, errNotMade
	case ctx == nil:
		return nil, errNilContext
	case s.closed.Load():
		return nil, ErrStoreShutDown // before a login whose answer nobody would keep
	}
	sent := s.cfg.now()
	resp, err := s.client.Login(ctx, req)
	if err != nil {
		return nil, err
	}
	return s.adopt(ctx, resp, sent)
}

// CompleteTwoFactor completes the pending 2FA step with the user's code. On
// a complete session it renews the 2FA grace period instead (after a 424).
// A wrong code returns the API's typed 4xx error and leaves the step
// pending; a refresh token the server refuses (401) ends the session:
// ErrLoginRequired.
//
// The step spends the session's refresh token, so it runs like a renewal:
// under the store's lock and the storage's Locker (no renewal in this
// process or another can spend that token meanwhile, and the step uses the
// newest pair, even one another process just stored), and on a context of
// its own, bounded by the refresh timeout: a caller that gives up while
// the answer is on its way returns at once, and the rotated pair is still
// saved.
func (s *TokenStore) CompleteTwoFactor(ctx context.Context, code string) (*Token, error) {
	if err := s.made(); err != nil {
		return nil, err
	}
	if ctx == nil {
		return nil, errNilContext
	}
	return tokenOf(s.detached(ctx, s.run(goal{kind: goalCode, code: code})))
}

// SetToken makes a token pair obtained outside the store (a registration
// answer, a deep link, a migration from another client) the store's
// session, as Login does with its answer: saved under the storage's Locker
// before SetToken returns, and told to OnTokenChange. A pair with
// Requires2FA set becomes a pending step exactly as after Login. Its
// lifetime is counted from now, as for an answer that just arrived: give
// it a pair you just received, or let a 401 renew it.
func (s *TokenStore) SetToken(ctx context.Context, t *TokenResponse) (*Token, error) {
	switch {
	case s.made() != nil:
		return nil, errNotMade
	case ctx == nil:
		return nil, errNilContext
	case t == nil:
		return nil, &ValidationError{Field: "token", Reason: "must not be nil"}
	case t.AccessToken == "":
		return nil, &ValidationError{Field: "access_token", Reason: "is required"}
	case t.RefreshToken == "":
		return nil, &ValidationError{Field: "refresh_token", Reason: "is required"}
	case !validHeaderValue(t.AccessToken):
		return nil, &ValidationError{Field: "access_token", Reason: "holds a control character (such as CR or LF), which no HTTP header can carry", Err: ErrUnsendableToken}
	}
	// Not an answer's: a pair from elsewhere may be old, and tells nothing
	// of the server's clock now.
	return tokenOf(s.detached(ctx, s.run(goal{kind: goalAdopt, pair: tokenFrom(t, s.cfg.now())})))
}

// errNilContext is returned for a nil context.
var errNilContext = &ValidationError{Field: "ctx", Reason: "must not be nil"}

// adopt makes resp, an answer to a request sent at sent, the session.
func (s *TokenStore) adopt(ctx context.Context, resp *TokenResponse, sent time.Time) (*Token, error) {
	return tokenOf(s.detached(ctx, func(ctx, ask context.Context) (*snapshot, error) {
		return s.transact(ctx, ask, goal{kind: goalAdopt, resp: resp, sent: sent})
	}))
}

// tokenOf is the token of a transaction's snapshot.
func tokenOf(sn *snapshot, err error) (*Token, error) {
	if err != nil {
		return nil, err
	}
	return sn.token(), nil
}

// Logout ends the session, on the server and here. The server revokes
// every token of the user (Client.Logout, with the newest complete access
// token, renewed first only if it has expired and can be renewed); then
// storage is given a logged-out record, so every process sharing it is
// logged out, and none writes the session back. A pending 2FA step is
// ended without a call, unless a renewal was answered with it: the
// complete token handed out before it is then revoked.
//
// The session ends here even when the server cannot be reached or refuses:
// the error then matches ErrNotRevoked and wraps the server's, and the
// tokens may still work until they expire. When storage cannot be written,
// Logout returns its error: logged out in this process, and written at
// the next call (call Logout again). Logout holds the storage's Locker: a
// renewal in flight in another process either finishes first (its pair is
// then revoked) or finds the session logged out. Logout waits, as long as
// ctx allows, for a renewal or 2FA step of this store under way; when ctx
// ends first it returns ctx's error and changes nothing. A Login answered
// while Logout runs is saved after it; if the server revoked it, its first
// use ends in ErrLoginRequired. After a logout, a store made
// WithCredentials does not log in again by itself until Login or SetToken
// starts a session.
func (s *TokenStore) Logout(ctx context.Context) error { return s.logout(ctx, goalLogout) }

// LogoutLocal forgets the tokens, in memory and in storage, as Logout
// does, without asking the server to revoke them: they stay valid until
// they expire, for anyone who holds a copy.
func (s *TokenStore) LogoutLocal(ctx context.Context) error { return s.logout(ctx, goalLogoutLocal) }

func (s *TokenStore) logout(ctx context.Context, kind goalKind) error {
	if err := s.made(); err != nil {
		return err
	}
	if ctx == nil {
		return errNilContext
	}
	// In the caller's goroutine: the caller waits for the lock as long as
	// ctx allows, the server's call ends with ctx, and the logged-out
	// record is written whatever happened to either.
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	detached, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.timeout)
	defer cancel()
	_, err := s.transact(detached, ctx, goal{kind: kind})
	return err
}

// errLoginRequiredBy wraps the cause of an ended session.
func errLoginRequiredBy(cause error) error {
	return fmt.Errorf("%w: %w", ErrLoginRequired, cause)
}

// loginOrTwoFactorRequired reports errors that no later renewal can mend
// by itself.
func loginOrTwoFactorRequired(err error) bool {
	return errors.Is(err, ErrLoginRequired) || errors.Is(err, ErrTwoFactorRequired)
}
