// Package userauth is a Go client for the User Authentication API: password
// login, magic-link login, token refresh, two-factor confirmation and
// logout. It is the Go counterpart of the vendor's Kotlin
// UserAuthenticationApi.
//
// # Quick start
//
//	c, err := userauth.NewClient("") // "" is DefaultBaseURL, https://a.y.at
//	if err != nil { ... }
//	tok, err := c.Login(ctx, userauth.LoginRequest{Email: "ann@example.com", Password: pw})
//	if errors.Is(err, userauth.ErrInvalidCredentials) { ... }
//	if tok.Requires2FA != "" {
//		tok, err = c.TwoFactorAuthentication(ctx, userauth.Confirm2FA{Code: code, RefreshToken: tok.RefreshToken})
//	}
//
// A Client holds no per-user state and is safe for concurrent use: make one
// and share it. DefaultBaseURL is the vendor's production host,
// SandboxBaseURL its sandbox.
//
// # API versions
//
// The SDK speaks both the seed's API version (0.1.125) and the API as
// served today (0.1.133, 0.2.x): a captcha answer is sent under both names
// the versions use, the error body is read in every form the service
// writes, and Client.Logout and Client.APIKeyClient use what only 0.2.x
// has (POST /logout, the X-Api-Key header).
//
// # Token store
//
// TokenStore keeps a session's tokens fresh by itself. A fresh token is
// handed out without a lock; a due one (close to expiry) is handed out at
// once while one renewal runs behind the callers; only an expired one makes
// callers wait, all for the same renewal. Expiry is judged by the lifetime
// the server stated, not by the local clock. Each rotated pair is saved to
// a TokenStorage (MemoryStorage, FileStorage or your own) before it is
// handed out (while a shared storage is down, a store may hand it out and
// save it when storage returns, unless WithFailClosed); 2FA steps are completed through a TwoFactorHandler or
// CompleteTwoFactor; HTTPClient and Transport authenticate requests and
// recover once from a 401 and once from a 424. A storage that implements
// Locker lets several processes share one session, spending each refresh
// token once. Logout revokes the session on the server and clears it
// everywhere.
//
// # Errors
//
// Each call returns one of these, to be told apart with errors.As:
//
//   - *ValidationError: the input was rejected before anything was sent.
//   - *ClientError: a 4xx answer (Kotlin ClientException).
//   - *ServerError: a 5xx answer (Kotlin ServerException).
//   - *UnexpectedStatusError: a 1xx or 3xx answer (Kotlin
//     UnsupportedOperationException). Redirects are never followed.
//   - *DecodeError: a 2xx answer that does not match the contract, or one
//     larger than the limit (errors.Is(err, ErrResponseTooLarge)).
//   - *TransportError: no answer at all; errors.Is(err, context.Canceled)
//     and errors.Is(err, context.DeadlineExceeded) work through it.
//
// The three status errors embed *APIError, so errors.As(err, &apiErr) with
// apiErr of type *APIError catches them all and gives the status, the
// server's message and code, 422 field errors, X-Request-Id and
// Retry-After. The common cases have sentinels for errors.Is:
// ErrInvalidCredentials (a wrong password), ErrInvalidCode (a refused 2FA
// code), ErrTwoFactorExpired (424), and from the token store
// ErrLoginRequired, ErrTwoFactorRequired, ErrNotRevoked and
// ErrStorageUnavailable.
//
// No error string, log line or formatted value (%v, %+v, %#v) ever holds a
// password, a token, a 2FA code or a reCAPTCHA answer: the request and
// response types redact them, and secrets a server echoes back in an error
// body are scrubbed.
//
// # Retries
//
// Calls are retried with go-retryablehttp, DefaultMaxRetries times with a
// jittered exponential backoff from DefaultMinRetryWait to
// DefaultMaxRetryWait, but only where a retry cannot do harm:
//
//   - every endpoint: when the request never left (DNS failure, refused
//     dial), and on 429; every endpoint but Logout on 503 with Retry-After;
//   - Login (POST /auth/token) without a captcha answer also on 502, 504,
//     503 without Retry-After, and when the connection breaks or times out
//     awaiting the answer;
//   - a Login with a captcha answer, MagicLinkLogin, RefreshToken,
//     TwoFactorAuthentication and Logout nothing more: a replay could spend
//     a captcha answer (it verifies once), e-mail twice, present a rotated
//     refresh token twice (which the server treats as theft), spend a
//     one-time code, or log out twice.
//
// Retry-After (seconds or an HTTP date) is honoured up to the maximum wait.
// No wait runs past the context's deadline: when it would, the call returns
// the last answer's error at once. Cancelling the context during a wait
// returns at once. Tune with WithRetry, or turn retries off with
// WithoutRetries.
//
// # Security defaults
//
// NewClient refuses a base URL that is not absolute http(s), that carries
// credentials, a query or a fragment, or that is plain http:// to a host
// other than loopback (allow it with WithInsecureHTTP). Answers larger than
// WithMaxResponseBytes (1 MiB by default) fail without being read whole. A
// WithLogger logger sees method, path, status, attempt and duration only.
//
// # Testing
//
// Package userauthtest runs a fake of the API with its real semantics
// (signed JWTs, rotating refresh tokens, TOTP and SMS codes, the 2FA grace
// period, logout, API keys, captchas) and injectable faults: point
// NewClient at its URL, and give a TokenStore WithClock(srv.Now) so that
// moving the fake's clock moves the store's. A plain httptest.Server, or an
// httpmock transport given through WithHTTPClient, works too. Options
// validate their values: NewClient returns an error, not a silently
// corrected client.
//
// # Many processes
//
// FileStorage shares a session between processes on one machine; the
// nested module github.com/tarilabs/userauth/redisstore shares it between
// replicas through Redis, under a distributed refresh lock.
package userauth
