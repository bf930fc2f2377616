package userauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tarilabs/userauth/userauthtest"
)

func TestRequestsOnTheWire(t *testing.T) {
	t.Parallel()
	yes := true
	tests := []struct {
		name     string
		path     string
		call     func(*Client) (any, error)
		wantBody string
		answer   string
		want     any
	}{
		{
			name: "login by email",
			path: "/auth/token",
			call: func(c *Client) (any, error) {
				return c.Login(context.Background(), LoginRequest{Email: "ann@example.com", Password: "pw"})
			},
			wantBody: `{"email":"ann@example.com","password":"pw"}`,
			answer:   `{"access_token":"at","refresh_token":"rt","requires_2fa":null}`,
			want:     &TokenResponse{AccessToken: "at", RefreshToken: "rt"},
		},
		{
			name: "login by alternate id with captcha",
			path: "/auth/token",
			call: func(c *Client) (any, error) {
				return c.Login(context.Background(), LoginRequest{AlternateID: "p-42", Password: "pw", RecaptchaResponse: "cap"})
			},
			wantBody: `{"alternate_id":"p-42","password":"pw","g-recaptcha-response":"cap","g_recaptcha_response":"cap"}`,
			answer:   `{"access_token":"at","refresh_token":"rt","requires_2fa":"GoogleAuthenticator","has_password":true,"extra":{"x":1}}`,
			want:     &TokenResponse{AccessToken: "at", RefreshToken: "rt", Requires2FA: TwoFactorGoogleAuthenticator, HasPassword: &yes},
		},
		{
			name: "magic link with captcha",
			path: "/auth/magic_link",
			call: func(c *Client) (any, error) {
				return c.MagicLinkLogin(context.Background(), MagicLinkLoginRequest{Email: "ann@example.com", RecaptchaResponse: "cap"})
			},
			wantBody: `{"email":"ann@example.com","g-recaptcha-response":"cap","g_recaptcha_response":"cap"}`,
			answer:   `{"message":"Magic link sent","status":"RegisteredInactive"}`,
			want:     &SuccessResponse{Message: "Magic link sent", Status: MagicLinkRegisteredInactive},
		},
		{
			name: "magic link by email",
			path: "/auth/magic_link",
			call: func(c *Client) (any, error) {
				return c.MagicLinkLogin(context.Background(), MagicLinkLoginRequest{Email: "ann@example.com", Redirect: "/home"})
			},
			wantBody: `{"email":"ann@example.com","redirect":"/home"}`,
			answer:   `{"message":"Magic link sent","status":"Active"}`,
			want:     &SuccessResponse{Message: "Magic link sent", Status: "Active"},
		},
		{
			name: "magic link by user id",
			path: "/auth/magic_link",
			call: func(c *Client) (any, error) {
				return c.MagicLinkLogin(context.Background(), MagicLinkLoginRequest{UserID: "0f8fad5b-d9cb-469f-a165-70867728950e"})
			},
			wantBody: `{"user_id":"0f8fad5b-d9cb-469f-a165-70867728950e"}`,
			answer:   `{"message":"ok"}`,
			want:     &SuccessResponse{Message: "ok"},
		},
		{
			name: "refresh",
			path: "/auth/token/refresh",
			call: func(c *Client) (any, error) {
				return c.RefreshToken(context.Background(), RefreshRequest{RefreshToken: "rt1"})
			},
			wantBody: `{"refresh_token":"rt1"}`,
			answer:   `{"access_token":"at2","refresh_token":"rt2","requires_2fa":"SMS"}`,
			want:     &TokenResponse{AccessToken: "at2", RefreshToken: "rt2", Requires2FA: TwoFactorSMS},
		},
		{
			name: "2fa with spaces in the code",
			path: "/auth/2fa",
			call: func(c *Client) (any, error) {
				return c.TwoFactorAuthentication(context.Background(), Confirm2FA{Code: " 123 456\n", RefreshToken: "rt1"})
			},
			wantBody: `{"code":"123456","refresh_token":"rt1"}`,
			answer:   `{"access_token":"at3","refresh_token":"rt3","requires_2fa":"FaceScan"}`,
			want:     &TokenResponse{AccessToken: "at3", RefreshToken: "rt3", Requires2FA: "FaceScan"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mt := newMock(t)
			var gotBody []byte
			var gotHeader http.Header
			mt.RegisterResponder(http.MethodPost, testBase+tt.path, func(r *http.Request) (*http.Response, error) {
				gotBody, _ = io.ReadAll(r.Body)
				gotHeader = r.Header
				resp := httpmock.NewStringResponse(200, tt.answer)
				resp.Header.Set("Content-Type", "application/json")
				return resp, nil
			})
			got, err := tt.call(c)
			require.NoError(t, err)
			assert.JSONEq(t, tt.wantBody, string(gotBody))
			assert.Equal(t, tt.want, got)
			assert.Equal(t, "application/json", gotHeader.Get("Content-Type"))
			assert.Equal(t, "application/json", gotHeader.Get("Accept"))
			assert.Equal(t, "userauth-go/"+Version, gotHeader.Get("User-Agent"))
			assert.Empty(t, gotHeader.Get("Authorization"), "auth endpoints take no authorization")
			assert.Equal(t, 1, mt.GetTotalCallCount())
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body, want string
	}{
		{"not json", "<html>oops</html>", "invalid character"},
		{"empty", "", "unexpected end of JSON input"},
		{"truncated", `{"access_token":"a","refre`, "unexpected end of JSON input"},
		{"missing access token", `{"refresh_token":"r"}`, "missing access_token"},
		{"missing refresh token", `{"access_token":"a"}`, "missing refresh_token"},
		{"wrong type", `{"access_token":1,"refresh_token":"r"}`, "cannot unmarshal"},
		{"trailing garbage", `{"access_token":"a","refresh_token":"r"} x`, "invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mt := newMock(t)
			mt.RegisterResponder(http.MethodPost, testBase+"/auth/token/refresh", func(*http.Request) (*http.Response, error) {
				r := httpmock.NewStringResponse(200, tt.body)
				r.Header.Set("Content-Type", "text/html")
				return r, nil
			})
			got, err := c.RefreshToken(context.Background(), RefreshRequest{RefreshToken: "rt"})
			assert.Nil(t, got)
			var de *DecodeError
			require.ErrorAs(t, err, &de)
			assert.Equal(t, 200, de.StatusCode)
			assert.Equal(t, "/v1/auth/token/refresh", de.Path)
			assert.Equal(t, "text/html", de.ContentType)
			assert.Contains(t, err.Error(), tt.want)
			assert.Equal(t, 1, mt.GetTotalCallCount(), "a bad 2xx is not retried")
		})
	}
}

func TestStatusClassesOnEveryEndpoint(t *testing.T) {
	t.Parallel()
	for _, ep := range endpointCalls() {
		for _, code := range []int{102, 301, 302, 304, 400, 401, 403, 404, 409, 422, 424, 500, 501, 505} {
			t.Run(fmt.Sprintf("%s/%d", ep.name, code), func(t *testing.T) {
				c, mt := newMock(t)
				mt.RegisterResponder(http.MethodPost, testBase+ep.path, func(*http.Request) (*http.Response, error) {
					r := httpmock.NewStringResponse(code, `{"error":{"code":"E1","reason":"went wrong"}}`)
					r.Header.Set("X-Request-Id", "req-7")
					return r, nil
				})
				err := ep.call(context.Background(), c)
				require.Error(t, err)

				var ae *APIError
				require.ErrorAs(t, err, &ae, "every status error is an *APIError")
				assert.Equal(t, code, ae.StatusCode)
				assert.Equal(t, http.MethodPost, ae.Method)
				assert.Equal(t, "/v1"+ep.path, ae.Path)
				if code < 200 {
					assert.Empty(t, ae.Body, "the body of a 1xx answer is never read")
				} else {
					assert.Equal(t, "E1", ae.Code)
					assert.Equal(t, "went wrong", ae.Message)
				}
				assert.Equal(t, "req-7", ae.RequestID)
				assert.True(t, strings.HasPrefix(err.Error(), "userauth: POST /v1"+ep.path+": "+fmt.Sprint(code)), "got %q", err)

				var ce *ClientError
				var se *ServerError
				var ue *UnexpectedStatusError
				switch {
				case code >= 500:
					assert.ErrorAs(t, err, &se)
					assert.False(t, errors.As(err, &ce))
				case code >= 400:
					assert.ErrorAs(t, err, &ce)
					assert.False(t, errors.As(err, &se))
				default:
					assert.ErrorAs(t, err, &ue)
					assert.False(t, errors.As(err, &ce) || errors.As(err, &se))
				}
			})
		}
	}
}

func TestValidationMakesNoCall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name  string
		field string
		call  func(*Client) error
	}{
		{"login no password", "password", func(c *Client) error {
			_, err := c.Login(ctx, LoginRequest{Email: "a@b.c"})
			return err
		}},
		{"login no identity", "email", func(c *Client) error {
			_, err := c.Login(ctx, LoginRequest{Password: "p"})
			return err
		}},
		{"login two identities", "email", func(c *Client) error {
			_, err := c.Login(ctx, LoginRequest{Password: "p", Email: "a@b.c", AlternateID: "x"})
			return err
		}},
		{"magic link no identity", "email", func(c *Client) error {
			_, err := c.MagicLinkLogin(ctx, MagicLinkLoginRequest{Redirect: "/"})
			return err
		}},
		{"magic link two identities", "email", func(c *Client) error {
			_, err := c.MagicLinkLogin(ctx, MagicLinkLoginRequest{Email: "a@b.c", UserID: "0f8fad5b-d9cb-469f-a165-70867728950e"})
			return err
		}},
		{"magic link bad uuid", "user_id", func(c *Client) error {
			_, err := c.MagicLinkLogin(ctx, MagicLinkLoginRequest{UserID: "0f8fad5b-d9cb-469f-a165-70867728950"})
			return err
		}},
		{"magic link uuid with junk", "user_id", func(c *Client) error {
			_, err := c.MagicLinkLogin(ctx, MagicLinkLoginRequest{UserID: "0f8fad5b-d9cb-469f-a165-70867728950z"})
			return err
		}},
		{"refresh empty", "refresh_token", func(c *Client) error {
			_, err := c.RefreshToken(ctx, RefreshRequest{})
			return err
		}},
		{"2fa blank code", "code", func(c *Client) error {
			_, err := c.TwoFactorAuthentication(ctx, Confirm2FA{Code: "   ", RefreshToken: "rt"})
			return err
		}},
		{"2fa no refresh token", "refresh_token", func(c *Client) error {
			_, err := c.TwoFactorAuthentication(ctx, Confirm2FA{Code: "123456"})
			return err
		}},
		{"nil context", "ctx", func(c *Client) error {
			var nilCtx context.Context // the bad input under test
			_, err := c.Login(nilCtx, LoginRequest{Email: "a@b.c", Password: "p"})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mt := newMock(t)
			err := tt.call(c)
			var ve *ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, tt.field, ve.Field)
			assert.True(t, strings.HasPrefix(err.Error(), "userauth: invalid request: "+tt.field), "got %q", err)
			assert.Equal(t, 0, mt.GetTotalCallCount())
		})
	}
}

// TestNoSecretsInErrors runs every error path of every endpoint, with a
// server that echoes the request body back, and looks for the request's
// secrets in the error string, the %v, %+v and %#v forms, and a debug log.
func TestNoSecretsInErrors(t *testing.T) {
	t.Parallel()
	secrets := []string{"pw-SECRET-1", "captcha-SECRET-2", "rt-SECRET-3", "rt-SECRET-4", "918273"}
	echo := func(code int, ctype string) httpmock.Responder {
		return func(r *http.Request) (*http.Response, error) {
			b, _ := io.ReadAll(r.Body)
			resp := httpmock.NewStringResponse(code, fmt.Sprintf(`{"message":"bad input %s","fields":{"code":[{"code":"x","message":"%s"}]}}`, b, bytes.ReplaceAll(b, []byte(`"`), nil)))
			resp.Header.Set("Content-Type", ctype)
			return resp, nil
		}
	}
	plain := func(code int) httpmock.Responder {
		return func(r *http.Request) (*http.Response, error) {
			b, _ := io.ReadAll(r.Body)
			resp := httpmock.NewStringResponse(code, "you sent "+string(b))
			resp.Header.Set("Content-Type", "text/plain")
			return resp, nil
		}
	}
	faults := map[string]httpmock.Responder{
		"400 echo": echo(400, "application/json"),
		"401 echo": echo(401, "application/json"),
		"422 echo": echo(422, "application/json"),
		"500 echo": echo(500, "application/json"),
		"302 echo": echo(302, "application/json"),
		"503 text": plain(503),
		"200 bad": func(r *http.Request) (*http.Response, error) {
			b, _ := io.ReadAll(r.Body)
			return httpmock.NewBytesResponse(200, b[:len(b)-1]), nil
		},
		"transport":  httpmock.NewErrorResponder(errors.New("connection broke")),
		"validation": nil,
	}
	for name, fault := range faults {
		for _, ep := range endpointCalls() {
			t.Run(name+"/"+ep.name, func(t *testing.T) {
				var logs bytes.Buffer
				logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
				c, mt := newMock(t, WithLogger(logger), WithoutRetries())
				if fault != nil {
					mt.RegisterResponder(http.MethodPost, testBase+ep.path, fault)
				}
				var err error
				if fault == nil {
					// Bad input that still carries secrets.
					switch ep.name {
					case "Login":
						_, err = c.Login(context.Background(), LoginRequest{Password: "pw-SECRET-1"})
					case "MagicLinkLogin":
						_, err = c.MagicLinkLogin(context.Background(), MagicLinkLoginRequest{RecaptchaResponse: "captcha-SECRET-2"})
					case "RefreshToken":
						_, err = c.TwoFactorAuthentication(context.Background(), Confirm2FA{RefreshToken: "rt-SECRET-3"})
					default:
						_, err = c.TwoFactorAuthentication(context.Background(), Confirm2FA{Code: "918273"})
					}
				} else {
					err = ep.call(context.Background(), c)
				}
				require.Error(t, err)
				var ae *APIError
				forms := []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), logs.String()}
				if errors.As(err, &ae) {
					forms = append(forms, string(ae.Body), ae.Message, fmt.Sprint(ae.Fields))
				}
				for _, form := range forms {
					for _, s := range secrets {
						assert.NotContains(t, form, s)
					}
				}
			})
		}
	}
}

func TestSecretTypesRedact(t *testing.T) {
	t.Parallel()
	no := false
	values := []any{
		LoginRequest{Email: "ann@example.com", Password: "pw-SECRET", RecaptchaResponse: "cap-SECRET"},
		MagicLinkLoginRequest{Email: "ann@example.com", RecaptchaResponse: "cap-SECRET"},
		RefreshRequest{RefreshToken: "rt-SECRET"},
		Confirm2FA{Code: "SECRET-code", RefreshToken: "rt-SECRET"},
		TokenResponse{AccessToken: "at-SECRET", RefreshToken: "rt-SECRET", Requires2FA: TwoFactorSMS, HasPassword: &no},
		&LoginRequest{Email: "ann@example.com", Password: "pw-SECRET"},
		&Confirm2FA{Code: "SECRET-code", RefreshToken: "rt-SECRET"},
		&TokenResponse{AccessToken: "at-SECRET", RefreshToken: "rt-SECRET"},
	}
	for _, v := range values {
		t.Run(fmt.Sprintf("%T", v), func(t *testing.T) {
			var logs bytes.Buffer
			slog.New(slog.NewJSONHandler(&logs, nil)).Info("value", "v", v)
			for _, form := range []string{
				fmt.Sprintf("%v", v), fmt.Sprintf("%+v", v), fmt.Sprintf("%#v", v), fmt.Sprintf("%s", v),
				fmt.Sprint([]any{v}), logs.String(),
			} {
				assert.NotContains(t, form, "SECRET")
				assert.Contains(t, form, redacted)
			}
		})
	}
	// Empty secrets show as empty, so a missing password is visible.
	assert.Contains(t, LoginRequest{Email: "a"}.String(), `Password:""`)
	// JSON still carries the real values.
	b, err := json.Marshal(TokenResponse{AccessToken: "at", RefreshToken: "rt"})
	require.NoError(t, err)
	assert.JSONEq(t, `{"access_token":"at","refresh_token":"rt"}`, string(b))
}

// fakeAPI starts the fake with ann (no 2FA), tom (TOTP) and sam (SMS),
// and returns a Client for it that retries at once, and tom's TOTP secret.
func fakeAPI(t *testing.T, opts ...userauthtest.Option) (*userauthtest.Server, *Client, string) {
	t.Helper()
	srv := userauthtest.NewServer(opts...)
	t.Cleanup(srv.Close)
	var secret string
	for _, u := range []userauthtest.User{
		{Email: ann.Email, Password: ann.Password},
		{Email: tom.Email, Password: tom.Password, TwoFactor: userauthtest.TwoFactorTOTP},
		{Email: sam.Email, Password: sam.Password, TwoFactor: userauthtest.TwoFactorSMS},
	} {
		s, err := srv.AddUser(u)
		require.NoError(t, err)
		if u.TwoFactor == userauthtest.TwoFactorTOTP {
			secret = s
		}
	}
	c, err := NewClient(srv.URL, WithRetry(2, time.Millisecond, time.Millisecond))
	require.NoError(t, err)
	return srv, c, secret
}

// TestCaptchaAgainstTheService logs in and asks for magic links against a
// fake that requires a captcha, as today's service does: each answer
// verifies once, under either name.
func TestCaptchaAgainstTheService(t *testing.T) {
	t.Parallel()
	srv, c, _ := fakeAPI(t, userauthtest.WithCaptcha())
	ctx := context.Background()
	answer := srv.CaptchaAnswer()
	_, err := c.Login(ctx, LoginRequest{Email: ann.Email, Password: ann.Password, RecaptchaResponse: answer})
	require.NoError(t, err)

	_, err = c.Login(ctx, LoginRequest{Email: ann.Email, Password: ann.Password, RecaptchaResponse: answer})
	var ce *ClientError
	require.ErrorAs(t, err, &ce, "a captcha answer verifies once")
	assert.Equal(t, http.StatusUnprocessableEntity, ce.StatusCode)
	assert.Contains(t, ce.Fields, "g_recaptcha_response")
	assert.NotContains(t, err.Error(), answer)

	_, err = c.Login(ctx, LoginRequest{Email: ann.Email, Password: ann.Password})
	require.ErrorAs(t, err, &ce, "a missing answer is refused")
	assert.Equal(t, http.StatusUnprocessableEntity, ce.StatusCode)

	res, err := c.MagicLinkLogin(ctx, MagicLinkLoginRequest{Email: ann.Email, RecaptchaResponse: srv.CaptchaAnswer()})
	require.NoError(t, err)
	assert.Equal(t, MagicLinkActive, res.Status)
}

// TestCaptchaLoginNotReplayed: a Login that carries a captcha answer is
// not repeated once the request may have reached the server, and is where
// the server surely did not act on it.
func TestCaptchaLoginNotReplayed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault userauthtest.Fault
		want  int
	}{
		{"502", userauthtest.Fault{Status: 502}, 1},
		{"503", userauthtest.Fault{Status: 503}, 1},
		{"reset after the request", userauthtest.Fault{Reset: true}, 1},
		{"429", userauthtest.Fault{Status: 429, RetryAfter: "0"}, 3},
		{"503 with Retry-After", userauthtest.Fault{Status: 503, RetryAfter: "0"}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, c, _ := fakeAPI(t, userauthtest.WithCaptcha())
			srv.Fail(userauthtest.PathLogin, 10, tt.fault)
			_, err := c.Login(context.Background(), LoginRequest{Email: ann.Email, Password: ann.Password, RecaptchaResponse: srv.CaptchaAnswer()})
			require.Error(t, err)
			assert.Equal(t, tt.want, srv.Calls(userauthtest.PathLogin), "attempts")

			srv.ResetCalls()
			_, _ = c.Login(context.Background(), LoginRequest{Email: ann.Email, Password: ann.Password})
			assert.Equal(t, 3, srv.Calls(userauthtest.PathLogin), "without a captcha, Login is replay-safe")
		})
	}
}

// TestClientLogout revokes the session on the fake: every token of the
// user stops working.
func TestClientLogout(t *testing.T) {
	t.Parallel()
	srv, c, _ := fakeAPI(t)
	ctx := context.Background()
	tok, err := c.Login(ctx, LoginRequest{Email: ann.Email, Password: ann.Password})
	require.NoError(t, err)
	other, err := c.Login(ctx, LoginRequest{Email: ann.Email, Password: ann.Password})
	require.NoError(t, err)

	require.NoError(t, c.Logout(ctx, tok.AccessToken))
	for _, access := range []string{tok.AccessToken, other.AccessToken} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+userauthtest.PathAccount, nil)
		req.Header.Set("Authorization", "Bearer "+access)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "every session of the user is revoked")
	}
	_, err = c.RefreshToken(ctx, RefreshRequest{RefreshToken: other.RefreshToken})
	assert.True(t, refused(err, http.StatusUnauthorized), "got %v, want a 401", err)

	err = c.Logout(ctx, tok.AccessToken)
	var ce *ClientError
	require.ErrorAs(t, err, &ce, "a revoked token cannot log out again")
	assert.Equal(t, http.StatusUnauthorized, ce.StatusCode)
	assert.NotContains(t, err.Error(), tok.AccessToken)

	var ve *ValidationError
	assert.ErrorAs(t, c.Logout(ctx, ""), &ve)
	assert.ErrorAs(t, c.Logout(ctx, "a\r\nX-Evil: 1"), &ve)
}

// TestClientLogoutRetries: logout is not needed twice, so it is repeated
// only where the server surely did not act on it.
func TestClientLogoutRetries(t *testing.T) {
	t.Parallel()
	status := func(code int, retryAfter string) httpmock.Responder {
		return func(*http.Request) (*http.Response, error) {
			r := httpmock.NewStringResponse(code, `{"error":"went wrong"}`)
			if retryAfter != "" {
				r.Header.Set("Retry-After", retryAfter)
			}
			return r, nil
		}
	}
	refusedDial := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	tests := []struct {
		name string
		resp httpmock.Responder
		want int
	}{
		{"refused dial", httpmock.NewErrorResponder(refusedDial), 4},
		{"429", status(429, "0"), 4},
		{"503 with Retry-After", status(503, "0"), 1},
		{"502", status(502, ""), 1},
		{"500", status(500, ""), 1},
		{"reset", httpmock.NewErrorResponder(&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}), 1},
		{"204", httpmock.NewStringResponder(204, ""), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mt := newMock(t)
			var auth string
			mt.RegisterResponder(http.MethodPost, testBase+"/logout", func(r *http.Request) (*http.Response, error) {
				auth = r.Header.Get("Authorization")
				var body []byte
				if r.Body != nil {
					body, _ = io.ReadAll(r.Body)
				}
				assert.Empty(t, body, "no body")
				assert.Empty(t, r.Header.Get("Content-Type"))
				return tt.resp(r)
			})
			err := c.Logout(context.Background(), "at-1")
			assert.Equal(t, tt.want, mt.GetTotalCallCount())
			assert.Equal(t, "Bearer at-1", auth)
			if tt.name == "204" {
				assert.NoError(t, err)
			}
		})
	}
}

// TestErrorsUsersCanActOn: a wrong password and a wrong 2FA code, as the
// service answers them, match their sentinels and carry its message.
func TestErrorsUsersCanActOn(t *testing.T) {
	t.Parallel()
	srv, c, secret := fakeAPI(t)
	ctx := context.Background()
	_, err := c.Login(ctx, LoginRequest{Email: ann.Email, Password: "wrong"})
	assert.ErrorIs(t, err, ErrInvalidCredentials)
	assert.NotErrorIs(t, err, ErrInvalidCode)
	assert.Contains(t, err.Error(), "Invalid credentials")
	var ce *ClientError
	require.ErrorAs(t, err, &ce)
	assert.Empty(t, ce.Code, "no code of the server's; not a copy of the status")

	partial, err := c.Login(ctx, LoginRequest{Email: tom.Email, Password: tom.Password})
	require.NoError(t, err)
	_, err = c.TwoFactorAuthentication(ctx, Confirm2FA{Code: "000000", RefreshToken: partial.RefreshToken})
	assert.ErrorIs(t, err, ErrInvalidCode)
	assert.NotErrorIs(t, err, ErrInvalidCredentials)
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "Invalid 2FA code", ce.Message, "the first field message")
	assert.Contains(t, err.Error(), "Invalid 2FA code")

	code, err := srv.Code(secret)
	require.NoError(t, err)
	_, err = c.TwoFactorAuthentication(ctx, Confirm2FA{Code: code, RefreshToken: "spent-or-unknown"})
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, http.StatusUnauthorized, ce.StatusCode)
	assert.NotErrorIs(t, err, ErrInvalidCode, "a 401 refuses the refresh token, not the code")

	_, err = c.RefreshToken(ctx, RefreshRequest{RefreshToken: "unknown"})
	assert.NotErrorIs(t, err, ErrInvalidCredentials, "a refused refresh is not a wrong password")
}
