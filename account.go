package userauth

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
)

// Account is the signed-in user's account as GET /account answers it (the
// vendor's CurrentUser), as far as authentication needs it: whom the
// session belongs to, their role and scopes, and their 2FA state. Fields
// the API adds are ignored.
type Account struct {
	// Role is the account's role: "User", "Admin", "Bot" and so on.
	Role string `json:"role"`
	// GlobalScopes are the scopes the account holds everywhere.
	GlobalScopes []Scope `json:"global_scopes"`
	// User is the user behind the account.
	User AccountUser `json:"user"`
}

// AccountUser is the user part of an Account.
type AccountUser struct {
	// ID is the user's UUID.
	ID string `json:"id"`
	// Email and AlternateID identify the user at login; either may be "".
	Email       string `json:"email"`
	AlternateID string `json:"alternate_id"`
	// Role is the user's role.
	Role string `json:"role"`
	// TwoFactorAuth lists the second factors the user has turned on; empty
	// when 2FA is off. API 0.1 sends one method or null, 0.2 a list: both
	// decode here.
	TwoFactorAuth TwoFactorMethods `json:"two_factor_auth"`
	// TwoFactorShouldPrompt says the API wants the user asked to turn 2FA
	// on (API 0.2; false when absent).
	TwoFactorShouldPrompt bool `json:"two_factor_should_prompt"`
}

// TwoFactorEnabled reports whether the user has turned on a second factor:
// the API has no flag for it but a non-empty two_factor_auth.
func (a *Account) TwoFactorEnabled() bool { return len(a.User.TwoFactorAuth) > 0 }

// TwoFactorMethods is a list of second factors. It decodes the API's
// null, a single method ("GoogleAuthenticator", as API 0.1 sends it) and a
// list (["GoogleAuthenticator", "SMS"], as API 0.2 does); methods it does
// not know decode as they are.
type TwoFactorMethods []TwoFactorMethod

// UnmarshalJSON decodes null, a string or an array of strings.
func (m *TwoFactorMethods) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	switch {
	case bytes.Equal(data, []byte("null")):
		*m = nil
		return nil
	case len(data) > 0 && data[0] == '"':
		var one TwoFactorMethod
		if err := json.Unmarshal(data, &one); err != nil {
			return err
		}
		*m = nil
		if one != "" {
			*m = TwoFactorMethods{one}
		}
		return nil
	}
	var list []TwoFactorMethod
	if err := json.Unmarshal(data, &list); err != nil {
		return contractError("two_factor_auth is neither a method nor a list of methods")
	}
	*m = list
	return nil
}

// Account returns the account the store's session belongs to, from an
// authenticated GET /account through the store's transport: renewed on a
// 401, with the 2FA step of a 424 when the store has a TwoFactorHandler,
// as for any request of HTTPClient. A refusal is a *ClientError or a
// *ServerError (as CheckResponse makes them), no session ErrLoginRequired,
// and an answer that is not an account a *DecodeError.
func (s *TokenStore) Account(ctx context.Context) (*Account, error) {
	u := s.apiURL("account")
	var a Account
	if err := s.authCall(ctx, http.MethodGet, u, u.Path, nil, accountAnswer{&a}); err != nil {
		return nil, err
	}
	return &a, nil
}

// accountAnswer decodes an Account as a Client call decodes its answer.
type accountAnswer struct{ a *Account }

func (r accountAnswer) decode(data []byte, h http.Header, secrets []string) error {
	if err := (jsonObject{r.a}).decode(data, h, secrets); err != nil {
		return err
	}
	if r.a.User.ID == "" {
		return contractError("missing user.id")
	}
	return nil
}
