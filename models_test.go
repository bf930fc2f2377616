package userauth

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTokenResponseDecoding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want TokenResponse
	}{
		{"minimal", `{"access_token":"a","refresh_token":"r"}`, TokenResponse{AccessToken: "a", RefreshToken: "r"}},
		{"null 2fa", `{"access_token":"a","refresh_token":"r","requires_2fa":null}`, TokenResponse{AccessToken: "a", RefreshToken: "r"}},
		{"empty 2fa", `{"access_token":"a","refresh_token":"r","requires_2fa":""}`, TokenResponse{AccessToken: "a", RefreshToken: "r"}},
		{"unknown 2fa kept", `{"access_token":"a","refresh_token":"r","requires_2fa":"Passkey"}`,
			TokenResponse{AccessToken: "a", RefreshToken: "r", Requires2FA: "Passkey"}},
		{"unknown fields", `{"access_token":"a","refresh_token":"r","expires_in":3,"scope":["x"]}`,
			TokenResponse{AccessToken: "a", RefreshToken: "r"}},
		{"null has_password", `{"access_token":"a","refresh_token":"r","has_password":null}`,
			TokenResponse{AccessToken: "a", RefreshToken: "r"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got TokenResponse
			require.NoError(t, got.decode([]byte(tt.in), http.Header{}, nil))
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestRequestJSONOmitsEmptyOptionals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   any
		want string
	}{
		{LoginRequest{Password: "p", Email: "e"}, `{"password":"p","email":"e"}`},
		{LoginRequest{}, `{"password":""}`},
		{MagicLinkLoginRequest{UserID: "u"}, `{"user_id":"u"}`},
		{RefreshRequest{}, `{"refresh_token":""}`},
		{Confirm2FA{}, `{"code":"","refresh_token":""}`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.in)
		require.NoError(t, err)
		assert.JSONEq(t, tt.want, string(b))
	}
}

func TestIsUUID(t *testing.T) {
	t.Parallel()
	assert.True(t, isUUID("0f8fad5b-d9cb-469f-a165-70867728950e"))
	assert.True(t, isUUID("0F8FAD5B-D9CB-469F-A165-70867728950E"))
	for _, s := range []string{"", "0f8fad5bd9cb469fa16570867728950e", "0f8fad5b-d9cb-469f-a165-70867728950", "0f8fad5b-d9cb-469f-a165+70867728950e", "gf8fad5b-d9cb-469f-a165-70867728950e"} {
		assert.False(t, isUUID(s), s)
	}
}

func FuzzDecodeTokenResponse(f *testing.F) {
	for _, seed := range []string{
		`{"access_token":"a","refresh_token":"r"}`,
		`{"access_token":"a","refresh_token":"r","requires_2fa":"GoogleAuthenticator","has_password":false}`,
		`{"access_token":"a","refresh_token":"r","requires_2fa":null}`,
		`{"access_token":1}`,
		`[]`, `null`, ``, `{"access_token":"a","refre`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var tr TokenResponse
		if err := json.Unmarshal(data, &tr); err != nil {
			return
		}
		if tr.decode(data, http.Header{}, nil) == nil && (tr.AccessToken == "" || tr.RefreshToken == "") {
			t.Fatalf("check accepted %v with an empty token", tr)
		}
		// The redacted forms never show a token.
		s := tr.String()
		for _, tok := range []string{tr.AccessToken, tr.RefreshToken} {
			if len(tok) > len(redacted) && strings.Contains(s, tok) {
				t.Fatalf("String %q shows a token", s)
			}
		}
	})
}

// TestCaptchaUnderBothNames: requests carry the captcha answer under both
// names the API has used, and read it back from either.
func TestCaptchaUnderBothNames(t *testing.T) {
	t.Parallel()
	data, err := json.Marshal(LoginRequest{Email: "a@b.c", Password: "p", RecaptchaResponse: `x"<&`})
	require.NoError(t, err)
	assert.JSONEq(t, `{"email":"a@b.c","password":"p","g-recaptcha-response":"x\"<&","g_recaptcha_response":"x\"<&"}`, string(data))
	for _, in := range []string{
		`{"password":"p","g-recaptcha-response":"c"}`,
		`{"password":"p","g_recaptcha_response":"c"}`,
		`{"password":"p","g-recaptcha-response":"c","g_recaptcha_response":"c"}`,
	} {
		var lr LoginRequest
		require.NoError(t, json.Unmarshal([]byte(in), &lr))
		assert.Equal(t, "c", lr.RecaptchaResponse, in)
		var mr MagicLinkLoginRequest
		require.NoError(t, json.Unmarshal([]byte(in), &mr))
		assert.Equal(t, "c", mr.RecaptchaResponse, in)
	}
	data, err = json.Marshal(MagicLinkLoginRequest{Email: "a@b.c"})
	require.NoError(t, err)
	assert.JSONEq(t, `{"email":"a@b.c"}`, string(data), "no answer: neither name")
}
