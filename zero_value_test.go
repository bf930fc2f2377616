package userauth_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tarilabs/userauth"
)

// TestZeroValueTokenStoreErrorsAndNeverPanicsOrBlocks: a TokenStore that
// NewTokenStore did not make answers every call with a *ValidationError,
// at once.
func TestZeroValueTokenStoreErrorsAndNeverPanicsOrBlocks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	calls := map[string]func(s *userauth.TokenStore) error{
		"AccessToken": func(s *userauth.TokenStore) error { _, err := s.AccessToken(ctx); return err },
		"Token":       func(s *userauth.TokenStore) error { _, err := s.Token(ctx); return err },
		"Refresh":     func(s *userauth.TokenStore) error { _, err := s.Refresh(ctx); return err },
		"Login": func(s *userauth.TokenStore) error {
			_, err := s.Login(ctx, userauth.LoginRequest{Email: "a@b.test", Password: "pw"})
			return err
		},
		"SetToken": func(s *userauth.TokenStore) error {
			_, err := s.SetToken(ctx, &userauth.TokenResponse{AccessToken: "a", RefreshToken: "r"})
			return err
		},
		"CompleteTwoFactor": func(s *userauth.TokenStore) error { _, err := s.CompleteTwoFactor(ctx, "123456"); return err },
		"CompleteMagicLink": func(s *userauth.TokenStore) error {
			_, err := s.CompleteMagicLink(ctx, "https://x.test/?refresh_token=r")
			return err
		},
		"Logout":      func(s *userauth.TokenStore) error { return s.Logout(ctx) },
		"LogoutLocal": func(s *userauth.TokenStore) error { return s.LogoutLocal(ctx) },
		"Shutdown":    func(s *userauth.TokenStore) error { return s.Shutdown(ctx) },
		"Account":     func(s *userauth.TokenStore) error { _, err := s.Account(ctx); return err },
		"APIKeys":     func(s *userauth.TokenStore) error { _, err := s.APIKeys(ctx); return err },
		"TokenSource": func(s *userauth.TokenStore) error { _, err := s.TokenSource(ctx).Token(); return err },
		"HTTPClient": func(s *userauth.TokenStore) error {
			req, err := http.NewRequest(http.MethodGet, "https://api.example.test/account", nil)
			require.NoError(t, err)
			resp, err := s.HTTPClient().Do(req)
			if resp != nil {
				resp.Body.Close()
			}
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			var s userauth.TokenStore
			err := call(&s)
			var ve *userauth.ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Contains(t, err.Error(), "NewTokenStore")
		})
	}
	var s userauth.TokenStore
	assert.Contains(t, fmt.Sprintf("%v %#v", &s, &s), "not made by NewTokenStore")
}
