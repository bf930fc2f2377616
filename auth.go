package userauth

import (
	"context"
	"net/http"
)

// This file holds the endpoint methods, the Go forms of the Kotlin
// UserAuthenticationApi's login, magicLinkLogin, refreshToken and
// twoFactorAuthentication. Each validates its input before anything is sent
// (a *ValidationError, no request made), then sends it with retries where
// they are safe (see retry.go), and returns the decoded answer or a typed
// error: *ClientError for 4xx, *ServerError for 5xx, *UnexpectedStatusError
// for 1xx and 3xx, *DecodeError for a 2xx it cannot read, *TransportError
// when no answer came.

// Login signs a user in with a password (POST /auth/token). Login is the
// only call retried after a connection breaks mid-request, as repeating it
// is harmless.
//
// When the answer's Requires2FA is set, its tokens are partial: post the
// user's code with the answer's RefreshToken to TwoFactorAuthentication to
// get complete ones. A wrong password is a *ClientError with status 401.
func (c *Client) Login(ctx context.Context, req LoginRequest) (*TokenResponse, error) {
	return post[TokenResponse](ctx, c, epLogin, req)
}

// MagicLinkLogin asks the server to e-mail the user a login link (POST
// /auth/magic_link). The login itself completes in the user's browser,
// outside this API. It is never retried once the request may have reached
// the server, so that the user gets at most one e-mail per call.
func (c *Client) MagicLinkLogin(ctx context.Context, req MagicLinkLoginRequest) (*SuccessResponse, error) {
	return post[SuccessResponse](ctx, c, epMagicLink, req)
}

// RefreshToken trades a refresh token for a new access token and a new
// refresh token (POST /auth/token/refresh). Refresh tokens rotate: keep the
// new one, as the old one may stop working, and presenting a used one again
// may be taken for theft and end the session. For that reason the call is
// never retried once the request may have reached the server.
//
// The answer can carry Requires2FA again; then complete it with
// TwoFactorAuthentication. TokenStore does all of this for you.
func (c *Client) RefreshToken(ctx context.Context, req RefreshRequest) (*TokenResponse, error) {
	return post[TokenResponse](ctx, c, epRefresh, req)
}

// TwoFactorAuthentication completes a login or refresh whose answer carried
// Requires2FA (POST /auth/2fa), with the user's current code and the refresh
// token of that answer. Spaces in the code are removed. It also renews a 2FA
// grace period that has expired (the API answers 424 Failed Dependency on
// sensitive endpoints then). Codes are single use, so the call is never
// retried once the request may have reached the server.
func (c *Client) TwoFactorAuthentication(ctx context.Context, req Confirm2FA) (*TokenResponse, error) {
	return post[TokenResponse](ctx, c, epTwoFactor, req.normalized())
}

// Logout ends the user's session on the server (POST /logout, API 0.2.x):
// every access token and refresh token of the user stops working.
// accessToken is a complete access token of the user; it is sent as the
// bearer and scrubbed from any error. Any 2xx answer is success.
//
// It is not repeated after any 5xx or a broken connection (the first may
// have worked, and it is not needed twice), only after a failed dial and
// on 429. A server of the seed's API version has no /logout and answers
// 404: the tokens then stay valid until they expire. TokenStore.Logout
// calls it with the session's token and clears the storage.
func (c *Client) Logout(ctx context.Context, accessToken string) error {
	_, err := post[noContent](ctx, c, epLogout, logoutRequest{accessToken: accessToken})
	return err
}

// logoutRequest is the input of POST /logout: no body, a bearer token.
type logoutRequest struct{ accessToken string }

func (r logoutRequest) validate() error {
	if r.accessToken == "" {
		return &ValidationError{Field: "access token", Reason: "is required"}
	}
	if !validHeaderValue(r.accessToken) {
		return &ValidationError{Field: "access token", Reason: "holds characters a header cannot carry"}
	}
	return nil
}

func (r logoutRequest) secrets() []string                     { return []string{r.accessToken} }
func (r logoutRequest) retryPolicy(p retryPolicy) retryPolicy { return p }
func (r logoutRequest) body() ([]byte, error)                 { return []byte{}, nil }
func (r logoutRequest) bearer() string                        { return r.accessToken }

// noContent is an answer whose status says all: its body, if any, is
// neither read whole nor checked.
type noContent struct{}

func (*noContent) decode([]byte, http.Header, []string) error { return nil }
func (*noContent) statusOnly()                                {}

// validHeaderValue reports whether s can be sent as a header value as it
// is: no control characters, nothing net/http would refuse.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}
