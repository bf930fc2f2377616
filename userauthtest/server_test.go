package userauthtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// checked is an http.RoundTripper that validates every answer of the fake
// against api/openapi.yaml, so no test here passes on an answer that
// breaks the contract.
type checked struct {
	t    *testing.T
	c    *contract
	base http.RoundTripper
	// faults checks answers shaped by an injected Fault too, for faults
	// that still answer by the contract (Delay, Hold).
	faults bool
}

func (ch checked) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := ch.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))

	if resp.Header.Get(FaultHeader) != "" && !ch.faults {
		return resp, nil // a planned failure breaks the contract on purpose
	}
	vreq := req.Clone(context.Background())
	vreq.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := ch.c.router.FindRoute(vreq)
	if err != nil {
		ch.t.Errorf("%s %s: not in the contract: %v", req.Method, req.URL.Path, err)
		return resp, nil
	}
	err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	})
	if err != nil {
		ch.t.Errorf("%s %s answered %d %s: breaks the contract: %v", req.Method, req.URL.Path, resp.StatusCode, body, err)
	}
	return resp, nil
}

type fixture struct {
	t      *testing.T
	srv    *Server
	hc     *http.Client
	secret string // tom's TOTP secret
}

func newFixture(t *testing.T, opts ...Option) *fixture {
	t.Helper()
	srv := NewServer(opts...)
	t.Cleanup(srv.Close)
	require.NoError(t, srv.loadErr)
	_, err := srv.AddUser(User{Email: "ann@example.com", AlternateID: "partner-ann", Password: "pw-ann"})
	require.NoError(t, err)
	secret, err := srv.AddUser(User{Email: "tom@example.com", Password: "pw-tom", TwoFactor: TwoFactorTOTP})
	require.NoError(t, err)
	_, err = srv.AddUser(User{Email: "sam@example.com", Password: "pw-sam", TwoFactor: TwoFactorSMS})
	require.NoError(t, err)
	hc := &http.Client{Transport: checked{t: t, c: srv.contract, base: srv.Client().Transport}}
	return &fixture{t: t, srv: srv, hc: hc, secret: secret}
}

type answer struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

func (f *fixture) do(method, path, bearer string, body any) answer {
	f.t.Helper()
	var hdr http.Header
	if bearer != "" {
		hdr = http.Header{"Authorization": {"Bearer " + bearer}}
	}
	return f.doWith(method, path, hdr, body)
}

// doWith sends a request with the headers hdr (and a JSON content type).
func (f *fixture) doWith(method, path string, hdr http.Header, body any) answer {
	f.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		require.NoError(f.t, err)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	require.NoError(f.t, err)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := f.hc.Do(req)
	require.NoError(f.t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	_ = json.Unmarshal(raw, &a.Body)
	return a
}

func (f *fixture) post(path string, body any) answer { return f.do(http.MethodPost, path, "", body) }

func (a answer) str(key string) string { s, _ := a.Body[key].(string); return s }

// userStr is a field of the user of a GET /account answer.
func (a answer) userStr(key string) string {
	u, _ := a.Body["user"].(map[string]any)
	s, _ := u[key].(string)
	return s
}

func (f *fixture) login(email, password string) answer {
	return f.post(PathLogin, map[string]string{"email": email, "password": password})
}

func TestLoginIssuesSignedJWT(t *testing.T) {
	f := newFixture(t, WithAccessTTL(10*time.Minute))
	a := f.login("ann@example.com", "pw-ann")
	require.Equal(t, http.StatusOK, a.Status, a.Raw)
	assert.Nil(t, a.Body["requires_2fa"])
	assert.NotEmpty(t, a.str("refresh_token"))

	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(a.str("access_token"), claims, func(*jwt.Token) (any, error) { return f.srv.key, nil },
		jwt.WithValidMethods([]string{"HS256"}))
	require.NoError(t, err, "a real HS256 JWT")
	exp, err := claims.GetExpirationTime()
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(10*time.Minute), exp.Time, 2*time.Second)

	a = f.post(PathLogin, map[string]string{"alternate_id": "partner-ann", "password": "pw-ann"})
	assert.Equal(t, http.StatusOK, a.Status, "login by alternate id")

	acc := f.do(http.MethodGet, PathAccount, f.login("ann@example.com", "pw-ann").str("access_token"), nil)
	assert.Equal(t, http.StatusOK, acc.Status)
	assert.Equal(t, "ann@example.com", acc.userStr("email"))
}

func TestLoginRefusals(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name   string
		body   any
		status int
		want   string
	}{
		{"wrong password", map[string]string{"email": "ann@example.com", "password": "nope"}, 401, "Invalid credentials"},
		{"unknown user", map[string]string{"email": "who@example.com", "password": "pw"}, 401, "Invalid credentials"},
		{"bad json", `{"email":`, 400, ""},
		{"missing password", map[string]string{"email": "ann@example.com"}, 400, "password"},
		{"wrong type", map[string]any{"email": "ann@example.com", "password": 918273645}, 400, "/password"},
		{"no identity", map[string]string{"password": "pw"}, 422, "email"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := f.post(PathLogin, tt.body)
			assert.Equal(t, tt.status, a.Status, a.Raw)
			assert.Contains(t, a.Raw, tt.want)
			assert.NotContains(t, a.Raw, "918273645", "the violation is named, its value never echoed")
		})
	}
}

func TestRefreshRotatesAndReuseRevokesFamily(t *testing.T) {
	f := newFixture(t)
	first := f.login("ann@example.com", "pw-ann")
	second := f.post(PathRefresh, map[string]string{"refresh_token": first.str("refresh_token")})
	require.Equal(t, http.StatusOK, second.Status, second.Raw)
	assert.NotEqual(t, first.str("refresh_token"), second.str("refresh_token"))
	assert.NotEqual(t, first.str("access_token"), second.str("access_token"))

	// The spent token again: theft. The whole family goes, the new pair too.
	again := f.post(PathRefresh, map[string]string{"refresh_token": first.str("refresh_token")})
	assert.Equal(t, http.StatusUnauthorized, again.Status)
	assert.Contains(t, again.Raw, "reuse detected")
	assert.Equal(t, 1, f.srv.ReuseDetected())
	assert.Equal(t, http.StatusUnauthorized, f.post(PathRefresh, map[string]string{"refresh_token": second.str("refresh_token")}).Status)
	assert.Equal(t, http.StatusUnauthorized, f.do(http.MethodGet, PathAccount, second.str("access_token"), nil).Status)

	// Another session of the same user is untouched.
	other := f.login("ann@example.com", "pw-ann")
	assert.Equal(t, http.StatusOK, f.do(http.MethodGet, PathAccount, other.str("access_token"), nil).Status)

	assert.Equal(t, http.StatusUnauthorized, f.post(PathRefresh, map[string]string{"refresh_token": "made-up"}).Status)
	assert.Equal(t, http.StatusBadRequest, f.post(PathRefresh, map[string]string{}).Status)
}

func TestRefreshReuseGrace(t *testing.T) {
	f := newFixture(t, WithRefreshReuseGrace(10*time.Second))
	first := f.login("ann@example.com", "pw-ann")
	second := f.post(PathRefresh, map[string]string{"refresh_token": first.str("refresh_token")})
	require.Equal(t, http.StatusOK, second.Status)
	assert.Equal(t, http.StatusUnauthorized, f.post(PathRefresh, map[string]string{"refresh_token": first.str("refresh_token")}).Status)
	assert.Equal(t, 0, f.srv.ReuseDetected(), "within the grace: refused, not revoked")
	assert.Equal(t, http.StatusOK, f.post(PathRefresh, map[string]string{"refresh_token": second.str("refresh_token")}).Status)

	f.srv.Advance(11 * time.Second)
	assert.Equal(t, http.StatusUnauthorized, f.post(PathRefresh, map[string]string{"refresh_token": first.str("refresh_token")}).Status)
	assert.Equal(t, 1, f.srv.ReuseDetected())
}

func TestTwoFactorTOTP(t *testing.T) {
	f := newFixture(t, WithAccessTTL(time.Hour))
	partial := f.login("tom@example.com", "pw-tom")
	require.Equal(t, http.StatusOK, partial.Status)
	assert.Equal(t, TwoFactorTOTP, partial.str("requires_2fa"))
	assert.Equal(t, http.StatusUnauthorized, f.do(http.MethodGet, PathAccount, partial.str("access_token"), nil).Status,
		"a partial token opens nothing")

	wrong := f.post(PathTwoFactor, map[string]string{"code": "000000", "refresh_token": partial.str("refresh_token")})
	assert.Equal(t, http.StatusUnprocessableEntity, wrong.Status)
	assert.Contains(t, wrong.Raw, `"fields"`)

	code, err := f.srv.Code(f.secret)
	require.NoError(t, err)
	full := f.post(PathTwoFactor, map[string]string{"code": code, "refresh_token": partial.str("refresh_token")})
	require.Equal(t, http.StatusOK, full.Status, full.Raw)
	assert.Nil(t, full.Body["requires_2fa"])
	assert.Equal(t, http.StatusOK, f.do(http.MethodGet, PathSensitive, full.str("access_token"), nil).Status)

	// Codes are single use, even within their time window.
	reuse := f.post(PathTwoFactor, map[string]string{"code": code, "refresh_token": full.str("refresh_token")})
	assert.Equal(t, http.StatusUnprocessableEntity, reuse.Status)

	// The 2FA grace period ends: sensitive calls answer 424 until a new step.
	f.srv.Advance(16 * time.Minute)
	assert.Equal(t, http.StatusOK, f.do(http.MethodGet, PathAccount, full.str("access_token"), nil).Status)
	assert.Equal(t, http.StatusFailedDependency, f.do(http.MethodGet, PathSensitive, full.str("access_token"), nil).Status)
	code, _ = f.srv.Code(f.secret)
	renewed := f.post(PathTwoFactor, map[string]string{"code": code, "refresh_token": full.str("refresh_token")})
	require.Equal(t, http.StatusOK, renewed.Status, renewed.Raw)
	assert.Equal(t, http.StatusOK, f.do(http.MethodGet, PathSensitive, renewed.str("access_token"), nil).Status)
}

func TestTwoFactorSMSAndRefreshStepUp(t *testing.T) {
	f := newFixture(t)
	partial := f.login("sam@example.com", "pw-sam")
	assert.Equal(t, TwoFactorSMS, partial.str("requires_2fa"))
	code := f.srv.LastSMSCode("sam@example.com")
	require.Len(t, code, 6)
	full := f.post(PathTwoFactor, map[string]string{"code": code, "refresh_token": partial.str("refresh_token")})
	require.Equal(t, http.StatusOK, full.Status, full.Raw)

	f.srv.RequireTwoFactorOnNextRefresh()
	again := f.post(PathRefresh, map[string]string{"refresh_token": full.str("refresh_token")})
	require.Equal(t, http.StatusOK, again.Status)
	assert.Equal(t, TwoFactorSMS, again.str("requires_2fa"), "a refresh answer can ask for 2FA")
	assert.NotEqual(t, code, f.srv.LastSMSCode("sam@example.com"), "a new code was sent")

	notEnabled := f.post(PathTwoFactor, map[string]string{"code": "1", "refresh_token": f.login("ann@example.com", "pw-ann").str("refresh_token")})
	assert.Equal(t, http.StatusUnprocessableEntity, notEnabled.Status)
}

func TestMagicLinkOutbox(t *testing.T) {
	f := newFixture(t)
	a := f.post(PathMagicLink, map[string]string{"email": "ann@example.com", "redirect": "/home"})
	require.Equal(t, http.StatusOK, a.Status)
	unknown := f.post(PathMagicLink, map[string]string{"email": "who@example.com"})
	assert.Equal(t, http.StatusOK, unknown.Status)
	out := f.srv.Outbox()
	require.Len(t, out, 1)
	assert.Equal(t, "ann@example.com", out[0].To)
	assert.Equal(t, "magic_link", out[0].Kind)
	assert.Equal(t, "/home", out[0].Redirect)
	assert.True(t, strings.HasPrefix(out[0].Text, f.srv.URL+"/magic_link?"), out[0].Text)
	assert.Contains(t, out[0].Text, "refresh_token=")

	assert.Equal(t, http.StatusUnprocessableEntity, f.post(PathMagicLink, map[string]string{"user_id": "not-a-uuid"}).Status)
	assert.Equal(t, http.StatusUnprocessableEntity, f.post(PathMagicLink, map[string]string{}).Status)
}

func TestAccountNeedsCompleteFreshBearer(t *testing.T) {
	f := newFixture(t)
	tok := f.login("ann@example.com", "pw-ann").str("access_token")
	assert.Equal(t, http.StatusOK, f.do(http.MethodGet, PathAccount, tok, nil).Status)
	assert.Equal(t, http.StatusUnauthorized, f.do(http.MethodGet, PathAccount, "", nil).Status)
	assert.Equal(t, http.StatusUnauthorized, f.do(http.MethodGet, PathAccount, "garbage", nil).Status)
	forged, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "x", "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte("other key"))
	assert.Equal(t, http.StatusUnauthorized, f.do(http.MethodGet, PathAccount, forged, nil).Status)

	f.srv.ExpireAccessTokens()
	assert.Equal(t, http.StatusUnauthorized, f.do(http.MethodGet, PathAccount, tok, nil).Status)
	fresh := f.login("ann@example.com", "pw-ann").str("access_token")
	assert.Equal(t, http.StatusOK, f.do(http.MethodGet, PathAccount, fresh, nil).Status, "tokens issued after still work")

	f.srv.Advance(16 * time.Minute)
	assert.Equal(t, http.StatusUnauthorized, f.do(http.MethodGet, PathAccount, fresh, nil).Status, "expired by the clock")
}

func TestFaultsFireExactlyNTimes(t *testing.T) {
	f := newFixture(t)
	f.srv.Fail(PathLogin, 2, Fault{Status: 503, RetryAfter: "7", Body: `{"error":"busy"}`})
	for i := range 2 {
		a := f.post(PathLogin, map[string]string{"email": "ann@example.com", "password": "pw-ann"})
		assert.Equal(t, 503, a.Status, "call %d", i)
	}
	assert.Equal(t, http.StatusOK, f.login("ann@example.com", "pw-ann").Status)
	assert.Equal(t, 3, f.srv.Calls(PathLogin))
	assert.Equal(t, map[string]int{PathLogin: 3}, f.srv.AllCalls())
	f.srv.ResetCalls()
	assert.Equal(t, 0, f.srv.Calls(PathLogin))
}

func TestFaultKinds(t *testing.T) {
	srv := NewServer()
	t.Cleanup(srv.Close)
	_, err := srv.AddUser(User{Email: "a@b.c", Password: "p"})
	require.NoError(t, err)
	post := func(hc *http.Client) (*http.Response, []byte, error) {
		resp, err := hc.Post(srv.URL+PathLogin, "application/json", strings.NewReader(`{"email":"a@b.c","password":"p"}`))
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp, body, err
	}

	srv.Fail(PathLogin, 1, Fault{Drop: true})
	_, _, err = post(srv.Client())
	assert.Error(t, err, "dropped connection")

	srv.Fail(PathLogin, 1, Fault{Truncate: true})
	resp, body, err := post(srv.Client())
	require.NotNil(t, resp)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "truncated body")
	assert.False(t, json.Valid(body))

	srv.Fail(PathLogin, 1, Fault{Oversize: 3 << 20})
	_, body, err = post(srv.Client())
	require.NoError(t, err)
	assert.Len(t, body, 3<<20)

	srv.Fail(PathLogin, 1, Fault{Delay: 30 * time.Millisecond})
	start := time.Now()
	resp, _, err = post(srv.Client())
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "a delay alone still answers")
	assert.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond)

	srv.Fail(PathLogin, 1, Fault{Hang: true})
	hc := srv.Client()
	hc.Timeout = 50 * time.Millisecond
	_, _, err = post(hc)
	var ne interface{ Timeout() bool }
	require.True(t, errors.As(err, &ne))
	assert.True(t, ne.Timeout())

	srv.Fail(PathLogin, 1, Fault{Status: 500, Body: "<html>oops</html>", ContentType: "text/html"})
	resp, body, err = post(srv.Client())
	require.NoError(t, err)
	assert.Equal(t, 500, resp.StatusCode)
	assert.Equal(t, "text/html", resp.Header.Get("Content-Type"))
	assert.Equal(t, "<html>oops</html>", string(body))
	assert.Equal(t, 6, srv.Calls(PathLogin))
}

func TestAddUserValidates(t *testing.T) {
	srv := NewUnstartedServer()
	defer srv.Close()
	_, err := srv.AddUser(User{Password: "p"})
	assert.Error(t, err)
	_, err = srv.AddUser(User{Email: "a@b.c", Password: "p", TwoFactor: "Carrier pigeon"})
	assert.Error(t, err)
	_, err = srv.AddUser(User{Email: "a@b.c", Password: "p"})
	require.NoError(t, err)
	_, err = srv.AddUser(User{Email: "a@b.c", Password: "q"})
	assert.Error(t, err, "duplicate")
	assert.Len(t, srv.Users(), 1)
	assert.Regexp(t, uuidPattern, srv.Users()[0].ID)
}

func TestStartAt(t *testing.T) {
	srv := NewUnstartedServer()
	defer srv.Close()
	require.NoError(t, srv.StartAt("127.0.0.1:0"))
	assert.True(t, strings.HasPrefix(srv.URL, "http://127.0.0.1:"))
	resp, err := srv.Client().Get(srv.URL + PathAccount)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opt  Option
		want string // "" for a valid option
	}{
		{"access ttl negative", WithAccessTTL(-time.Second), "userauthtest: WithAccessTTL: -1s is not positive"},
		{"access ttl zero", WithAccessTTL(0), "userauthtest: WithAccessTTL: 0s is not positive"},
		{"access ttl", WithAccessTTL(time.Minute), ""},
		{"2fa grace negative", WithTwoFactorGrace(-2 * time.Minute), "userauthtest: WithTwoFactorGrace: -2m0s is negative"},
		{"2fa grace zero", WithTwoFactorGrace(0), ""},
		{"reuse grace negative", WithRefreshReuseGrace(-time.Millisecond), "userauthtest: WithRefreshReuseGrace: -1ms is negative"},
		{"reuse grace zero", WithRefreshReuseGrace(0), ""},
		{"message hook nil", WithMessageHook(nil), "userauthtest: WithMessageHook: function is nil"},
		{"message hook", WithMessageHook(func(Message) {}), ""},
		{"claims hook nil", WithTokenClaims(nil), "userauthtest: WithTokenClaims: function is nil"},
		{"claims hook", WithTokenClaims(func(map[string]any) {}), ""},
		{"nil option", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := newConfig([]Option{tt.opt})
			if got := errString(err); got != tt.want {
				t.Errorf("newConfig: got error %q, want %q", got, tt.want)
			}
			for name, start := range map[string]func(...Option) *Server{"NewServer": NewServer, "NewUnstartedServer": NewUnstartedServer} {
				got := panicOf(t, func() { start(tt.opt).Close() })
				if errString(got) != tt.want {
					t.Errorf("%s: got panic %v, want %q", name, got, tt.want)
				}
			}
		})
	}
}

func TestOptionsLastWins(t *testing.T) {
	t.Parallel()
	cfg, err := newConfig([]Option{WithAccessTTL(time.Minute), WithAccessTTL(time.Hour)})
	if err != nil {
		t.Fatalf("newConfig: got %v, want no error", err)
	}
	if cfg.accessTTL != time.Hour {
		t.Errorf("access TTL: got %v, want %v", cfg.accessTTL, time.Hour)
	}
	if _, err := newConfig([]Option{WithAccessTTL(-1), WithAccessTTL(time.Hour)}); err == nil {
		t.Error("an invalid option before a valid one: got no error, want one")
	}
}

// panicOf runs f and returns the error it panicked with, nil when it did
// not panic; a panic with something other than an error fails the test.
func panicOf(t *testing.T, f func()) (err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			var ok bool
			if err, ok = r.(error); !ok {
				t.Errorf("got panic with %T %v, want an error", r, r)
			}
		}
	}()
	f()
	return nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// errorOf decodes an error answer strictly: only "error" (a string) and
// "fields" may be there.
func errorOf(t *testing.T, a answer) errorBody {
	t.Helper()
	var eb errorBody
	dec := json.NewDecoder(strings.NewReader(a.Raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&eb); err != nil {
		t.Fatalf("error body %s: got %v, want {\"error\": string, \"fields\": {...}}", a.Raw, err)
	}
	return eb
}

func TestErrorBodies(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	partial := f.login("tom@example.com", "pw-tom")
	noCode := f.login("ann@example.com", "pw-ann")
	tests := []struct {
		name       string
		call       func() answer
		status     int
		message    string // want in "error"; "" when it must be absent
		field      string // want a field error on this field; "" for none
		fieldCode  string
		fieldMatch string // in the field error's message
	}{
		{"wrong password", func() answer { return f.login("ann@example.com", "nope") }, 401, "Invalid credentials", "", "", ""},
		{"unknown refresh token", func() answer { return f.post(PathRefresh, map[string]string{"refresh_token": "made-up"}) }, 401, "Invalid refresh token", "", "", ""},
		{"bad json", func() answer { return f.post(PathLogin, `{"email":`) }, 400, "decode request body", "", "", ""},
		{"contract violation", func() answer { return f.post(PathLogin, map[string]string{"email": "ann@example.com"}) }, 400, "request body: ", "", "", ""},
		{"no identity", func() answer { return f.post(PathLogin, map[string]string{"password": "pw"}) }, 422, "", "email", "required", "email is required"},
		{"wrong 2fa code", func() answer {
			return f.post(PathTwoFactor, map[string]string{"code": "000000", "refresh_token": partial.str("refresh_token")})
		}, 422, "", "code", "invalid", "Invalid 2FA code"},
		{"2fa not enabled", func() answer {
			return f.post(PathTwoFactor, map[string]string{"code": "1", "refresh_token": noCode.str("refresh_token")})
		}, 422, "Two factor authentication is not enabled", "", "", ""},
		{"no bearer", func() answer { return f.do(http.MethodGet, PathAccount, "", nil) }, 401, "Missing bearer token", "", "", ""},
		{"partial bearer", func() answer { return f.do(http.MethodGet, PathAccount, partial.str("access_token"), nil) }, 401, "Two factor authentication required", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.call()
			if a.Status != tt.status {
				t.Fatalf("status: got %d, want %d (%s)", a.Status, tt.status, a.Raw)
			}
			if got := a.Header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type: got %q, want application/json", got)
			}
			eb := errorOf(t, a)
			switch {
			case tt.message == "" && eb.Error != "":
				t.Errorf("error: got %q, want none", eb.Error)
			case !strings.Contains(eb.Error, tt.message):
				t.Errorf("error: got %q, want it to contain %q", eb.Error, tt.message)
			}
			if tt.field == "" {
				if eb.Fields != nil {
					t.Errorf("fields: got %v, want none", eb.Fields)
				}
				return
			}
			fe := eb.Fields[tt.field]
			if len(fe) != 1 || fe[0].Code != tt.fieldCode || !strings.Contains(fe[0].Message, tt.fieldMatch) {
				t.Errorf("fields[%q]: got %+v, want one with code %q and a message with %q", tt.field, fe, tt.fieldCode, tt.fieldMatch)
			}
		})
	}
}

func TestSessionErrorMessages(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	first := f.login("ann@example.com", "pw-ann")
	second := f.post(PathRefresh, map[string]string{"refresh_token": first.str("refresh_token")})
	reuse := f.post(PathRefresh, map[string]string{"refresh_token": first.str("refresh_token")})
	revoked := f.post(PathRefresh, map[string]string{"refresh_token": second.str("refresh_token")})
	tom := newFixture(t, WithTwoFactorGrace(time.Minute))
	partial := tom.login("tom@example.com", "pw-tom")
	code, err := tom.srv.Code(tom.secret)
	require.NoError(t, err)
	full := tom.post(PathTwoFactor, map[string]string{"code": code, "refresh_token": partial.str("refresh_token")})
	tom.srv.Advance(2 * time.Minute)
	expired := tom.do(http.MethodGet, PathSensitive, full.str("access_token"), nil)
	for _, tt := range []struct {
		name    string
		a       answer
		status  int
		message string
	}{
		{"reuse", reuse, 401, "Refresh token reuse detected; session revoked"},
		{"revoked family", revoked, 401, "Session revoked"},
		{"2fa grace over", expired, 424, "2FA token expired"},
	} {
		if tt.a.Status != tt.status {
			t.Errorf("%s: status: got %d, want %d", tt.name, tt.a.Status, tt.status)
		}
		if got := errorOf(t, tt.a); got.Error != tt.message || got.Fields != nil {
			t.Errorf("%s: got %+v, want {Error: %q}", tt.name, got, tt.message)
		}
	}
}

func TestUnservedRequests(t *testing.T) {
	t.Parallel()
	srv := NewServer()
	t.Cleanup(srv.Close)
	tests := []struct {
		method, path string
		status       int
		message      string
		allow        string
	}{
		{http.MethodGet, "/nowhere", 404, "Not found", ""},
		{http.MethodGet, PathLogin, 405, "Method not allowed", http.MethodPost},
		{http.MethodPost, PathAccount, 405, "Method not allowed", http.MethodGet},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			require.NoError(t, err)
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			a := answer{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
			if a.Status != tt.status {
				t.Errorf("status: got %d, want %d", a.Status, tt.status)
			}
			if got := errorOf(t, a); got.Error != tt.message {
				t.Errorf("error: got %q, want %q", got.Error, tt.message)
			}
			if got := resp.Header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow: got %q, want %q", got, tt.allow)
			}
		})
	}
}

func TestEveryRouteIsInTheContract(t *testing.T) {
	t.Parallel()
	srv := NewUnstartedServer()
	defer srv.Close()
	require.NoError(t, srv.loadErr)
	for path, rt := range srv.routes() {
		for method := range rt {
			req, err := http.NewRequest(method, "http://127.0.0.1"+strings.ReplaceAll(path, "{id}", "key-1"), nil)
			require.NoError(t, err)
			if _, _, err := srv.contract.router.FindRoute(req); err != nil {
				t.Errorf("%s %s: got %v, want it in api/openapi.yaml", method, path, err)
			}
		}
	}
}

func TestDateHeaderIsTheFakesClock(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.srv.Advance(72 * time.Hour) // far from the real clock, whatever the rounding
	f.srv.Fail(PathMagicLink, 1, Fault{Status: 503, Body: `{"error":"busy"}`})
	ann := f.login("ann@example.com", "pw-ann")
	tests := []struct {
		name   string
		call   func() answer
		status int
	}{
		{"token answer", func() answer { return f.login("ann@example.com", "pw-ann") }, 200},
		{"error answer", func() answer { return f.login("ann@example.com", "nope") }, 401},
		{"field errors", func() answer { return f.post(PathLogin, map[string]string{"password": "pw"}) }, 422},
		{"contract violation", func() answer { return f.post(PathLogin, `{}`) }, 400},
		{"account", func() answer { return f.do(http.MethodGet, PathAccount, ann.str("access_token"), nil) }, 200},
		{"injected status", func() answer { return f.post(PathMagicLink, map[string]string{"email": "ann@example.com"}) }, 503},
		{"magic link", func() answer { return f.post(PathMagicLink, map[string]string{"email": "ann@example.com"}) }, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.srv.Now().Truncate(time.Second)
			a := tt.call()
			after := f.srv.Now()
			if a.Status != tt.status {
				t.Fatalf("status: got %d, want %d (%s)", a.Status, tt.status, a.Raw)
			}
			date, err := http.ParseTime(a.Header.Get("Date"))
			if err != nil {
				t.Fatalf("Date %q: got %v, want an HTTP date", a.Header.Get("Date"), err)
			}
			if date.Before(before) || date.After(after) {
				t.Errorf("Date: got %v, want between %v and %v (the fake's clock)", date, before, after)
			}
		})
	}
}

func TestDateHeaderMatchesIssuedAt(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.srv.Advance(-5 * time.Hour) // a fake clock behind the machine's
	for _, a := range []answer{
		f.login("ann@example.com", "pw-ann"),
		f.post(PathRefresh, map[string]string{"refresh_token": f.login("ann@example.com", "pw-ann").str("refresh_token")}),
	} {
		require.Equal(t, http.StatusOK, a.Status, a.Raw)
		iat, err := f.claims(a.str("access_token")).GetIssuedAt()
		require.NoError(t, err)
		date, err := http.ParseTime(a.Header.Get("Date"))
		require.NoError(t, err)
		if !date.Equal(iat.Time) {
			t.Errorf("Date: got %v, want the token's iat %v", date, iat.Time)
		}
	}
}

// claims returns the claims of an access token the fake issued, checking
// its signature but not its times.
func (f *fixture) claims(token string) jwt.MapClaims {
	f.t.Helper()
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return f.srv.key, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithoutClaimsValidation())
	require.NoError(f.t, err)
	return claims
}

func TestTokenClaimsHook(t *testing.T) {
	t.Parallel()
	var (
		mu   sync.Mutex
		seen []string // the keys of the first token's claims
	)
	f := newFixture(t, WithAccessTTL(time.Minute), WithTokenClaims(func(c map[string]any) {
		mu.Lock()
		defer mu.Unlock()
		if seen == nil {
			for k := range c {
				seen = append(seen, k)
			}
		}
		delete(c, "iat")
		c["exp"] = c["exp"].(int64) * 1000 // milliseconds, far in the future as seconds
		c["2fa"] = "ok"                    // a partial token claiming to be complete
	}))
	ann := f.login("ann@example.com", "pw-ann")
	require.Equal(t, http.StatusOK, ann.Status, ann.Raw)

	mu.Lock()
	sort.Strings(seen)
	got := strings.Join(seen, ",")
	mu.Unlock()
	if want := "2fa,email,exp,fam,iat,jti,seq,sub"; got != want {
		t.Errorf("claim keys: got %s, want %s", got, want)
	}
	claims := f.claims(ann.str("access_token"))
	if _, ok := claims["iat"]; ok {
		t.Errorf("iat: got %v, want it dropped", claims["iat"])
	}
	f.srv.mu.Lock()
	wantExp := f.srv.access[ann.str("access_token")].exp.UnixMilli()
	f.srv.mu.Unlock()
	if exp, _ := claims["exp"].(float64); int64(exp) != wantExp {
		t.Errorf("exp: got %v, want %d (milliseconds)", claims["exp"], wantExp)
	}

	// The fake judges its tokens by its own record, not by the claims.
	if a := f.do(http.MethodGet, PathAccount, ann.str("access_token"), nil); a.Status != http.StatusOK {
		t.Errorf("rewritten token, fresh: got %d, want 200 (%s)", a.Status, a.Raw)
	}
	partial := f.login("tom@example.com", "pw-tom")
	if a := f.do(http.MethodGet, PathAccount, partial.str("access_token"), nil); a.Status != http.StatusUnauthorized {
		t.Errorf("partial token with 2fa rewritten to ok: got %d, want 401", a.Status)
	}
	f.srv.Advance(time.Minute)
	if a := f.do(http.MethodGet, PathAccount, ann.str("access_token"), nil); a.Status != http.StatusUnauthorized {
		t.Errorf("rewritten token, past its real expiry: got %d, want 401", a.Status)
	}
}

func TestAccessTokenExpiresAtItsExpClaim(t *testing.T) {
	t.Parallel()
	f := newFixture(t, WithAccessTTL(time.Hour))
	tok := f.login("ann@example.com", "pw-ann").str("access_token")
	exp, err := f.claims(tok).GetExpirationTime()
	require.NoError(t, err)
	// Move the clock to one second before exp: still good; then to exp.
	f.srv.Advance(exp.Sub(f.srv.Now()) - time.Second)
	if a := f.do(http.MethodGet, PathAccount, tok, nil); a.Status != http.StatusOK {
		t.Errorf("a second before exp: got %d, want 200", a.Status)
	}
	f.srv.Advance(time.Second)
	if a := f.do(http.MethodGet, PathAccount, tok, nil); a.Status != http.StatusUnauthorized {
		t.Errorf("at exp: got %d, want 401", a.Status)
	}
}

func TestHoldActsThenHoldsTheAnswer(t *testing.T) {
	t.Parallel()
	newHeld := func(t *testing.T) (*fixture, <-chan struct{}) {
		issued := make(chan struct{}, 1)
		f := newFixture(t, WithTokenClaims(func(map[string]any) {
			select {
			case issued <- struct{}{}:
			default:
			}
		}))
		f.hc.Transport = checked{t: t, c: f.srv.contract, base: f.srv.Client().Transport, faults: true}
		return f, issued
	}
	// refreshAsync starts a refresh that ctx can abandon; its error, if any,
	// arrives on the channel.
	refreshAsync := func(ctx context.Context, f *fixture, token string) <-chan error {
		errc := make(chan error, 1)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.srv.URL+PathRefresh,
			strings.NewReader(`{"refresh_token":"`+token+`"}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		go func() {
			resp, err := f.hc.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			errc <- err
		}()
		return errc
	}
	// await returns once the fake has minted a token for the held call.
	await := func(t *testing.T, issued <-chan struct{}) {
		t.Helper()
		select {
		case <-issued:
		case <-time.After(10 * time.Second): // a guard, not a synchronisation
			t.Fatal("got no token minted in 10s, want the held call handled at once")
		}
	}

	t.Run("client gives up", func(t *testing.T) {
		t.Parallel()
		f, issued := newHeld(t)
		first := f.login("ann@example.com", "pw-ann")
		<-issued
		f.srv.Fail(PathRefresh, 1, Fault{Hold: time.Hour})
		ctx, cancel := context.WithCancel(context.Background())
		errc := refreshAsync(ctx, f, first.str("refresh_token"))
		await(t, issued)
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("held refresh: got error %v, want context.Canceled", err)
		}
		// The token rotated although its answer never arrived: presenting it
		// again is reuse.
		again := f.post(PathRefresh, map[string]string{"refresh_token": first.str("refresh_token")})
		if again.Status != http.StatusUnauthorized || again.str("error") != "Refresh token reuse detected; session revoked" {
			t.Errorf("old refresh token again: got %d %s, want 401 reuse detected", again.Status, again.Raw)
		}
		if got := f.srv.ReuseDetected(); got != 1 {
			t.Errorf("ReuseDetected: got %d, want 1", got)
		}
	})

	t.Run("client waits", func(t *testing.T) {
		t.Parallel()
		f, _ := newHeld(t)
		const hold = 50 * time.Millisecond
		f.srv.Fail(PathLogin, 1, Fault{Hold: hold})
		start := time.Now()
		a := f.login("ann@example.com", "pw-ann")
		if elapsed := time.Since(start); elapsed < hold {
			t.Errorf("answer after %v, want after at least %v", elapsed, hold)
		}
		if a.Status != http.StatusOK || a.Header.Get(FaultHeader) != "1" {
			t.Fatalf("held login: got %d with %s %q, want 200 marked as a fault", a.Status, FaultHeader, a.Header.Get(FaultHeader))
		}
		if got := f.do(http.MethodGet, PathAccount, a.str("access_token"), nil).Status; got != http.StatusOK {
			t.Errorf("the held answer's token: got %d, want 200", got)
		}
	})

	t.Run("server closes", func(t *testing.T) {
		t.Parallel()
		f, issued := newHeld(t)
		first := f.login("ann@example.com", "pw-ann")
		<-issued
		f.srv.Fail(PathRefresh, 1, Fault{Hold: time.Hour})
		errc := refreshAsync(context.Background(), f, first.str("refresh_token"))
		await(t, issued)
		f.srv.Close()
		if err := <-errc; err == nil {
			t.Error("refresh held when the server closed: got an answer, want an error")
		}
	})

	t.Run("with truncate", func(t *testing.T) {
		t.Parallel()
		srv := NewServer()
		t.Cleanup(srv.Close)
		_, err := srv.AddUser(User{Email: "a@b.c", Password: "p"})
		require.NoError(t, err)
		srv.Fail(PathLogin, 1, Fault{Hold: time.Millisecond, Truncate: true})
		resp, err := srv.Client().Post(srv.URL+PathLogin, "application/json", strings.NewReader(`{"email":"a@b.c","password":"p"}`))
		require.NoError(t, err)
		defer resp.Body.Close()
		if _, err := io.ReadAll(resp.Body); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("held and truncated body: got %v, want %v", err, io.ErrUnexpectedEOF)
		}
	})
}

func TestMagicLinkStatus(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	annID := ""
	for _, u := range f.srv.Users() {
		if u.Email == "ann@example.com" {
			annID = u.ID
		}
	}
	tests := []struct {
		name   string
		body   map[string]string
		status string
		outbox int // messages in the outbox after the call
	}{
		{"known e-mail", map[string]string{"email": "ann@example.com"}, "Active", 1},
		{"known e-mail, other case", map[string]string{"email": "ANN@example.com"}, "Active", 2},
		{"known user id", map[string]string{"user_id": annID}, "Active", 3},
		{"unknown e-mail", map[string]string{"email": "who@example.com"}, "Inactive", 3},
		{"unknown user id", map[string]string{"user_id": "00000000-0000-4000-8000-000000000000"}, "Inactive", 3},
	}
	for _, tt := range tests { // in order: the outbox grows
		a := f.post(PathMagicLink, tt.body)
		if a.Status != http.StatusOK {
			t.Fatalf("%s: got %d %s, want 200", tt.name, a.Status, a.Raw)
		}
		if got, want := a.str("message"), "Magic link sent"; got != want {
			t.Errorf("%s: message: got %q, want %q", tt.name, got, want)
		}
		if got := a.str("status"); got != tt.status {
			t.Errorf("%s: status: got %q, want %q", tt.name, got, tt.status)
		}
		if got := len(f.srv.Outbox()); got != tt.outbox {
			t.Errorf("%s: outbox: got %d messages, want %d", tt.name, got, tt.outbox)
		}
	}
}

func TestCaptcha(t *testing.T) {
	t.Parallel()
	const (
		older = "g-recaptcha-response"
		later = "g_recaptcha_response"
	)
	tests := []struct {
		name string
		// fields returns the captcha fields of the request, given two
		// fresh answers.
		fields func(a, b string) map[string]string
		code   string // of the field error on g_recaptcha_response; "" for 200
	}{
		{"missing", func(a, b string) map[string]string { return nil }, "required"},
		{"empty", func(a, b string) map[string]string { return map[string]string{older: "", later: ""} }, "required"},
		{"unknown", func(a, b string) map[string]string { return map[string]string{later: "made-up"} }, "invalid"},
		{"today's name", func(a, b string) map[string]string { return map[string]string{later: a} }, ""},
		{"older name", func(a, b string) map[string]string { return map[string]string{older: a} }, ""},
		{"both names, same answer", func(a, b string) map[string]string { return map[string]string{older: a, later: a} }, ""},
		{"both names, one empty", func(a, b string) map[string]string { return map[string]string{older: "", later: a} }, ""},
		{"both names, different answers", func(a, b string) map[string]string { return map[string]string{older: a, later: b} }, "invalid"},
	}
	endpoints := []struct {
		path string
		body map[string]string
	}{
		{PathLogin, map[string]string{"email": "ann@example.com", "password": "pw-ann"}},
		{PathMagicLink, map[string]string{"email": "ann@example.com"}},
	}
	f := newFixture(t, WithCaptcha())
	for _, ep := range endpoints {
		for _, tt := range tests {
			t.Run(ep.path+" "+tt.name, func(t *testing.T) {
				t.Parallel()
				body := map[string]string{}
				for k, v := range ep.body {
					body[k] = v
				}
				for k, v := range tt.fields(f.srv.CaptchaAnswer(), f.srv.CaptchaAnswer()) {
					body[k] = v
				}
				a := f.post(ep.path, body)
				if tt.code == "" {
					if a.Status != http.StatusOK {
						t.Errorf("got %d %s, want 200", a.Status, a.Raw)
					}
					return
				}
				if a.Status != http.StatusUnprocessableEntity {
					t.Fatalf("got %d %s, want 422", a.Status, a.Raw)
				}
				fe := errorOf(t, a).Fields[later]
				if len(fe) != 1 || fe[0].Code != tt.code {
					t.Errorf("fields[%q]: got %+v, want one with code %q", later, fe, tt.code)
				}
			})
		}
	}
}

func TestCaptchaIsSpentByItsCheck(t *testing.T) {
	t.Parallel()
	f := newFixture(t, WithCaptcha())
	login := func(password, answer string) answer {
		return f.post(PathLogin, map[string]string{"email": "ann@example.com", "password": password,
			"g-recaptcha-response": answer, "g_recaptcha_response": answer})
	}
	invalid := func(t *testing.T, a answer) {
		t.Helper()
		fe := errorOf(t, a).Fields["g_recaptcha_response"]
		if a.Status != http.StatusUnprocessableEntity || len(fe) != 1 || fe[0].Code != "invalid" {
			t.Errorf("got %d %s, want 422 invalid on g_recaptcha_response", a.Status, a.Raw)
		}
	}

	t.Run("used once", func(t *testing.T) {
		answer := f.srv.CaptchaAnswer()
		if a := login("pw-ann", answer); a.Status != http.StatusOK {
			t.Fatalf("first use: got %d %s, want 200", a.Status, a.Raw)
		}
		invalid(t, login("pw-ann", answer))
	})
	t.Run("spent by a failed login", func(t *testing.T) {
		answer := f.srv.CaptchaAnswer()
		if a := login("wrong", answer); a.Status != http.StatusUnauthorized {
			t.Fatalf("wrong password: got %d %s, want 401", a.Status, a.Raw)
		}
		invalid(t, login("pw-ann", answer))
	})
	t.Run("spent across endpoints", func(t *testing.T) {
		answer := f.srv.CaptchaAnswer()
		a := f.post(PathMagicLink, map[string]string{"email": "ann@example.com", "g_recaptcha_response": answer})
		if a.Status != http.StatusOK {
			t.Fatalf("magic link: got %d %s, want 200", a.Status, a.Raw)
		}
		invalid(t, login("pw-ann", answer))
	})
	t.Run("two different answers spend neither", func(t *testing.T) {
		first, second := f.srv.CaptchaAnswer(), f.srv.CaptchaAnswer()
		invalid(t, f.post(PathLogin, map[string]string{"email": "ann@example.com", "password": "pw-ann",
			"g-recaptcha-response": first, "g_recaptcha_response": second}))
		if a := login("pw-ann", first); a.Status != http.StatusOK {
			t.Errorf("first answer afterwards: got %d %s, want 200", a.Status, a.Raw)
		}
		if a := login("pw-ann", second); a.Status != http.StatusOK {
			t.Errorf("second answer afterwards: got %d %s, want 200", a.Status, a.Raw)
		}
	})
}

func TestCaptchaIgnoredByDefault(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, body := range []map[string]string{
		{"email": "ann@example.com", "password": "pw-ann"},
		{"email": "ann@example.com", "password": "pw-ann", "g-recaptcha-response": "a", "g_recaptcha_response": "b"},
	} {
		if a := f.post(PathLogin, body); a.Status != http.StatusOK {
			t.Errorf("login %v: got %d %s, want 200", body, a.Status, a.Raw)
		}
	}
	if a := f.post(PathMagicLink, map[string]string{"email": "ann@example.com", "g_recaptcha_response": "x"}); a.Status != http.StatusOK {
		t.Errorf("magic link: got %d %s, want 200", a.Status, a.Raw)
	}
}

func TestLogoutEndsEveryOneOfTheUsersSessions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	refresh := func(rt string) answer { return f.post(PathRefresh, map[string]string{"refresh_token": rt}) }
	account := func(at string) int { return f.do(http.MethodGet, PathAccount, at, nil).Status }

	// Ann has two logins; the second one refreshed, so its first refresh
	// token is spent.
	s1 := f.login("ann@example.com", "pw-ann")
	s2 := f.login("ann@example.com", "pw-ann")
	s2r := refresh(s2.str("refresh_token"))
	require.Equal(t, http.StatusOK, s2r.Status, s2r.Raw)
	// Tom has a complete session and a login still waiting for its 2FA step.
	tomPartial := f.login("tom@example.com", "pw-tom")
	code, err := f.srv.Code(f.secret)
	require.NoError(t, err)
	tom := f.post(PathTwoFactor, map[string]string{"code": code, "refresh_token": tomPartial.str("refresh_token")})
	require.Equal(t, http.StatusOK, tom.Status, tom.Raw)
	tomPending := f.login("tom@example.com", "pw-tom")

	out := f.do(http.MethodPost, PathLogout, s1.str("access_token"), nil)
	if out.Status != http.StatusNoContent || out.Raw != "" {
		t.Fatalf("logout: got %d %q, want 204 and no body", out.Status, out.Raw)
	}
	if out.Header.Get("Date") == "" {
		t.Error("logout: got no Date header, want the fake's clock")
	}
	for name, at := range map[string]string{"s1": s1.str("access_token"), "s2": s2.str("access_token"), "s2 refreshed": s2r.str("access_token")} {
		if got := account(at); got != http.StatusUnauthorized {
			t.Errorf("ann's %s access token after logout: got %d, want 401", name, got)
		}
	}
	for name, rt := range map[string]string{"s1": s1.str("refresh_token"), "s2 spent": s2.str("refresh_token"), "s2 refreshed": s2r.str("refresh_token")} {
		if a := refresh(rt); a.Status != http.StatusUnauthorized {
			t.Errorf("ann's %s refresh token after logout: got %d, want 401", name, a.Status)
		}
	}
	if got := account(tom.str("access_token")); got != http.StatusOK {
		t.Errorf("another user's session: got %d, want 200", got)
	}
	if got := account(f.login("ann@example.com", "pw-ann").str("access_token")); got != http.StatusOK {
		t.Errorf("a login after the logout: got %d, want 200", got)
	}

	// Tom logs out: his pending login's 2FA step is refused too.
	if a := f.do(http.MethodPost, PathLogout, tom.str("access_token"), nil); a.Status != http.StatusNoContent {
		t.Fatalf("tom's logout: got %d %s, want 204", a.Status, a.Raw)
	}
	f.srv.Advance(30 * time.Second) // a fresh code, not the one spent above
	code, err = f.srv.Code(f.secret)
	require.NoError(t, err)
	if a := f.post(PathTwoFactor, map[string]string{"code": code, "refresh_token": tomPending.str("refresh_token")}); a.Status != http.StatusUnauthorized {
		t.Errorf("2FA step of a login from before the logout: got %d %s, want 401", a.Status, a.Raw)
	}
	if a := refresh(tom.str("refresh_token")); a.Status != http.StatusUnauthorized {
		t.Errorf("tom's refresh token after logout: got %d, want 401", a.Status)
	}
	if got := f.srv.ReuseDetected(); got != 0 {
		t.Errorf("ReuseDetected: got %d, want 0 (a logout is not a reuse)", got)
	}
}

func TestLogoutRefusals(t *testing.T) {
	t.Parallel()
	f := newFixture(t, WithAccessTTL(time.Minute))
	expired := f.login("ann@example.com", "pw-ann").str("access_token")
	f.srv.Advance(time.Minute)
	partial := f.login("tom@example.com", "pw-tom").str("access_token")
	loggedOut := f.login("ann@example.com", "pw-ann").str("access_token")
	require.Equal(t, http.StatusNoContent, f.do(http.MethodPost, PathLogout, loggedOut, nil).Status)
	tests := []struct {
		name    string
		bearer  string
		message string
	}{
		{"no bearer", "", "Missing bearer token"},
		{"garbage", "garbage", "Invalid access token"},
		{"expired", expired, "Access token expired"},
		{"2FA pending", partial, "Two factor authentication required"},
		{"logged out", loggedOut, "Session revoked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := f.do(http.MethodPost, PathLogout, tt.bearer, nil)
			if a.Status != http.StatusUnauthorized {
				t.Fatalf("got %d %s, want 401", a.Status, a.Raw)
			}
			if got := errorOf(t, a).Error; got != tt.message {
				t.Errorf("error: got %q, want %q", got, tt.message)
			}
		})
	}
}

func TestAddAPIKey(t *testing.T) {
	t.Parallel()
	srv := NewUnstartedServer()
	defer srv.Close()
	_, err := srv.AddUser(User{Email: "ann@example.com", Password: "p"})
	require.NoError(t, err)
	for _, email := range []string{"who@example.com", ""} {
		key, err := srv.AddAPIKey(email)
		if err == nil || !strings.HasPrefix(err.Error(), "userauthtest: AddAPIKey: ") || key != "" {
			t.Errorf("AddAPIKey(%q): got %q, %v, want no key and a userauthtest: AddAPIKey error", email, key, err)
		}
	}
	k1, err := srv.AddAPIKey("ann@example.com")
	require.NoError(t, err)
	k2, err := srv.AddAPIKey("ann@example.com")
	require.NoError(t, err)
	if k1 == "" || k1 == k2 {
		t.Errorf("two keys: got %q and %q, want two different keys", k1, k2)
	}
}

func TestAPIKeyAuthenticatesAsItsUser(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tomKey, err := f.srv.AddAPIKey("tom@example.com") // a 2FA user who never did a 2FA step
	require.NoError(t, err)
	annKey, err := f.srv.AddAPIKey("ann@example.com")
	require.NoError(t, err)
	ann := f.login("ann@example.com", "pw-ann").str("access_token")
	f.srv.Advance(time.Hour) // past any 2FA grace period; ann's token expired

	tests := []struct {
		name    string
		path    string
		hdr     http.Header
		status  int
		email   string // of the account answered
		message string // of the refusal
	}{
		{"key", PathAccount, http.Header{APIKeyHeader: {tomKey}}, 200, "tom@example.com", ""},
		{"key, sensitive, no 2FA grace", PathSensitive, http.Header{APIKeyHeader: {tomKey}}, 200, "tom@example.com", ""},
		{"other user's key", PathAccount, http.Header{APIKeyHeader: {annKey}}, 200, "ann@example.com", ""},
		{"wrong key", PathAccount, http.Header{APIKeyHeader: {"key-made-up"}}, 401, "", "Invalid API key"},
		{"empty key", PathSensitive, http.Header{APIKeyHeader: {""}}, 401, "", "Invalid API key"},
		{"key checked, not the bearer", PathAccount, http.Header{APIKeyHeader: {tomKey}, "Authorization": {"Bearer garbage"}}, 200, "tom@example.com", ""},
		{"wrong key beside a bearer", PathAccount, http.Header{APIKeyHeader: {"key-made-up"}, "Authorization": {"Bearer " + ann}}, 401, "", "Invalid API key"},
		{"expired bearer, no key", PathAccount, http.Header{"Authorization": {"Bearer " + ann}}, 401, "", "Access token expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := f.doWith(http.MethodGet, tt.path, tt.hdr, nil)
			if a.Status != tt.status {
				t.Fatalf("got %d %s, want %d", a.Status, a.Raw, tt.status)
			}
			if tt.status != http.StatusOK {
				if got := errorOf(t, a).Error; got != tt.message {
					t.Errorf("error: got %q, want %q", got, tt.message)
				}
				return
			}
			if got := a.userStr("email"); got != tt.email {
				t.Errorf("account: got %q, want %q", got, tt.email)
			}
		})
	}
}

func TestAPIKeyIsNoSession(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	key, err := f.srv.AddAPIKey("ann@example.com")
	require.NoError(t, err)
	withKey := http.Header{APIKeyHeader: {key}}
	a := f.doWith(http.MethodPost, PathLogout, withKey, nil)
	if a.Status != http.StatusUnauthorized {
		t.Errorf("logout with an API key: got %d %s, want 401", a.Status, a.Raw)
	}
	ann := f.login("ann@example.com", "pw-ann").str("access_token")
	require.Equal(t, http.StatusNoContent, f.do(http.MethodPost, PathLogout, ann, nil).Status)
	if a := f.doWith(http.MethodGet, PathAccount, withKey, nil); a.Status != http.StatusOK {
		t.Errorf("the key after its user logged out: got %d %s, want 200", a.Status, a.Raw)
	}
}
