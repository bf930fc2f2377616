package userauth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// This file holds the wire types of the API. Their JSON names are exactly
// those of the API contract; empty optional fields are left out of requests.
// Every type that carries a secret (a password, a token, a 2FA code or a
// reCAPTCHA answer) redacts it in String, GoString and LogValue, so %v, %+v,
// %#v and structured logs never show it. encoding/json still sees the real
// values.

// TwoFactorMethod names the second factor the API asks for in the
// requires_2fa field of a TokenResponse. The empty value means no 2FA step is
// needed. Values this package does not know are kept as they were sent.
type TwoFactorMethod string

// The 2FA methods the API is known to send.
const (
	// TwoFactorGoogleAuthenticator is a time-based one-time password (TOTP)
	// from an authenticator app.
	TwoFactorGoogleAuthenticator TwoFactorMethod = "GoogleAuthenticator"
	// TwoFactorSMS is a code sent by text message (later API versions).
	TwoFactorSMS TwoFactorMethod = "SMS"
)

// String returns the method as the server named it, with any control
// characters replaced, so that it can be shown to a user as it is.
func (m TwoFactorMethod) String() string { return clean(string(m), maxMessageLen) }

// LoginRequest is the body of POST /auth/token (password login).
// Password is required, and exactly one of Email and AlternateID names the
// user.
type LoginRequest struct {
	// Password is the user's password. Required.
	Password string `json:"password"`
	// Email is the user's e-mail address.
	Email string `json:"email,omitempty"`
	// AlternateID is a partner-assigned identifier of the user.
	AlternateID string `json:"alternate_id,omitempty"`
	// RecaptchaResponse is the reCAPTCHA answer, when the API asks for one.
	// It is sent under both names the API has used, g_recaptcha_response
	// (today's) and g-recaptcha-response (the seed's version); a server
	// ignores the one it does not know. A captcha answer verifies once, so
	// a Login that carries one is not repeated once the request may have
	// reached the server; only where the server surely did not act on it.
	RecaptchaResponse string `json:"g-recaptcha-response,omitempty"`
}

// MagicLinkLoginRequest is the body of POST /auth/magic_link. Exactly one of
// Email and UserID names the user.
type MagicLinkLoginRequest struct {
	// Email is the user's e-mail address.
	Email string `json:"email,omitempty"`
	// UserID is the user's ID, a UUID.
	UserID string `json:"user_id,omitempty"`
	// RecaptchaResponse is the reCAPTCHA answer, when the API asks for one,
	// sent under both names the API has used, as in LoginRequest.
	RecaptchaResponse string `json:"g-recaptcha-response,omitempty"`
	// Redirect is the path to land on after following the link (later API
	// versions).
	Redirect string `json:"redirect,omitempty"`
}

// RefreshRequest is the body of POST /auth/token/refresh.
type RefreshRequest struct {
	// RefreshToken is the current refresh token. Required. Refresh tokens
	// rotate: after a successful refresh only the new one is good.
	RefreshToken string `json:"refresh_token"`
}

// Confirm2FA is the body of POST /auth/2fa, which completes a login or a
// refresh whose answer carried requires_2fa. The Kotlin client calls it
// Confirm2Fa.
type Confirm2FA struct {
	// Code is the user's current 2FA code. Required; spaces are removed
	// before sending.
	Code string `json:"code"`
	// RefreshToken is the refresh token from the answer that asked for 2FA.
	// Required.
	RefreshToken string `json:"refresh_token"`
}

// Confirm2Fa is the Kotlin client's name of Confirm2FA.
//
// Deprecated: use Confirm2FA, which spells the initialism the Go way.
type Confirm2Fa = Confirm2FA

// TokenResponse is the answer of POST /auth/token, /auth/token/refresh and
// /auth/2fa.
type TokenResponse struct {
	// AccessToken is a JWT, sent as "Authorization: Bearer <token>" on every
	// other API call. While Requires2FA is set it is only a partial token.
	AccessToken string `json:"access_token"`
	// RefreshToken is good only for /auth/token/refresh and /auth/2fa.
	RefreshToken string `json:"refresh_token"`
	// Requires2FA is empty when no 2FA step is needed. Otherwise the caller
	// must post a code and RefreshToken to /auth/2fa (see
	// Client.TwoFactorAuthentication) to get complete tokens.
	Requires2FA TwoFactorMethod `json:"requires_2fa,omitempty"`
	// HasPassword tells whether the user has a password set (later API
	// versions); nil when the server did not say.
	HasPassword *bool `json:"has_password,omitempty"`

	date time.Time // the answer's Date header; zero when absent
}

// SuccessResponse is the answer of POST /auth/magic_link (the Kotlin
// client's SuccessResponse; later API versions call it
// MagicLinkLoginResponse).
type SuccessResponse struct {
	// Message is the server's human-readable answer.
	Message string `json:"message"`
	// Status is the account's status, which later API versions add; empty
	// when the server did not say.
	Status MagicLinkStatus `json:"status,omitempty"`
}

// MagicLinkStatus is the status of the account a magic link was asked for,
// as later API versions answer it. Values this package does not know are
// kept as they were sent.
type MagicLinkStatus string

// The statuses the API is known to send.
const (
	MagicLinkActive             MagicLinkStatus = "Active"
	MagicLinkRegisteredInactive MagicLinkStatus = "RegisteredInactive"
	MagicLinkRegisteredActive   MagicLinkStatus = "RegisteredActive"
	MagicLinkInactive           MagicLinkStatus = "Inactive"
)

// String returns the status as the server named it, with any control
// characters replaced, so that it can be shown to a user as it is.
func (s MagicLinkStatus) String() string { return clean(string(s), maxMessageLen) }

// MarshalJSON writes r as it goes on the wire: with its captcha answer
// under both names the API has used.
func (r LoginRequest) MarshalJSON() ([]byte, error) { return r.body() }

func (r LoginRequest) body() ([]byte, error) {
	type plain LoginRequest
	data, err := json.Marshal(plain(r))
	if err != nil {
		return nil, err
	}
	return addLaterCaptchaName(data, r.RecaptchaResponse)
}

// UnmarshalJSON reads r, taking the captcha answer from either name.
func (r *LoginRequest) UnmarshalJSON(data []byte) error {
	type plain LoginRequest
	if err := json.Unmarshal(data, (*plain)(r)); err != nil {
		return err
	}
	r.RecaptchaResponse = captchaAnswer(r.RecaptchaResponse, data)
	return nil
}

// MarshalJSON writes r as it goes on the wire: with its captcha answer
// under both names the API has used.
func (r MagicLinkLoginRequest) MarshalJSON() ([]byte, error) { return r.body() }

func (r MagicLinkLoginRequest) body() ([]byte, error) {
	type plain MagicLinkLoginRequest
	data, err := json.Marshal(plain(r))
	if err != nil {
		return nil, err
	}
	return addLaterCaptchaName(data, r.RecaptchaResponse)
}

// UnmarshalJSON reads r, taking the captcha answer from either name.
func (r *MagicLinkLoginRequest) UnmarshalJSON(data []byte) error {
	type plain MagicLinkLoginRequest
	if err := json.Unmarshal(data, (*plain)(r)); err != nil {
		return err
	}
	r.RecaptchaResponse = captchaAnswer(r.RecaptchaResponse, data)
	return nil
}

// addLaterCaptchaName adds a non-empty captcha answer, under today's name
// g_recaptcha_response, to obj, a request encoded as a JSON object that
// carries it under the seed's name already.
func addLaterCaptchaName(obj []byte, answer string) ([]byte, error) {
	if answer == "" {
		return obj, nil
	}
	value, err := json.Marshal(answer)
	if err != nil {
		return nil, err
	}
	out := append(obj[:len(obj)-1:len(obj)-1], `,"g_recaptcha_response":`...) // obj holds the seed's name: not empty
	return append(append(out, value...), '}'), nil
}

// captchaAnswer is seed, the answer under the seed's name, or else the
// answer under today's name in data.
func captchaAnswer(seed string, data []byte) string {
	if seed != "" {
		return seed
	}
	var later struct {
		Answer string `json:"g_recaptcha_response"`
	}
	_ = json.Unmarshal(data, &later) // data decoded once already
	return later.Answer
}

// String formats r with its password and reCAPTCHA answer redacted.
func (r LoginRequest) String() string {
	return fmt.Sprintf("userauth.LoginRequest{Email:%q, AlternateID:%q, Password:%s, RecaptchaResponse:%s}",
		r.Email, r.AlternateID, secret(r.Password), secret(r.RecaptchaResponse))
}

// GoString is like String; it keeps %#v from printing the secrets.
func (r LoginRequest) GoString() string { return r.String() }

// LogValue implements slog.LogValuer with the secrets redacted.
func (r LoginRequest) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("email", r.Email),
		slog.String("alternate_id", r.AlternateID),
		secretAttr("password", r.Password),
		secretAttr("g-recaptcha-response", r.RecaptchaResponse),
	)
}

// String formats r with its reCAPTCHA answer redacted.
func (r MagicLinkLoginRequest) String() string {
	return fmt.Sprintf("userauth.MagicLinkLoginRequest{Email:%q, UserID:%q, Redirect:%q, RecaptchaResponse:%s}",
		r.Email, r.UserID, r.Redirect, secret(r.RecaptchaResponse))
}

// GoString is like String; it keeps %#v from printing the secret.
func (r MagicLinkLoginRequest) GoString() string { return r.String() }

// LogValue implements slog.LogValuer with the secret redacted.
func (r MagicLinkLoginRequest) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("email", r.Email),
		slog.String("user_id", r.UserID),
		slog.String("redirect", r.Redirect),
		secretAttr("g-recaptcha-response", r.RecaptchaResponse),
	)
}

// String formats r with its refresh token redacted.
func (r RefreshRequest) String() string {
	return "userauth.RefreshRequest{RefreshToken:" + secret(r.RefreshToken) + "}"
}

// GoString is like String; it keeps %#v from printing the token.
func (r RefreshRequest) GoString() string { return r.String() }

// LogValue implements slog.LogValuer with the token redacted.
func (r RefreshRequest) LogValue() slog.Value {
	return slog.GroupValue(secretAttr("refresh_token", r.RefreshToken))
}

// String formats r with its code and refresh token redacted.
func (r Confirm2FA) String() string {
	return "userauth.Confirm2FA{Code:" + secret(r.Code) + ", RefreshToken:" + secret(r.RefreshToken) + "}"
}

// GoString is like String; it keeps %#v from printing the secrets.
func (r Confirm2FA) GoString() string { return r.String() }

// LogValue implements slog.LogValuer with the secrets redacted.
func (r Confirm2FA) LogValue() slog.Value {
	return slog.GroupValue(secretAttr("code", r.Code), secretAttr("refresh_token", r.RefreshToken))
}

// String formats r with both tokens redacted.
func (r TokenResponse) String() string {
	hp := "nil"
	if r.HasPassword != nil {
		hp = fmt.Sprint(*r.HasPassword)
	}
	return fmt.Sprintf("userauth.TokenResponse{AccessToken:%s, RefreshToken:%s, Requires2FA:%q, HasPassword:%s}",
		secret(r.AccessToken), secret(r.RefreshToken), r.Requires2FA, hp)
}

// GoString is like String; it keeps %#v from printing the tokens.
func (r TokenResponse) GoString() string { return r.String() }

// LogValue implements slog.LogValuer with the tokens redacted.
func (r TokenResponse) LogValue() slog.Value {
	attrs := []slog.Attr{
		secretAttr("access_token", r.AccessToken),
		secretAttr("refresh_token", r.RefreshToken),
		slog.String("requires_2fa", r.Requires2FA.String()),
	}
	if r.HasPassword != nil {
		attrs = append(attrs, slog.Bool("has_password", *r.HasPassword))
	}
	return slog.GroupValue(attrs...)
}

// validate checks r before anything is sent.
func (r LoginRequest) validate() error {
	if r.Password == "" {
		return &ValidationError{Field: "password", Reason: "is required"}
	}
	switch {
	case r.Email == "" && r.AlternateID == "":
		return &ValidationError{Field: "email", Reason: "or alternate_id is required"}
	case r.Email != "" && r.AlternateID != "":
		return &ValidationError{Field: "email", Reason: "and alternate_id are mutually exclusive"}
	}
	return nil
}

func (r LoginRequest) secrets() []string { return []string{r.Password, r.RecaptchaResponse} }

// retryPolicy makes a Login that carries a captcha answer send-once: the
// answer verifies once, so a replay would be refused.
func (r LoginRequest) retryPolicy(p retryPolicy) retryPolicy {
	if r.RecaptchaResponse != "" {
		return max(p, retrySendOnce)
	}
	return p
}

func (r MagicLinkLoginRequest) validate() error {
	switch {
	case r.Email == "" && r.UserID == "":
		return &ValidationError{Field: "email", Reason: "or user_id is required"}
	case r.Email != "" && r.UserID != "":
		return &ValidationError{Field: "email", Reason: "and user_id are mutually exclusive"}
	case r.UserID != "" && !isUUID(r.UserID):
		return &ValidationError{Field: "user_id", Reason: "must be a UUID"}
	}
	return nil
}

func (r MagicLinkLoginRequest) secrets() []string { return []string{r.RecaptchaResponse} }

func (r MagicLinkLoginRequest) retryPolicy(p retryPolicy) retryPolicy { return p }

func (r RefreshRequest) validate() error {
	if r.RefreshToken == "" {
		return &ValidationError{Field: "refresh_token", Reason: "is required"}
	}
	return nil
}

func (r RefreshRequest) secrets() []string { return []string{r.RefreshToken} }

func (r RefreshRequest) retryPolicy(p retryPolicy) retryPolicy { return p }

func (r RefreshRequest) body() ([]byte, error) { return json.Marshal(r) }

// normalized returns r with the spaces people type or paste into a code
// ("123 456") removed.
func (r Confirm2FA) normalized() Confirm2FA {
	r.Code = strings.Join(strings.Fields(r.Code), "")
	return r
}

func (r Confirm2FA) validate() error {
	if r.Code == "" {
		return &ValidationError{Field: "code", Reason: "is required"}
	}
	if r.RefreshToken == "" {
		return &ValidationError{Field: "refresh_token", Reason: "is required"}
	}
	return nil
}

func (r Confirm2FA) secrets() []string { return []string{r.Code, r.RefreshToken} }

func (r Confirm2FA) retryPolicy(p retryPolicy) retryPolicy { return p }

func (r Confirm2FA) body() ([]byte, error) { return json.Marshal(r) }

// decode accepts any 2xx magic-link answer that is a JSON object. A
// message or status that echoes a secret of the request is redacted: both
// are shown to users.
func (r *SuccessResponse) decode(data []byte, _ http.Header, secrets []string) error {
	if t := bytes.TrimSpace(data); len(t) == 0 || t[0] != '{' {
		return contractError("not a JSON object") // json.Unmarshal takes null
	}
	if err := json.Unmarshal(data, r); err != nil {
		return err
	}
	if r.Message != "" || r.Status != "" {
		e := echoOf(secrets)
		r.Message = e.withhold(r.Message)
		r.Status = MagicLinkStatus(e.withhold(string(r.Status)))
	}
	return nil
}

// decode reads a 2xx token answer and reports one that lacks a required
// field (handing out an empty token would only fail later, far from the
// cause), and keeps the answer's Date, from which, with the token's iat,
// the store tells its lifetime (see issuedAt). A requires_2fa that echoes a secret of the request
// is redacted: the method is shown to users and in errors.
func (r *TokenResponse) decode(data []byte, h http.Header, secrets []string) error {
	if err := json.Unmarshal(data, r); err != nil {
		return err
	}
	if r.Requires2FA != "" {
		r.Requires2FA = TwoFactorMethod(echoOf(secrets).withhold(string(r.Requires2FA)))
	}
	if d := h.Get("Date"); d != "" {
		r.date, _ = http.ParseTime(d)
	}
	switch {
	case r.AccessToken == "":
		return contractError("missing access_token")
	case r.RefreshToken == "":
		return contractError("missing refresh_token")
	case !validHeaderValue(r.AccessToken):
		return ErrUnsendableToken
	}
	return nil
}

// isUUID reports whether s is a UUID in its canonical 8-4-4-4-12 hex form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return true
}
