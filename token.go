package userauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Defaults of a TokenStore made without options.
const (
	// DefaultRefreshSkew is how long before the access token's expiry the
	// store starts renewing it.
	DefaultRefreshSkew = 30 * time.Second
	// DefaultRefreshTimeout bounds one renewal or 2FA step (lock, API
	// calls, 2FA handler, save), whatever the contexts of the callers
	// waiting for it.
	DefaultRefreshTimeout = 30 * time.Second
)

// unknownExpiryLifetime is how long the store trusts an access token whose
// expiry it cannot tell before renewing it anyway. A 401 renews it sooner.
const unknownExpiryLifetime = 5 * time.Minute

// maxTrustedLifetime is the longest lifetime of an access token the store
// believes. An exp further ahead is a mistake or a "never expires"
// sentinel (9999-12-31), while the server may still expire the token: it
// is an unknown expiry.
const maxTrustedLifetime = 366 * 24 * time.Hour

// failureMemory is how long a failed renewal is handed to new callers
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
	// Expiry is when the access token expires, by this machine's clock:
	// the token's lifetime as the server stated it, counted from when it
	// was asked for, so a local clock that is off does not matter. Zero
	// when unknown.
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
		slog.String("requires_2fa", t.Requires2FA.String()),
		slog.Time("expiry", t.Expiry),
	)
}

// tokenFrom turns an answer to a request sent at the local moment sent into
// a Token. Its expiry is the lifetime the server stated, counted from
// sent: an answer held back on its way makes the token look older, never
// younger, than it is.
func tokenFrom(r *TokenResponse, sent time.Time) *Token {
	t := &Token{AccessToken: r.AccessToken, RefreshToken: r.RefreshToken, Requires2FA: r.Requires2FA}
	if life, ok := accessLifetime(r.AccessToken, r.date, sent); ok {
		t.Expiry = sent.Add(life).Round(0) // no monotonic reading: a saved copy compares equal
	}
	return t
}

// accessLifetime is how long a JWT access token had left when the server
// issued it: exp less the server's clock at issue (see issuedAt). It
// reports false when the expiry is unknown: no exp, or an absurd one (a
// year outside 1970..9999, as an exp written in milliseconds gives, an
// exp that had passed when the token was issued, or one more than
// maxTrustedLifetime ahead).
func accessLifetime(access string, date, sent time.Time) (time.Duration, bool) {
	exp, iat := jwtTimes(access)
	if exp.IsZero() {
		return 0, false
	}
	life := exp.Sub(issuedAt(exp, iat, date, sent))
	return life, life > 0 && life <= maxTrustedLifetime
}

// issuedAt is the server's clock when it issued a token asked for at the
// local moment sent: the later of its iat claim and its answer's Date
// header, each believed only when it leaves the token unexpired, else the
// local clock at sent. The later one: an iat kept from an earlier login,
// or a Date from a proxy whose clock is behind, would make the token look
// younger than it is, and expired tokens would be handed out; a Date from
// a proxy whose clock is ahead makes it look older, and it is renewed
// early.
func issuedAt(exp, iat, date, sent time.Time) time.Time {
	later, earlier := iat, date
	if date.After(iat) {
		later, earlier = date, iat
	}
	for _, t := range []time.Time{later, earlier} {
		if !t.IsZero() && (exp.IsZero() || exp.After(t)) {
			return t
		}
	}
	return sent
}

// jwtExpiry is the exp claim of a JWT, by the server's clock; zero when it
// has none or an absurd one (see accessLifetime). It schedules renewals;
// the server still checks the token.
func jwtExpiry(access string) time.Time {
	exp, iat := jwtTimes(access)
	if !iat.IsZero() && !exp.After(iat) {
		return time.Time{}
	}
	return exp
}

// serverOffset is the server clock's offset from the local one, as an
// answer to a request sent at sent shows it: the server's clock at issue
// (see issuedAt) less sent, zero when the answer tells no believable
// server time. It reports false for a token that looks expired at issue
// even by the local clock: nothing can be told from it.
func serverOffset(r *TokenResponse, sent time.Time) (time.Duration, bool) {
	exp, iat := jwtTimes(r.AccessToken)
	issued := issuedAt(exp, iat, r.date, sent)
	if !exp.IsZero() && !exp.After(issued) {
		return 0, false
	}
	return issued.Sub(sent), true
}

// jwtTimes reads the exp and iat claims of a JWT without verifying its
// signature; each is zero when absent or absurd.
func jwtTimes(access string) (exp, iat time.Time) {
	var claims jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(access, &claims); err != nil {
		return time.Time{}, time.Time{}
	}
	sane := func(d *jwt.NumericDate) time.Time {
		if d == nil || d.Unix() <= 0 || d.Year() > 9999 {
			return time.Time{}
		}
		return d.Time
	}
	return sane(claims.ExpiresAt), sane(claims.IssuedAt)
}

// TwoFactorHandler supplies a 2FA code when the store needs one: after a
// login or refresh whose answer asked for 2FA, or when the 2FA grace period
// has expired (424). method is the kind of code asked for; for a grace
// period renewal it is the method of the last 2FA step the store saw, or ""
// when it saw none. It runs under the store's refresh timeout, and its
// context also ends when the Login or SetToken that needs the code is
// given up.
type TwoFactorHandler func(ctx context.Context, method TwoFactorMethod) (code string, err error)

// StoreOption configures a TokenStore. Options are applied in order; an
// invalid one makes NewTokenStore fail.
type StoreOption func(*storeConfig) error

type storeConfig struct {
	failClosed  bool
	blocking    bool
	handler     TwoFactorHandler
	skew        time.Duration
	timeout     time.Duration
	onChange    func(Token)
	now         func() time.Time
	credentials func(ctx context.Context) (LoginRequest, error)
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
// starts renewing it (default DefaultRefreshSkew). For short-lived tokens
// the skew is capped at half the token's lifetime.
func WithRefreshSkew(d time.Duration) StoreOption {
	return func(c *storeConfig) error {
		if d < 0 {
			return fmt.Errorf("userauth: WithRefreshSkew: negative skew %v", d)
		}
		c.skew = d
		return nil
	}
}

// WithRefreshTimeout bounds one renewal or 2FA step, including waiting
// for the storage lock and the 2FA handler (default
// DefaultRefreshTimeout).
func WithRefreshTimeout(d time.Duration) StoreOption {
	return func(c *storeConfig) error {
		if d <= 0 {
			return fmt.Errorf("userauth: WithRefreshTimeout: %v is not positive", d)
		}
		c.timeout = d
		return nil
	}
}

// WithBlockingRefresh makes callers wait for the renewal of a token that is
// due but still valid, so that every call gets the newest token. By default
// such a token is handed out at once while one renewal runs behind the
// callers.
func WithBlockingRefresh() StoreOption {
	return func(c *storeConfig) error {
		c.blocking = true
		return nil
	}
}

// WithOnTokenChange calls f after every login, renewal, 2FA step and
// logout of this store (with the zero Token after a logout), once storage
// took the new tokens: never for a pair storage refused. f is called one
// call at a time, after the store's lock is released (it may call the
// store), by the goroutine that made the change, before that call returns
// unless f is still busy with an earlier change (then the goroutine
// running f tells it next). States follow each other in order; one
// superseded before f could be told it is skipped. f must be quick, and
// must not panic: it may run in a renewal's own goroutine.
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
// renews under its own in-process single flight, and keeps new tokens in
// memory until the storage returns, logging a warning each time. That keeps
// a service up, at a risk: other processes that cannot see this one's
// renewal may present the spent refresh token, which the server treats as
// theft, ending the session for all. Fail closed when an outage is better
// than that risk.
func WithFailClosed() StoreOption {
	return func(c *storeConfig) error {
		c.failClosed = true
		return nil
	}
}

// WithClock replaces time.Now for every time decision of the store (when
// a token is due or expired, how long a failure is remembered). It is for
// tests: pair it with userauthtest's Server.Now, so that moving the fake
// server's clock moves the store's too.
func WithClock(now func() time.Time) StoreOption {
	return func(c *storeConfig) error {
		if now == nil {
			return errors.New("userauth: WithClock: nil clock")
		}
		c.now = now
		return nil
	}
}
