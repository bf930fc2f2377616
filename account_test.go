package userauth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tarilabs/userauth/userauthtest"
)

// TestAccountNamesWhomTheSessionBelongsTo: the store's Account is the
// signed-in user, with their 2FA state.
func TestAccountNamesWhomTheSessionBelongsTo(t *testing.T) {
	t.Parallel()
	srv, c, secret := fakeAPI(t)
	ctx := context.Background()
	for _, tc := range []struct {
		login      LoginRequest
		twoFactor  TwoFactorMethods
		shouldAsk  bool
		handlerFor string
	}{
		{ann, nil, true, ""},
		{tom, TwoFactorMethods{TwoFactorGoogleAuthenticator}, false, secret},
	} {
		var opts []StoreOption
		if tc.handlerFor != "" {
			h, err := TOTPHandler(tc.handlerFor)
			require.NoError(t, err)
			opts = append(opts, WithTwoFactorHandler(h))
		}
		store := mustStore(t, c, nil, append(opts, WithClock(srv.Now))...)
		_, err := store.Login(ctx, tc.login)
		require.NoError(t, err)
		acc, err := store.Account(ctx)
		require.NoError(t, err)
		assert.Equal(t, tc.login.Email, acc.User.Email)
		assert.NotEmpty(t, acc.User.ID)
		assert.Equal(t, "User", acc.Role)
		assert.Equal(t, tc.twoFactor, acc.User.TwoFactorAuth)
		assert.Equal(t, len(tc.twoFactor) > 0, acc.TwoFactorEnabled())
		assert.Equal(t, tc.shouldAsk, acc.User.TwoFactorShouldPrompt)
	}
}

// TestTwoFactorAuthDecodesEveryVersionsForm: API 0.1 sends one method or
// null, 0.2 a list; both decode, unknown methods as they are.
func TestTwoFactorAuthDecodesEveryVersionsForm(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		json string
		want TwoFactorMethods
	}{
		{`null`, nil},
		{`""`, nil},
		{`"GoogleAuthenticator"`, TwoFactorMethods{TwoFactorGoogleAuthenticator}},
		{`[]`, TwoFactorMethods{}},
		{`["GoogleAuthenticator","SMS"]`, TwoFactorMethods{TwoFactorGoogleAuthenticator, TwoFactorSMS}},
		{`["Passkey"]`, TwoFactorMethods{"Passkey"}},
	} {
		var u AccountUser
		require.NoError(t, json.Unmarshal([]byte(`{"id":"u1","two_factor_auth":`+tc.json+`}`), &u), tc.json)
		assert.Equal(t, tc.want, u.TwoFactorAuth, tc.json)
	}
	var u AccountUser
	assert.Error(t, json.Unmarshal([]byte(`{"two_factor_auth":7}`), &u))
	require.NoError(t, json.Unmarshal([]byte(`{"id":"u1"}`), &u))
	assert.Nil(t, u.TwoFactorAuth, "absent")
}

// TestAccountRenewsAnExpiredSession: the call goes through the store's
// transport, so a 401 renews the tokens and the call is made again.
func TestAccountRenewsAnExpiredSession(t *testing.T) {
	t.Parallel()
	e := newStoreEnv(t, nil, nil)
	ctx := context.Background()
	_, err := e.store.Login(ctx, ann)
	require.NoError(t, err)
	e.srv.ExpireAccessTokens()
	acc, err := e.store.Account(ctx)
	require.NoError(t, err)
	assert.Equal(t, ann.Email, acc.User.Email)
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathRefresh))
}

// TestAccountFailsTyped: no session is ErrLoginRequired; an answer that is
// not an account is a *DecodeError; a refusal is the API's typed error.
func TestAccountFailsTyped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newStoreEnv(t, nil, nil)
	_, err := e.store.Account(ctx)
	assert.ErrorIs(t, err, ErrLoginRequired)

	for body, status := range map[string]int{`<html>`: 200, `{"role":"User"}`: 200, `{"error":"gone"}`: 410} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			w.Write([]byte(body))
		}))
		t.Cleanup(srv.Close)
		c, err := NewClient(srv.URL)
		require.NoError(t, err)
		store := mustStore(t, c, nil)
		_, err = store.SetToken(ctx, &TokenResponse{AccessToken: "at", RefreshToken: "rt"})
		require.NoError(t, err)
		_, err = store.Account(ctx)
		if status == 200 {
			var de *DecodeError
			assert.ErrorAs(t, err, &de, body)
		} else {
			var ce *ClientError
			assert.ErrorAs(t, err, &ce, body)
		}
	}
}
