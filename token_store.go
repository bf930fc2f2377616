package userauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
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
// A TokenStore starts no goroutine of its own: each renewal and 2FA step
// runs in a goroutine that ends with it.
type TokenStore struct {
	client     *Client
	storage    TokenStorage
	locker     Locker // storage's, when it has one
	handler    TwoFactorHandler
	skew       time.Duration
	timeout    time.Duration
	onChange   func(Token)
	now        func() time.Time
	failClosed bool
	blocking   bool

	cur    atomic.Pointer[session]       // nil until the storage was first read
	offset atomic.Pointer[time.Duration] // the server's clock less the store's, once an answer showed it

	// write admits one state-changing operation at a time: a renewal, a
	// login, a 2FA step, a logout. Readers never take it.
	write   chan struct{}
	unsaved *unsavedPair // a rotated pair storage refused; guarded by write
	// stepFrom is the complete pair that a renewal answered with a 2FA
	// step replaced, while that step is pending: its access token, handed
	// out before, opens the account until it expires, so Logout revokes
	// with it. Guarded by write.
	stepFrom *stepFrom
	// ended is the refresh token of the last session the server ended
	// here (refused, or spent with its answer lost). A stored pair that
	// holds it, left by a Clear that failed, is never presented again.
	// Guarded by write.
	ended string

	versions atomic.Uint64 // the last session version given (see set)
	told     atomic.Uint64 // the last session version told to onChange

	renewing   atomic.Bool // a renewal is in flight; read without mu by due callers
	mu         sync.Mutex  // guards the fields below
	flight     *flight     // the renewal in progress, if any
	failed     *failure    // the last failed renewal, for failureMemory
	lastMethod TwoFactorMethod
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
	s := &TokenStore{
		client:     c,
		storage:    storage,
		handler:    cfg.handler,
		skew:       cfg.skew,
		timeout:    cfg.timeout,
		onChange:   cfg.onChange,
		now:        cfg.now,
		failClosed: cfg.failClosed,
		blocking:   cfg.blocking,
		write:      make(chan struct{}, 1),
	}
	s.locker, _ = storage.(Locker)
	return s, nil
}

// Client returns the Client the store calls the API with.
func (s *TokenStore) Client() *Client { return s.client }

// AccessToken returns a complete access token that can be used now. On a
// fresh token it takes no lock and allocates nothing.
func (s *TokenStore) AccessToken(ctx context.Context) (string, error) {
	sess, err := s.usableSession(ctx)
	if err != nil {
		return "", err
	}
	return sess.tok.AccessToken, nil
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
	sess, err := s.usableSession(ctx)
	if err != nil {
		return nil, err
	}
	t := *sess.tok
	t.Expiry = time.Time{} // unknown
	if sess.known {
		t.Expiry = sess.expiresAt // by this store's clock
	}
	return &t, nil
}

// Refresh renews the tokens now, even if the access token is still fresh,
// unless another caller or process renewed them since this store last
// looked. Concurrent calls share one renewal.
func (s *TokenStore) Refresh(ctx context.Context) (*Token, error) {
	if ctx == nil {
		return nil, errNilContext
	}
	sess, err := s.joinOrStartRenewal(ctx, renewForced, s.cur.Load().access())
	if err != nil {
		return nil, err
	}
	t := *sess.tok
	return &t, nil
}

// Login signs the user in and makes the answer the store's session (see
// SetToken). When the answer asks for 2FA, the store asks the
// TwoFactorHandler for a code and completes the step; without a handler it
// saves the pending step and returns a *TwoFactorRequiredError: call
// CompleteTwoFactor with the user's code.
func (s *TokenStore) Login(ctx context.Context, req LoginRequest) (*Token, error) {
	if ctx == nil {
		return nil, errNilContext
	}
	sent := s.now()
	resp, err := s.client.Login(ctx, req)
	if err != nil {
		return nil, err
	}
	return s.adopt(ctx, s.tokenFromAnswer(resp, sent))
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
	if ctx == nil {
		return nil, errNilContext
	}
	return s.detached(ctx, func(ctx, _ context.Context) (*Token, bool, error) {
		return s.completeTwoFactor(ctx, code)
	})
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
	case ctx == nil:
		return nil, errNilContext
	case t == nil:
		return nil, &ValidationError{Field: "token", Reason: "must not be nil"}
	case t.AccessToken == "":
		return nil, &ValidationError{Field: "access_token", Reason: "is required"}
	case t.RefreshToken == "":
		return nil, &ValidationError{Field: "refresh_token", Reason: "is required"}
	}
	// Not tokenFromAnswer: a pair from elsewhere may be old, and tells
	// nothing of the server's clock now.
	return s.adopt(ctx, tokenFrom(t, s.now()))
}

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
	var renewed *renewedPair
	if revoke {
		renewed, revokeErr = s.revoke(ctx, held)
	}
	// The storage is cleared even when the caller's context ended during
	// the server's call.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
	defer cancel()
	if err := s.storage.Clear(cctx); err != nil {
		var saveErr error
		if renewed != nil {
			saveErr = s.save(cctx, renewed.tok, renewed.parent)
			changed = saveErr == nil || s.notSaved() != nil
		}
		if revokeErr != nil {
			revokeErr = fmt.Errorf("userauth: the server did not revoke the tokens either: %w", revokeErr)
		}
		return changed, errors.Join(err, saveErr, revokeErr)
	}
	s.unsaved = nil
	s.set(nil, saved, "")
	s.forgetFailure()
	if revokeErr != nil {
		return true, fmt.Errorf("%w: %w", ErrNotRevoked, revokeErr)
	}
	return true, nil
}

// renewedPair is a pair revoke renewed to log out with, and the refresh
// token it replaced.
type renewedPair struct {
	tok    *Token
	parent string
}

// revoke has the server revoke the session's tokens, with the access
// token of the newest pair (see pairToRevoke), renewed first when it has
// expired; renewed is that renewal's pair, nil when none ran. The renewal
// runs on a context of its own, as every spending of a refresh token does.
// When storage holds no pair, another store cleared it (a logout, or a
// pair it could not save): the pair this store held may be spent, so only
// its access token is used, while it is valid; presenting a spent refresh
// token would look like theft. So it is too when storage holds the
// pending 2FA step a renewal of this store was answered with: the complete
// token handed out before it still opens the account.
func (s *TokenStore) revoke(ctx context.Context, held *session) (renewed *renewedPair, err error) {
	now := s.now()
	tok, renewable := s.pairToRevoke(ctx)
	if f := s.stepFrom; tok != nil && f != nil && tok.RefreshToken == f.pending {
		held = s.sessionFor(f.complete)
	}
	if (tok == nil || tok.Requires2FA != "") && held != nil && held.tok != nil &&
		held.tok.Requires2FA == "" && held.state(now) != stateExpired {
		tok, renewable = held.tok, false
	}
	if tok == nil || tok.Requires2FA != "" {
		return nil, nil // nothing complete to revoke
	}
	access := tok.AccessToken
	if s.sessionFor(tok).state(now) == stateExpired {
		if !renewable {
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
			s.ended = tok.RefreshToken // spent, its successor lost
			return nil, err
		case err != nil:
			return nil, err
		}
		renewed = &renewedPair{tok: s.tokenFromAnswer(resp, sent), parent: tok.RefreshToken}
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

// errNilContext is returned for a nil context.
var errNilContext = &ValidationError{Field: "ctx", Reason: "must not be nil"}

// adopt makes tok, from an answer the caller got, the store's session, on
// a context detached from the caller's (see detached).
func (s *TokenStore) adopt(ctx context.Context, tok *Token) (*Token, error) {
	return s.detached(ctx, func(ctx, ask context.Context) (*Token, bool, error) {
		return s.adoptLocked(ctx, ask, tok)
	})
}

// detached runs op under the store's write lock on a context of its own:
// the caller's values, no cancellation, the refresh timeout. The caller
// waits for op as long as its context allows; op goes on without it, so a
// refresh token op spends is never lost halfway. ask, the context for the
// 2FA handler, also ends when the caller gives up: nothing is spent yet
// while the handler runs. op's changes are told to OnTokenChange.
func (s *TokenStore) detached(ctx context.Context, op func(ctx, ask context.Context) (*Token, bool, error)) (*Token, error) {
	if err := ctx.Err(); err != nil {
		return nil, err // given up before anything started
	}
	type result struct {
		tok *Token
		err error
	}
	done := make(chan result, 1)
	go func() {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
		defer cancel()
		tok, err := s.underWriteLock(wctx, func(octx context.Context) (*Token, bool, error) {
			ask, cancelAsk := context.WithCancel(octx)
			defer cancelAsk()
			defer context.AfterFunc(ctx, cancelAsk)()
			return op(octx, ask)
		})
		done <- result{tok, err}
	}()
	select {
	case r := <-done:
		return r.tok, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// underWriteLock runs f under the store's write lock, tells OnTokenChange
// when f reports a change, and returns a copy of f's token.
func (s *TokenStore) underWriteLock(ctx context.Context, f func(ctx context.Context) (tok *Token, changed bool, err error)) (*Token, error) {
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	tok, changed, err := f(ctx)
	s.release()
	if changed {
		s.notify()
	}
	if err != nil {
		return nil, err
	}
	t := *tok
	return &t, nil
}

// acquire takes the store's write lock. Waiting callers are served in
// the order they came (a channel's senders are), so a Logout is not
// overtaken by operations that started after it.
func (s *TokenStore) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err // select would pick a free lock over it half the time
	}
	select {
	case s.write <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *TokenStore) release() { <-s.write }

// notify tells OnTokenChange the store's current tokens (the zero Token
// when it has none), unless it was told them, or newer ones, already:
// operations that end in any order never tell it an older state after a
// newer one.
func (s *TokenStore) notify() {
	if s.onChange == nil {
		return
	}
	sess := s.cur.Load()
	for {
		last := s.told.Load()
		if sess.version <= last {
			return
		}
		if s.told.CompareAndSwap(last, sess.version) {
			break
		}
	}
	var t Token
	if sess.tok != nil {
		t = *sess.tok
	}
	s.onChange(t)
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
