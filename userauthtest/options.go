package userauthtest

import (
	"errors"
	"fmt"
	"time"
)

const (
	defaultAccess   = 15 * time.Minute
	defaultGrace2FA = 15 * time.Minute
)

type config struct {
	accessTTL  time.Duration
	grace2FA   time.Duration
	reuseGrace time.Duration
	onMessage  func(Message)
	onClaims   func(map[string]any)
	captcha    bool
}

// Option configures a Server. Options are applied in order, so the last
// of two that set the same thing wins; an invalid value is an error, which
// NewServer and NewUnstartedServer turn into a panic.
type Option func(*config) error

// newConfig applies opts to the defaults; nil options are skipped.
func newConfig(opts []Option) (config, error) {
	cfg := config{accessTTL: defaultAccess, grace2FA: defaultGrace2FA}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&cfg); err != nil {
			return config{}, err
		}
	}
	return cfg, nil
}

// WithAccessTTL sets the lifetime of access tokens (default 15 minutes).
// d must be positive.
func WithAccessTTL(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("userauthtest: WithAccessTTL: %v is not positive", d)
		}
		c.accessTTL = d
		return nil
	}
}

// WithTwoFactorGrace sets how long after a 2FA step sensitive endpoints
// accept the session before answering 424 (default 15 minutes). d must
// not be negative; 0 makes every sensitive call after the step answer 424.
func WithTwoFactorGrace(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("userauthtest: WithTwoFactorGrace: %v is negative", d)
		}
		c.grace2FA = d
		return nil
	}
}

// WithRefreshReuseGrace lets a spent refresh token be presented again
// within d of its first use without revoking its family (it is refused
// with 401 all the same). The default, 0, revokes at once; d must not be
// negative.
func WithRefreshReuseGrace(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("userauthtest: WithRefreshReuseGrace: %v is negative", d)
		}
		c.reuseGrace = d
		return nil
	}
}

// WithMessageHook calls f with every message the fake "sends" (magic
// links, SMS codes), as it is put in the outbox. f must not call the
// Server, and must not be nil.
func WithMessageHook(f func(Message)) Option {
	return func(c *config) error {
		if f == nil {
			return errors.New("userauthtest: WithMessageHook: function is nil")
		}
		c.onMessage = f
		return nil
	}
}

// WithTokenClaims calls f with the claims of every access token the fake
// issues, before it is signed, so that a test can change them: drop iat,
// write exp in milliseconds, and so on. The keys are "sub" (the user's
// ID), "email" (the user's e-mail address, when it has one), "iat" and
// "exp" (int64 Unix seconds), "jti" (a random ID), "fam"
// (the session's refresh token family), "2fa" ("none", "pending" or "ok")
// and "seq" (int64, the token's serial number). f runs with the fake's
// state locked, so it must not call the Server; it must not be nil.
//
// The claims are only what the client reads: the fake keeps its own record
// of every access token it issued (user, session, expiry, 2FA state) and
// judges a presented token by that record alone, so whatever f writes does
// not change how the fake treats the token.
func WithTokenClaims(f func(claims map[string]any)) Option {
	return func(c *config) error {
		if f == nil {
			return errors.New("userauthtest: WithTokenClaims: function is nil")
		}
		c.onClaims = f
		return nil
	}
}

// WithCaptcha makes POST /auth/token and POST /auth/magic_link require a
// reCAPTCHA answer minted by Server.CaptchaAnswer, as the service does.
// Without it the fake ignores the captcha fields.
func WithCaptcha() Option {
	return func(c *config) error {
		c.captcha = true
		return nil
	}
}
