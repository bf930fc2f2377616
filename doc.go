// Package userauth is a Go client for the User Authentication API: password
// login, magic-link login, token refresh and two-factor confirmation. It is
// the Go counterpart of the vendor's Kotlin UserAuthenticationApi.
//
// # Quick start
//
//	c, err := userauth.NewClient("") // "" is DefaultBaseURL
//	if err != nil { ... }
//	tok, err := c.Login(ctx, userauth.LoginRequest{Email: "ann@example.com", Password: pw})
//	if err != nil { ... }
//	if tok.Requires2FA != "" {
//		tok, err = c.TwoFactorAuthentication(ctx, userauth.Confirm2FA{Code: code, RefreshToken: tok.RefreshToken})
//	}
//
// A Client holds no per-user state and is safe for concurrent use: make one
// and share it.
//
// # Token store
//
// TokenStore keeps a session's tokens fresh by itself: it refreshes the
// access token shortly before its JWT expiry with exactly one refresh call
// however many goroutines ask, saves each rotated pair to a TokenStorage
// (MemoryStorage, FileStorage or your own) before handing it out, completes
// 2FA steps through a TwoFactorHandler, and supplies an authenticated
// http.Client (HTTPClient, Transport) that refreshes once on 401 and renews
// the 2FA grace period once on 424. A storage that implements Locker lets
// several processes share one session safely.
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
// parsed error code and message, 422 field errors, X-Request-Id and
// Retry-After.
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
//     dial), on 429, and on 503 with Retry-After;
//   - Login (POST /auth/token) also on 502, 504, 503 without Retry-After,
//     and when the connection breaks or times out awaiting the answer;
//   - MagicLinkLogin, RefreshToken and TwoFactorAuthentication nothing more:
//     a replay could e-mail twice, present a rotated refresh token twice
//     (which the server treats as theft) or spend a one-time code.
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
// period) and injectable faults: point NewClient at its URL. A plain
// httptest.Server, or an httpmock transport given through WithHTTPClient,
// works too. Options validate their values: NewClient returns an error, not
// a silently corrected client.
//
// # Many processes
//
// FileStorage shares a session between processes on one machine; the
// nested module github.com/tarilabs/userauth/redisstore shares it between
// replicas through Redis, under a distributed refresh lock.
package userauth
