package userauth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"strings"
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
// No goroutine of a TokenStore outlives the operation that started it: a
// renewal or 2FA step runs in one that ends with it.
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
	authPath   string   // the API's /auth/ path, cleaned, never sent a bearer
	relogin    *relogin // WithCredentials; nil without
	// lastLink is the hash of the refresh token of the last magic link
	// exchanged (see CompleteMagicLink). Guarded by write.
	lastLink [sha256.Size]byte

	cur    atomic.Pointer[session]       // nil until the storage was first read
	offset atomic.Pointer[time.Duration] // the server's clock less the store's, once an answer showed it

	// write admits one state-changing operation at a time: a renewal, a
	// login, a 2FA step, a logout. Readers never take it.
	write   chan struct{}
	closed  atomic.Bool  // Shutdown was called: no new state-changing operation starts
	unsaved *unsavedPair // a rotated pair storage refused; guarded by write
	// stepFrom is the complete pair that a renewal answered with a 2FA
	// step replaced, while that step is pending: its access token, handed
	// out before, opens the account until it expires, so Logout revokes
	// with it. Guarded by write.
	stepFrom *stepFrom
	// ended are the refresh tokens of the last session the server ended
	// here (refused, or spent with its answer lost), and of the pair it
	// replaced when storage never took it. A stored pair that holds one,
	// left by a Clear that failed, is never presented again. Guarded by
	// write.
	ended []string

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
		authPath:   strings.TrimSuffix(cleanPath(c.baseURL.Path), "/") + "/auth/",
	}
	s.locker, _ = storage.(Locker)
	if cfg.credentials != nil {
		s.relogin = &relogin{get: cfg.credentials}
	}
	return s, nil
}

// Client returns the Client the store calls the API with.
func (s *TokenStore) Client() *Client { return s.client }

// errNotMade is the error of every call on a TokenStore that
// NewTokenStore did not make (the zero value, say).
var errNotMade = &ValidationError{Field: "TokenStore", Reason: "was not made by NewTokenStore"}

// made returns errNotMade for a store that NewTokenStore did not make.
func (s *TokenStore) made() error {
	if s == nil || s.write == nil {
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
// token is still handed out. When ctx ends first, Shutdown returns ctx's
// error; calling it again waits again. It is safe to call more than once
// and from several goroutines.
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
	case s.write <- struct{}{}:
		s.release()
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
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
	return sess.token(), nil
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
	sess, err := s.joinOrStartRenewal(ctx, renewForced, s.cur.Load().access())
	if err != nil {
		return nil, err
	}
	return sess.token(), nil
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
	if err := s.made(); err != nil {
		return nil, err
	}
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
	// Not tokenFromAnswer: a pair from elsewhere may be old, and tells
	// nothing of the server's clock now.
	return s.adopt(ctx, tokenFrom(t, s.now()))
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
// waits for op as long as its context allows; op, once it has started,
// goes on without it, so a refresh token op spends is never lost halfway
// (an op the caller gave up on while it waited for the lock does not
// start). ask, the context for the
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
			if err := ctx.Err(); err != nil {
				return nil, false, err // given up while op waited for the lock: nothing started
			}
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
	case <-ctx.Done():
		return ctx.Err()
	}
	if s.closed.Load() {
		s.release()
		return ErrStoreShutDown
	}
	return nil
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
