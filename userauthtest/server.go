// Package userauthtest runs a fake User Authentication API for tests and
// demos, shaped like net/http/httptest: NewServer starts it on a loopback
// port, URL says where, Client returns an http.Client for it, and Close
// stops it. It does not import package testing: register srv.Close with
// t.Cleanup. Like httptest.NewServer, which panics when it cannot listen,
// NewServer panics when given an invalid Option.
//
// # What it serves
//
// The contract's four endpoints (POST /auth/token, /auth/magic_link,
// /auth/token/refresh and /auth/2fa), the API's 0.2.x POST /logout, and two
// endpoints to call with the tokens, GET /account and GET
// /account/sensitive (the Path constants). Every request to them is first
// checked against api/openapi.yaml: a violation is answered 400, naming the
// field but never its value. Other paths get 404, other methods 405.
//
// The fake keeps the real API's semantics rather than canned answers:
//
//   - Access tokens are HS256 JWTs with an exp claim. The fake keeps its
//     own record of every token it issues and judges a presented token by
//     that record alone, so WithTokenClaims may rewrite the claims a client
//     sees without changing how the fake treats the token.
//   - Refresh tokens rotate on every use; presenting a spent one revokes
//     its whole family (see WithRefreshReuseGrace and ReuseDetected).
//   - 2FA users get partial tokens, which open nothing, until /auth/2fa
//     accepts a valid, single-use code (TOTP, see Code; or SMS, see
//     LastSMSCode). Once the 2FA grace period is over, GET
//     /account/sensitive answers 424 until the next 2FA step.
//   - POST /logout, with a complete bearer token, ends every session of its
//     user: all of the user's access and refresh tokens are refused from
//     then on. It answers 204.
//   - API keys made by AddAPIKey authenticate the account endpoints in the
//     X-Api-Key header, without the 2FA grace period.
//   - With WithCaptcha, login and magic-link requests need a reCAPTCHA
//     answer minted by CaptchaAnswer, good for one check, under
//     g_recaptcha_response or g-recaptcha-response (or both, alike).
//   - POST /auth/magic_link answers the same message to everyone, with
//     status "Active" for a known user, whose link lands in the outbox
//     (where SMS codes land too; see Outbox and WithMessageHook), and
//     "Inactive" for an unknown address or ID, to whom nothing is sent.
//
// # Answers
//
// Errors come as the service writes them: {"error": "<message>"} and, for
// failed validation (422), {"fields": {"<field>": [{"code": "...",
// "message": "..."}]}}. Every answer the fake writes, injected faults' too
// (not the bytes of a Raw fault), carries a Date header from its own clock
// (Now, Advance); a token answer's Date is the iat of its access token.
//
// # Faults, clock and counters
//
// Fail injects faults per path: status answers, delays, hangs, dropped or
// reset connections, raw bytes, truncated or oversized bodies, and answers
// held back after the call was acted on (Fault.Hold). Advance moves the
// fake's clock, which a token store under test must share (see Advance).
// Calls, AllCalls and Paths count the calls.
package userauthtest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pquerna/otp/totp"
)

// FaultHeader is set, to "1", on every answer shaped by an injected Fault,
// so that a test can tell a planned failure from a real one.
const FaultHeader = "X-Userauthtest-Fault"

// Paths the fake serves.
const (
	PathLogin     = "/auth/token"
	PathMagicLink = "/auth/magic_link"
	PathRefresh   = "/auth/token/refresh"
	PathTwoFactor = "/auth/2fa"
	// PathAccount needs a complete, unexpired bearer token, or an API key
	// (see AddAPIKey).
	PathAccount = "/account"
	// PathSensitive also needs, with a bearer token, a 2FA step within the
	// grace period (424 otherwise); an API key is not subject to it.
	PathSensitive = "/account/sensitive"
	// PathLogout (POST, the API's 0.2.x endpoint) needs a complete,
	// unexpired bearer token and ends every session of its user: all of the
	// user's access and refresh tokens stop working. It answers 204.
	PathLogout = "/logout"
	// PathEnable2FA, PathConfirm2FA and PathDisable2FA (API 0.2.262, bearer)
	// turn TOTP 2FA on (enable answers a new secret and backup codes;
	// confirm, with a code of the new secret, commits it) and off.
	// PathBackupDisable2FA turns it off without a session, with a backup
	// code (single use) and the user's e-mail or alternate ID. The fake
	// serves the GoogleAuthenticator method only.
	PathEnable2FA        = "/account/2fa/enable"
	PathConfirm2FA       = "/account/2fa/confirm"
	PathDisable2FA       = "/account/2fa/disable"
	PathBackupDisable2FA = "/account/2fa/backup_disable"
	// PathAPIKeys (API 0.2.262) creates (POST) and lists (GET) the API keys
	// of the bearer token's user; DELETE PathAPIKeys + "/" + key deletes
	// one, named by the key itself (the API does not say what its {id} is).
	// The fake does not check scopes.
	PathAPIKeys = "/api_keys"
)

// The 2FA methods of User.TwoFactor, as the API names them.
const (
	TwoFactorTOTP = "GoogleAuthenticator"
	TwoFactorSMS  = "SMS"
)

// Server is a fake User Authentication API.
type Server struct {
	// URL is the base URL of the server, "http://127.0.0.1:port", set once
	// the server is started.
	URL string

	ts       *httptest.Server
	cfg      config
	key      []byte    // HS256 signing key of the access tokens
	contract *contract // nil when api/openapi.yaml failed to load
	loadErr  error
	closed   chan struct{} // closed by Close, to release hanging faults
	once     sync.Once

	offset atomic.Int64 // nanoseconds added to the real clock

	mu       sync.Mutex
	users    []*user
	access   map[string]*accessToken // by the token as issued
	refresh  map[string]*refreshToken
	families map[string]*family
	usedCode map[string]bool    // user id + code, for single use
	captchas map[string]bool    // reCAPTCHA answers minted and not yet spent
	apiKeys  map[string]*apiKey // by the key
	outbox   []Message
	calls    map[string]int
	faults   map[string][]Fault
	seq      int64 // of the last access token issued
	revoked  int64 // access tokens with seq up to this are refused
	reuses   int
	next2FA  bool // the next refresh answers requires_2fa
}

// User is an account of the fake.
type User struct {
	// ID is the user's UUID; AddUser makes one when empty.
	ID string
	// Email and AlternateID identify the user at login.
	Email, AlternateID string
	// Password is the user's password.
	Password string
	// TwoFactor is "" (none), TwoFactorTOTP or TwoFactorSMS.
	TwoFactor string
	// TOTPSecret is the base32 TOTP secret of a TwoFactorTOTP user;
	// AddUser makes one when empty.
	TOTPSecret string
}

type user struct {
	User
	secret  string          // TOTP secret
	pending string          // the TOTP secret of a 2FA enable not yet confirmed
	backup  map[string]bool // unused backup codes
}

type family struct {
	userID  string
	revoked bool
	tfaAt   time.Time // of the last 2FA step
}

// accessToken is the fake's record of an access token it issued. A
// presented token is judged by this record, never by its claims, which
// WithTokenClaims may have changed.
type accessToken struct {
	userID  string
	family  string
	seq     int64
	exp     time.Time
	pending bool // a 2FA step is still due: the token opens nothing
}

type refreshToken struct {
	family  string
	userID  string
	pending string // 2FA method asked for; "" when complete
	used    bool
	usedAt  time.Time
}

// Message is what the fake "sent" to a user: a magic link or an SMS code.
type Message struct {
	// To is the user's e-mail address.
	To string
	// Kind is "magic_link" or "sms".
	Kind string
	// Text is the link or the code.
	Text string
	// Redirect is the redirect of a magic-link request.
	Redirect string
}

// NewServer starts a fake API on a loopback port. Like
// httptest.NewServer, which panics when it cannot listen, it panics with
// the error of an invalid option.
func NewServer(opts ...Option) *Server {
	s := NewUnstartedServer(opts...)
	s.Start()
	return s
}

// NewUnstartedServer returns a fake API that is not yet listening, so users
// can be added first; call Start or StartAt. It panics with the error of an
// invalid option (see Option); nil options are ignored.
func NewUnstartedServer(opts ...Option) *Server {
	cfg, err := newConfig(opts)
	if err != nil {
		panic(err)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	s := &Server{
		cfg:      cfg,
		key:      key,
		access:   map[string]*accessToken{},
		refresh:  map[string]*refreshToken{},
		families: map[string]*family{},
		usedCode: map[string]bool{},
		captchas: map[string]bool{},
		apiKeys:  map[string]*apiKey{},
		calls:    map[string]int{},
		faults:   map[string][]Fault{},
		closed:   make(chan struct{}),
	}
	s.contract, s.loadErr = loadContract()
	s.ts = httptest.NewUnstartedServer(s.handler())
	return s
}

// Start starts the server on a loopback port and sets URL.
func (s *Server) Start() {
	// Set before the server serves: the handlers read it (a magic link
	// names the server), and a write after would race with them.
	s.URL = "http://" + s.ts.Listener.Addr().String()
	s.ts.Start()
}

// StartAt starts the server listening on addr (host:port) instead of a
// random loopback port, and sets URL.
func (s *Server) StartAt(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("userauthtest: %w", err)
	}
	s.ts.Listener.Close()
	s.ts.Listener = ln
	s.Start()
	return nil
}

// Client returns an http.Client that reaches the server.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// Close shuts the server down, waiting for calls in progress. A call
// that a fault keeps waiting (Delay, Hang, Hold) is released, its
// connection closed without an answer.
func (s *Server) Close() {
	s.once.Do(func() { close(s.closed) })
	s.ts.CloseClientConnections()
	s.ts.Close()
}

// Now is the server's clock: the real time plus what Advance added. It
// stamps the tokens' iat and exp and every answer's Date header. Hand it
// to a userauth.TokenStore with userauth.WithClock(srv.Now) (see Advance).
func (s *Server) Now() time.Time { return s.now() }

func (s *Server) now() time.Time { return time.Now().Add(time.Duration(s.offset.Load())) }

// Advance moves the server's clock forward by d (back, for a negative d):
// tokens and 2FA grace periods expire as if d had passed, and Date headers
// say so.
//
// A userauth.TokenStore decides when a token has expired by its own clock,
// not by the server's. A test that moves the fake's clock must give the
// store the same clock, with userauth.WithClock(srv.Now). Otherwise the
// store keeps presenting access tokens that it thinks fresh and the fake
// now sees as expired, and meets 401s (and, past the 2FA grace period,
// 424s from GET /account/sensitive).
func (s *Server) Advance(d time.Duration) {
	s.offset.Add(int64(d))
}

// ExpireAccessTokens makes every access token issued so far be refused
// with 401, whatever its exp says, as if the server had revoked them.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	s.revoked = s.seq
	s.mu.Unlock()
}

// RequireTwoFactorOnNextRefresh makes the next successful refresh answer
// with requires_2fa, as the API may.
func (s *Server) RequireTwoFactorOnNextRefresh() {
	s.mu.Lock()
	s.next2FA = true
	s.mu.Unlock()
}

// AddUser adds an account and returns its TOTP secret when
// u.TwoFactor is TwoFactorTOTP ("" otherwise). It fails on a duplicate
// e-mail or alternate ID, or an unknown 2FA method.
func (s *Server) AddUser(u User) (string, error) {
	if u.Email == "" && u.AlternateID == "" {
		return "", errors.New("userauthtest: AddUser: email or alternate ID required")
	}
	if u.TwoFactor != "" && u.TwoFactor != TwoFactorTOTP && u.TwoFactor != TwoFactorSMS {
		return "", fmt.Errorf("userauthtest: AddUser: unknown 2FA method %q", u.TwoFactor)
	}
	if u.ID == "" {
		u.ID = newUUID()
	}
	nu := &user{User: u, secret: u.TOTPSecret}
	if u.TwoFactor == TwoFactorTOTP && nu.secret == "" {
		key, err := totp.Generate(totp.GenerateOpts{Issuer: "userauthtest", AccountName: u.Email + u.AlternateID})
		if err != nil {
			return "", fmt.Errorf("userauthtest: AddUser: %w", err)
		}
		nu.secret = key.Secret()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.users {
		if (u.Email != "" && o.Email == u.Email) || (u.AlternateID != "" && o.AlternateID == u.AlternateID) || o.ID == u.ID {
			return "", errors.New("userauthtest: AddUser: duplicate user")
		}
	}
	s.users = append(s.users, nu)
	return nu.secret, nil
}

// APIKeyHeader is the header that carries an API key.
const APIKeyHeader = "X-Api-Key"

// AddAPIKey creates an API key for the user with the given e-mail address
// and returns it; an unknown address is an error. GET /account and GET
// /account/sensitive accept the key in the X-Api-Key header instead of a
// bearer token, as the service does for server-to-server calls: it
// authenticates as its user, without the 2FA grace period. When a request
// carries both a key and a bearer token, the key alone is checked. Keys
// are not sessions: POST /logout neither accepts nor revokes them.
func (s *Server) AddAPIKey(email string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.findUser(email, "", "")
	if email == "" || u == nil {
		return "", fmt.Errorf("userauthtest: AddAPIKey: no user with e-mail %q", email)
	}
	key := "key-" + randomHex(24)
	s.apiKeys[key] = &apiKey{key: key, userID: u.ID, name: "added by AddAPIKey", scopes: []string{"user:show"}, created: s.now()}
	return key, nil
}

// Users returns the accounts, passwords and TOTP secrets included, for
// printing by a demo.
func (s *Server) Users() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]User, len(s.users))
	for i, u := range s.users {
		out[i] = u.User
		out[i].TOTPSecret = u.secret
	}
	return out
}

// Code returns the current TOTP code for secret by the server's clock.
func (s *Server) Code(secret string) (string, error) {
	return totp.GenerateCode(secret, s.Now())
}

// CaptchaAnswer mints a fresh reCAPTCHA answer, random and good for one
// check. A Server made WithCaptcha accepts it once under either field name,
// g_recaptcha_response or g-recaptcha-response (or both, with the same
// value); other Servers ignore captcha fields.
func (s *Server) CaptchaAnswer() string {
	a := "captcha-" + randomHex(24)
	s.mu.Lock()
	s.captchas[a] = true
	s.mu.Unlock()
	return a
}

// Outbox returns the messages sent so far, oldest first.
func (s *Server) Outbox() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.outbox...)
}

// LastSMSCode returns the last SMS code sent to email, or "".
func (s *Server) LastSMSCode(email string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.outbox) - 1; i >= 0; i-- {
		if m := s.outbox[i]; m.To == email && m.Kind == "sms" {
			return m.Text
		}
	}
	return ""
}

// Calls returns how many requests reached path, faulted ones included.
func (s *Server) Calls(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[path]
}

// AllCalls returns the call count of every path called so far.
func (s *Server) AllCalls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.calls))
	for k, v := range s.calls {
		out[k] = v
	}
	return out
}

// ResetCalls sets every call counter to zero.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	s.calls = map[string]int{}
	s.mu.Unlock()
}

// ReuseDetected returns how many times a spent refresh token was presented
// and its family revoked.
func (s *Server) ReuseDetected() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reuses
}

// Paths lists the paths that have been called, sorted.
func (s *Server) Paths() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.calls))
	for p := range s.calls {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
