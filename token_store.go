package userauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Defaults of a TokenStore made without options.
const (
	// DefaultRefreshSkew is how long before the access token's expiry the
	// store refreshes it.
	DefaultRefreshSkew = 30 * time.Second
	// DefaultRefreshTimeout bounds one refresh (lock, refresh call, 2FA
	// step, save), whatever the contexts of the callers waiting for it.
	DefaultRefreshTimeout = 30 * time.Second
)

// unknownExpiryLifetime is how long the store trusts an access token whose
// expiry it cannot read before refreshing it anyway. A 401 refreshes it
// sooner.
const unknownExpiryLifetime = 5 * time.Minute

// failureMemory is how long a failed refresh is handed to new callers
// before another is tried, so that a failing server is not hammered.
const failureMemory = time.Second

// Token is one session's tokens, as a TokenStore keeps and saves them.
type Token struct {
	// AccessToken is the bearer token for API calls.
	AccessToken string `json:"access_token"`
	// RefreshToken renews the access token; it rotates on every refresh.
	RefreshToken string `json:"refresh_token"`
	// Requires2FA is non-empty while a 2FA step is pending: the access
	// token is then partial, and a TokenStore never hands it out.
	Requires2FA TwoFactorMethod `json:"requires_2fa,omitempty"`
	// Expiry is the access token's JWT "exp" claim; zero when unknown.
	Expiry time.Time `json:"expiry"`
}

// Valid reports whether t is complete (an access token, no 2FA step
// pending) and not known to be expired. It is false for a nil token.
func (t *Token) Valid() bool {
	return t != nil && t.AccessToken != "" && t.Requires2FA == "" &&
		(t.Expiry.IsZero() || time.Now().Before(t.Expiry))
}

// String formats t with both tokens redacted.
func (t Token) String() string {
	exp := "unknown"
	if !t.Expiry.IsZero() {
		exp = t.Expiry.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("userauth.Token{AccessToken:%s, RefreshToken:%s, Requires2FA:%q, Expiry:%s}",
		secret(t.AccessToken), secret(t.RefreshToken), t.Requires2FA, exp)
}

// GoString is like String; it keeps %#v from printing the tokens.
func (t Token) GoString() string { return t.String() }

// LogValue implements slog.LogValuer with the tokens redacted.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(
		secretAttr("access_token", t.AccessToken),
		secretAttr("refresh_token", t.RefreshToken),
		slog.String("requires_2fa", string(t.Requires2FA)),
		slog.Time("expiry", t.Expiry),
	)
}

// tokenFrom turns an API answer into a Token, reading the expiry from the
// access token.
func tokenFrom(r *TokenResponse) *Token {
	return &Token{
		AccessToken:  r.AccessToken,
		RefreshToken: r.RefreshToken,
		Requires2FA:  r.Requires2FA,
		Expiry:       jwtExpiry(r.AccessToken),
	}
}

// jwtExpiry reads the "exp" claim of a JWT without verifying its signature:
// the value only schedules refreshes, the server still checks the token.
// It returns the zero time when the token is not a JWT or has no exp.
func jwtExpiry(access string) time.Time {
	var claims jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(access, &claims); err != nil || claims.ExpiresAt == nil {
		return time.Time{}
	}
	return claims.ExpiresAt.Time
}

// TwoFactorHandler supplies a 2FA code when the store needs one: after a
// login or refresh whose answer asked for 2FA, or when the 2FA grace period
// has expired (424). method is the kind of code asked for; for a grace
// period renewal it is the method of the last 2FA step the store saw, or ""
// when it saw none. It runs under the store's refresh timeout.
type TwoFactorHandler func(ctx context.Context, method TwoFactorMethod) (code string, err error)

// StoreOption configures a TokenStore.
type StoreOption func(*storeConfig) error

type storeConfig struct {
	failClosed bool
	handler    TwoFactorHandler
	skew       time.Duration
	timeout    time.Duration
	onChange   func(Token)
	now        func() time.Time
}

// WithTwoFactorHandler lets the store complete 2FA steps by itself, asking
// h for the code once per step. Without it, a pending step makes Token
// return a *TwoFactorRequiredError until CompleteTwoFactor is called.
func WithTwoFactorHandler(h TwoFactorHandler) StoreOption {
	return func(c *storeConfig) error {
		if h == nil {
			return errors.New("userauth: WithTwoFactorHandler: nil handler")
		}
		c.handler = h
		return nil
	}
}

// WithRefreshSkew sets how long before the access token expires the store
// refreshes it (default DefaultRefreshSkew). For short-lived tokens the
// skew is capped at half the token's lifetime.
func WithRefreshSkew(d time.Duration) StoreOption {
	return func(c *storeConfig) error {
		if d < 0 {
			return fmt.Errorf("userauth: WithRefreshSkew: negative skew %v", d)
		}
		c.skew = d
		return nil
	}
}

// WithRefreshTimeout bounds one refresh, including waiting for the storage
// lock and the 2FA handler (default DefaultRefreshTimeout).
func WithRefreshTimeout(d time.Duration) StoreOption {
	return func(c *storeConfig) error {
		if d <= 0 {
			return fmt.Errorf("userauth: WithRefreshTimeout: %v is not positive", d)
		}
		c.timeout = d
		return nil
	}
}

// WithOnTokenChange calls f after every login, refresh, 2FA step and
// logout of this store (with the zero Token after a logout), once the new
// tokens are saved. f runs synchronously and must be quick; it may call the
// store.
func WithOnTokenChange(f func(Token)) StoreOption {
	return func(c *storeConfig) error {
		if f == nil {
			return errors.New("userauth: WithOnTokenChange: nil function")
		}
		c.onChange = f
		return nil
	}
}

// WithFailClosed makes the store fail, rather than carry on alone, when its
// storage reports ErrStorageUnavailable (a shared cache that cannot be
// reached). By default the store then keeps serving a valid token it holds,
// refreshes under its own in-process single flight, and keeps new tokens in
// memory until the storage returns, logging a warning each time. That keeps
// a service up, at a risk: other processes that cannot see this one's
// refresh may present the spent refresh token, which the server treats as
// theft, ending the session for all. Fail closed when an outage is better
// than that risk.
func WithFailClosed() StoreOption {
	return func(c *storeConfig) error {
		c.failClosed = true
		return nil
	}
}

// WithClock replaces time.Now for expiry decisions; for tests.
func WithClock(now func() time.Time) StoreOption {
	return func(c *storeConfig) error {
		if now == nil {
			return errors.New("userauth: WithClock: nil clock")
		}
		c.now = now
		return nil
	}
}

// TokenStore keeps one session's tokens fresh for any number of goroutines,
// and, through a shared storage that implements Locker, for any number of
// processes. It refreshes the access token shortly before its JWT expiry
// (and after a 401), with exactly one refresh call however many callers
// ask, saves every rotated token pair before handing it out, and handles
// the 2FA step of a login or refresh. Reading a valid token takes no lock
// and allocates nothing.
//
// A TokenStore starts no background goroutine: refreshes happen on demand,
// each in a goroutine that ends with it.
type TokenStore struct {
	client     *Client
	storage    TokenStorage
	locker     Locker
	handler    TwoFactorHandler
	skew       time.Duration
	timeout    time.Duration
	onChange   func(Token)
	now        func() time.Time
	failClosed bool

	cur atomic.Pointer[session] // nil until the storage was first read

	// write admits one state-changing operation at a time: a refresh,
	// a login, a 2FA step, a logout. Readers never take it.
	write chan struct{}

	mu         sync.Mutex // guards the fields below
	flight     *flight    // the renewal in progress, if any
	failed     *failure   // the last failed renewal, for failureMemory
	lastMethod TwoFactorMethod
}

// session is an immutable snapshot of the store's tokens.
type session struct {
	tok       *Token // nil: no tokens
	bearer    string // "Bearer " + tok.AccessToken
	refreshAt time.Time
	save      saveState
}

// saveState says whether storage holds a session's tokens.
type saveState uint8

const (
	saved   saveState = iota
	unsaved           // storage refused them: not handed out until saved
	lagging           // storage unavailable: handed out, saved when it returns
)

// fresh reports whether the session's access token can be handed out now
// without a renewal.
func (s *session) fresh(now time.Time) bool {
	return s != nil && s.tok != nil && s.tok.Requires2FA == "" && s.save == saved && now.Before(s.refreshAt)
}

// usable reports whether the access token is complete, saved and known not
// to have expired yet, even if it is due for a refresh.
func (s *session) usable(now time.Time) bool {
	return s != nil && s.tok != nil && s.tok.Requires2FA == "" && s.save != unsaved &&
		!s.tok.Expiry.IsZero() && now.Before(s.tok.Expiry)
}

type flight struct {
	done chan struct{}
	tok  *Token
	err  error
}

type failure struct {
	err   error
	until time.Time
}

// renewal kinds.
type renewKind int

const (
	renewDue    renewKind = iota // the token is due: adopt any newer one, else refresh
	renewForced                  // refresh unless a newer token than stale exists
	renewStepUp                  // 2FA step unless a newer token than stale exists
)

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
		write:      make(chan struct{}, 1),
	}
	s.locker, _ = storage.(Locker)
	return s, nil
}

// Client returns the Client the store calls the API with.
func (s *TokenStore) Client() *Client { return s.client }

// AccessToken returns a complete, fresh access token, renewing it first
// when it is due. It is the fast path: on a valid token it takes no lock and
// allocates nothing.
func (s *TokenStore) AccessToken(ctx context.Context) (string, error) {
	if sess := s.cur.Load(); sess.fresh(s.now()) {
		return sess.tok.AccessToken, nil
	}
	sess, err := s.slow(ctx)
	if err != nil {
		return "", err
	}
	return sess.tok.AccessToken, nil
}

// Token returns a copy of the current complete, fresh token, renewing it
// first when it is due.
//
// Errors: ErrLoginRequired when there are no tokens or the refresh token
// was rejected; a *TwoFactorRequiredError while a 2FA step is pending and no
// handler is set; the typed API or storage error when a renewal failed for
// a passing reason. When such a failure hits a token that is due but not
// yet expired, the token is returned instead, and a warning logged.
func (s *TokenStore) Token(ctx context.Context) (*Token, error) {
	sess := s.cur.Load()
	if !sess.fresh(s.now()) {
		var err error
		if sess, err = s.slow(ctx); err != nil {
			return nil, err
		}
	}
	t := *sess.tok
	return &t, nil
}

// slow renews the token, or joins the renewal in progress.
func (s *TokenStore) slow(ctx context.Context) (*session, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	sess := s.cur.Load()
	if sess.fresh(s.now()) {
		// Renewed since the caller looked. Without this, stale below would
		// name the new token and trigger a renewal of a fresh one.
		return sess, nil
	}
	if sess != nil && sess.tok != nil && sess.tok.Requires2FA != "" && s.handler == nil && sess.save == saved {
		return nil, &TwoFactorRequiredError{Method: sess.tok.Requires2FA}
	}
	got, err := s.share(ctx, renewDue, sess.access())
	if err == nil {
		return got, nil
	}
	if ctx.Err() == nil && !errors.Is(err, ErrLoginRequired) && !errors.Is(err, ErrTwoFactorRequired) &&
		sess.usable(s.now()) && s.cur.Load() == sess {
		return sess, nil // fly logged the failure, once for all callers
	}
	return nil, err
}

func (s *session) access() string {
	if s == nil || s.tok == nil {
		return ""
	}
	return s.tok.AccessToken
}

// Refresh renews the tokens now, even if the access token is still fresh,
// unless another caller or process renewed them since this store last
// looked. Concurrent calls share one refresh.
func (s *TokenStore) Refresh(ctx context.Context) (*Token, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	sess, err := s.share(ctx, renewForced, s.cur.Load().access())
	if err != nil {
		return nil, err
	}
	t := *sess.tok
	return &t, nil
}

// renewAfter returns a token other than stale, which the server just
// refused: the current one when it differs, else the result of one shared
// renewal of the given kind.
func (s *TokenStore) renewAfter(ctx context.Context, kind renewKind, stale string) (*session, error) {
	if sess := s.cur.Load(); sess.fresh(s.now()) && sess.tok.AccessToken != stale {
		return sess, nil
	}
	return s.share(ctx, kind, stale)
}

// share joins the renewal in progress or starts one, then waits for it as
// long as ctx allows. The renewal itself runs on a context of its own
// (ctx's values, no cancellation, the refresh timeout), so a caller that
// gives up never cancels it for the others, and a rotated refresh token is
// never lost halfway.
func (s *TokenStore) share(ctx context.Context, kind renewKind, stale string) (*session, error) {
	s.mu.Lock()
	f := s.flight
	if f == nil {
		// A renewal may have ended between the caller's look and now.
		if sess := s.cur.Load(); sess.fresh(s.now()) && sess.tok.AccessToken != stale {
			s.mu.Unlock()
			return sess, nil
		}
		if fl := s.failed; fl != nil && time.Now().Before(fl.until) {
			s.mu.Unlock()
			return nil, fl.err
		}
		f = &flight{done: make(chan struct{})}
		s.flight = f
		go s.fly(context.WithoutCancel(ctx), f, kind, stale)
	}
	s.mu.Unlock()
	select {
	case <-f.done:
		if f.err != nil {
			return nil, f.err
		}
		return s.sessionFor(f.tok), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// sessionFor returns the current session when it holds tok, else a new
// one; it spares building a session for every waiter.
func (s *TokenStore) sessionFor(tok *Token) *session {
	if sess := s.cur.Load(); sess != nil && sess.tok == tok {
		return sess
	}
	return s.newSession(tok, saved)
}

func (s *TokenStore) fly(ctx context.Context, f *flight, kind renewKind, stale string) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	tok, changed, err := s.renew(ctx, kind, stale)
	cancel()

	s.mu.Lock()
	s.flight = nil
	s.failed = nil
	if err != nil && !errors.Is(err, ErrTwoFactorRequired) {
		s.failed = &failure{err: err, until: time.Now().Add(failureMemory)}
	}
	s.mu.Unlock()
	if err != nil && !errors.Is(err, ErrLoginRequired) && !errors.Is(err, ErrTwoFactorRequired) && s.cur.Load().usable(s.now()) {
		s.warn(ctx, "userauth: token renewal failed; callers keep the current token until it expires", err)
	}

	if changed {
		s.notify(s.cur.Load().tok)
	}
	f.tok, f.err = tok, err
	close(f.done)
}

// renew brings the tokens up to date, under the store's write lock and the
// storage's Locker when it has one. changed reports that it got new tokens
// from the server (or lost them).
func (s *TokenStore) renew(ctx context.Context, kind renewKind, stale string) (tok *Token, changed bool, err error) {
	// A storage that is unavailable (ErrStorageUnavailable) degrades the
	// store to this process's own single flight, unless WithFailClosed.
	if err := s.acquire(ctx); err != nil {
		return nil, false, err
	}
	defer s.release()

	// A rotated pair that storage did not take goes there first: it holds
	// the only good refresh token.
	cur := s.cur.Load()
	degraded := false
	if cur != nil && cur.save != saved {
		err := s.storage.Save(ctx, cur.tok)
		switch {
		case err == nil:
			sess := s.set(cur.tok, saved)
			if cur.tok.Requires2FA != "" {
				return s.secondFactor(ctx, cur.tok)
			}
			if sess.fresh(s.now()) || kind == renewStepUp {
				return cur.tok, cur.save == unsaved, nil
			}
		case s.degradable(err) && !cur.usable(s.now()):
			degraded = true // expired: refresh without storage
		default:
			return nil, false, fmt.Errorf("userauth: saving tokens: %w", err)
		}
	}

	if !degraded {
		unlock, err := s.lockStorage(ctx, "refreshing")
		if err != nil {
			return nil, false, err
		}
		defer unlock()
	}

	var stored *Token
	if degraded {
		stored = cur.tok
	} else if stored, err = s.storage.Load(ctx); err != nil {
		if !s.degradable(err) || cur.access() == "" {
			return nil, false, fmt.Errorf("userauth: loading tokens: %w", err)
		}
		s.warn(ctx, "userauth: shared storage unavailable; renewing the tokens this process holds", err)
		stored = cur.tok
	}
	if stored == nil {
		hadTokens := s.cur.Load().access() != ""
		s.set(nil, saved)
		return nil, hadTokens, ErrLoginRequired
	}
	if stored.Requires2FA != "" {
		s.set(stored, saved)
		return s.secondFactor(ctx, stored)
	}
	if stored.AccessToken != stale && (kind == renewDue || stale != "") {
		// Renewed by another process or call since the caller looked.
		if sess := s.set(stored, saved); sess.fresh(s.now()) || kind == renewStepUp {
			return stored, false, nil
		}
	}
	if kind == renewStepUp {
		return s.secondFactor(ctx, stored)
	}
	return s.refreshWith(ctx, stored)
}

// lockStorage takes the storage's Locker, when it has one, for doing (a
// phrase for the warning). When the storage is unavailable and the store
// may degrade, it warns and goes on under this process's lock alone.
func (s *TokenStore) lockStorage(ctx context.Context, doing string) (unlock func(), err error) {
	if s.locker == nil {
		return func() {}, nil
	}
	unlock, err = s.locker.Lock(ctx)
	switch {
	case err == nil:
		return unlock, nil
	case s.degradable(err):
		s.warn(ctx, "userauth: shared storage unavailable; "+doing+" under this process's lock only, which other processes cannot see", err)
		return func() {}, nil
	default:
		return nil, fmt.Errorf("userauth: locking token storage: %w", err)
	}
}

// refreshWith spends stored's refresh token.
func (s *TokenStore) refreshWith(ctx context.Context, stored *Token) (*Token, bool, error) {
	resp, err := s.client.RefreshToken(ctx, RefreshRequest{RefreshToken: stored.RefreshToken})
	if err != nil {
		if !refreshRejected(err) {
			return nil, false, err // passing trouble: keep the tokens
		}
		// Another process may have rotated the token just before us.
		if again, lerr := s.storage.Load(ctx); lerr == nil && again != nil && again.RefreshToken != stored.RefreshToken {
			s.set(again, saved)
			if again.Requires2FA != "" {
				return s.secondFactor(ctx, again)
			}
			return again, false, nil
		}
		if cerr := s.storage.Clear(ctx); cerr != nil {
			s.warn(ctx, "userauth: clearing rejected tokens failed", cerr)
		}
		s.set(nil, saved)
		return nil, true, fmt.Errorf("%w: refresh token rejected: %w", ErrLoginRequired, err)
	}
	tok := tokenFrom(resp)
	if err := s.save(ctx, tok); err != nil {
		return nil, false, err
	}
	if tok.Requires2FA != "" {
		return s.secondFactor(ctx, tok)
	}
	return tok, true, nil
}

// refreshRejected reports a refresh the server refused for good: the
// refresh token is unknown, spent or revoked.
func refreshRejected(err error) bool {
	var ce *ClientError
	return errors.As(err, &ce) && (ce.StatusCode == http.StatusBadRequest || ce.StatusCode == http.StatusUnauthorized)
}

// secondFactor completes a 2FA step for pending (a token whose answer asked
// for 2FA, or a complete one whose grace period expired) with a code from
// the handler. A wrong code leaves the step pending.
func (s *TokenStore) secondFactor(ctx context.Context, pending *Token) (*Token, bool, error) {
	method := pending.Requires2FA
	s.mu.Lock()
	if method != "" {
		s.lastMethod = method
	} else {
		method = s.lastMethod
	}
	s.mu.Unlock()
	if s.handler == nil {
		if pending.Requires2FA == "" {
			return nil, false, ErrTwoFactorExpired
		}
		return nil, false, &TwoFactorRequiredError{Method: method}
	}
	code, err := s.handler(ctx, method)
	if err != nil {
		return nil, false, fmt.Errorf("userauth: two-factor handler: %w", err)
	}
	resp, err := s.client.TwoFactorAuthentication(ctx, Confirm2FA{Code: code, RefreshToken: pending.RefreshToken})
	if err != nil {
		return nil, false, err
	}
	tok := tokenFrom(resp)
	if err := s.save(ctx, tok); err != nil {
		return nil, false, err
	}
	if tok.Requires2FA != "" {
		return nil, true, &TwoFactorRequiredError{Method: tok.Requires2FA}
	}
	return tok, true, nil
}

// save persists tok and makes it current. When storage refuses it, tok is
// kept in memory so its refresh token is not lost: marked unsaved, it is
// not handed out until a later save succeeds; but when the storage is only
// unavailable and the store may degrade, it is handed out (lagging), and
// saved again at each renewal until storage takes it.
func (s *TokenStore) save(ctx context.Context, tok *Token) error {
	err := s.storage.Save(ctx, tok)
	switch {
	case err == nil:
		s.set(tok, saved)
	case s.degradable(err):
		s.set(tok, lagging)
		s.warn(ctx, "userauth: shared storage unavailable; new tokens kept in this process until it returns", err)
	default:
		s.set(tok, unsaved)
		return fmt.Errorf("userauth: saving tokens: %w", err)
	}
	return nil
}

// degradable reports a storage error the store may work around.
func (s *TokenStore) degradable(err error) bool {
	return !s.failClosed && errors.Is(err, ErrStorageUnavailable)
}

// set publishes a new session for tok.
func (s *TokenStore) set(tok *Token, st saveState) *session {
	sess := s.newSession(tok, st)
	s.cur.Store(sess)
	return sess
}

func (s *TokenStore) newSession(tok *Token, st saveState) *session {
	sess := &session{tok: tok, save: st}
	if tok == nil {
		return sess
	}
	sess.bearer = "Bearer " + tok.AccessToken
	now := s.now()
	if tok.Expiry.IsZero() {
		sess.refreshAt = now.Add(unknownExpiryLifetime)
		return sess
	}
	skew := s.skew
	if half := tok.Expiry.Sub(now) / 2; skew > half {
		skew = max(half, 0)
	}
	sess.refreshAt = tok.Expiry.Add(-skew)
	return sess
}

// Login signs the user in and saves the tokens. When the answer asks for
// 2FA, the store asks the TwoFactorHandler for a code and completes the
// step; without a handler it saves the pending step and returns a
// *TwoFactorRequiredError: call CompleteTwoFactor with the user's code.
func (s *TokenStore) Login(ctx context.Context, req LoginRequest) (*Token, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	resp, err := s.client.Login(ctx, req)
	if err != nil {
		return nil, err
	}
	return s.adopt(ctx, tokenFrom(resp))
}

// CompleteTwoFactor completes the pending 2FA step with the user's code. On
// a complete session it renews the 2FA grace period instead (after a 424).
// A wrong code returns the API's typed 4xx error and leaves the step
// pending.
//
// The step spends the session's refresh token, so it runs under the same
// locks as a renewal (the store's, and the storage's Locker): no renewal in
// this process or another can spend that token meanwhile, and the step
// uses the newest pair, even one another process just stored.
func (s *TokenStore) CompleteTwoFactor(ctx context.Context, code string) (*Token, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	return s.locked(ctx, func() (*Token, bool, error) { return s.completeTwoFactor(ctx, code) })
}

// locked runs f under the store's write lock, tells OnTokenChange when f
// reports a change, and returns a copy of f's token.
func (s *TokenStore) locked(ctx context.Context, f func() (tok *Token, changed bool, err error)) (*Token, error) {
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	tok, changed, err := f()
	s.release()
	if changed {
		s.notify(s.cur.Load().tok)
	}
	if err != nil {
		return nil, err
	}
	t := *tok
	return &t, nil
}

// completeTwoFactor is CompleteTwoFactor under the store's write lock.
// changed reports that the server's answer was stored.
func (s *TokenStore) completeTwoFactor(ctx context.Context, code string) (tok *Token, changed bool, err error) {
	unlock, err := s.lockStorage(ctx, "completing 2FA")
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	// The pair to spend: one that storage did not take yet is the newest;
	// otherwise what storage holds now.
	var pending *Token
	if cur := s.cur.Load(); cur != nil && cur.save != saved {
		pending = cur.tok
	} else {
		stored, err := s.storage.Load(ctx)
		switch {
		case err == nil:
			pending = stored
			s.set(stored, saved)
		case s.degradable(err) && cur != nil && cur.tok != nil:
			s.warn(ctx, "userauth: shared storage unavailable; completing 2FA with the tokens this process holds", err)
			pending = cur.tok
		default:
			return nil, false, fmt.Errorf("userauth: loading tokens: %w", err)
		}
	}
	if pending == nil {
		return nil, false, ErrLoginRequired
	}
	if pending.Requires2FA != "" {
		s.mu.Lock()
		s.lastMethod = pending.Requires2FA
		s.mu.Unlock()
	}
	resp, err := s.client.TwoFactorAuthentication(ctx, Confirm2FA{Code: code, RefreshToken: pending.RefreshToken})
	if err != nil {
		return nil, false, err
	}
	return s.adoptLocked(ctx, tokenFrom(resp))
}

// adopt saves tokens the caller got from the server (a login or a 2FA
// step) and runs the 2FA step they may ask for.
func (s *TokenStore) adopt(ctx context.Context, tok *Token) (*Token, error) {
	return s.locked(ctx, func() (*Token, bool, error) { return s.adoptLocked(ctx, tok) })
}

// adoptLocked is adopt under the store's write lock. changed reports that
// tok was stored (then the 2FA step it asked for may still have failed).
func (s *TokenStore) adoptLocked(ctx context.Context, tok *Token) (_ *Token, changed bool, err error) {
	s.mu.Lock()
	s.failed = nil
	s.mu.Unlock()
	if err := s.save(ctx, tok); err != nil {
		return nil, false, err
	}
	if tok.Requires2FA != "" {
		full, _, err := s.secondFactor(ctx, tok)
		if err != nil {
			return nil, true, err
		}
		tok = full
	}
	return tok, true, nil
}

// Logout forgets the tokens, in memory and in storage (so every process
// sharing the storage is logged out). It waits for a renewal in progress,
// so that it cannot bring the tokens back.
func (s *TokenStore) Logout(ctx context.Context) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if err := s.acquire(ctx); err != nil {
		return err
	}
	err := s.storage.Clear(ctx)
	s.set(nil, saved)
	s.mu.Lock()
	s.failed = nil
	s.mu.Unlock()
	s.release()
	s.notify(nil)
	if err != nil {
		return fmt.Errorf("userauth: clearing tokens: %w", err)
	}
	return nil
}

func (s *TokenStore) acquire(ctx context.Context) error {
	select {
	case s.write <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *TokenStore) release() { <-s.write }

func (s *TokenStore) check(ctx context.Context) error {
	if ctx == nil {
		return &ValidationError{Field: "ctx", Reason: "must not be nil"}
	}
	return nil
}

func (s *TokenStore) notify(tok *Token) {
	if s.onChange == nil {
		return
	}
	var t Token
	if tok != nil {
		t = *tok
	}
	s.onChange(t)
}

func (s *TokenStore) warn(ctx context.Context, msg string, err error) {
	if l := s.client.logger; l != nil {
		l.LogAttrs(ctx, slog.LevelWarn, msg, slog.String("error", err.Error()))
	}
}
