package userauth

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// Scope is a permission of an account or an API key, such as "user:show".
// The API's set is open: a scope this package does not name decodes as it
// is. The constants name the ones an API key for a service commonly needs.
type Scope string

// Scopes an API key for a service commonly holds.
const (
	ScopeUserShow      Scope = "user:show"         // read the account
	ScopeUserWrite     Scope = "user:write"        // change any user (admin)
	ScopeUserWriteSelf Scope = "user:writeSelf"    // change one's own user
	ScopeCreateAPIKey  Scope = "user:createApiKey" // create API keys
	ScopeTokenRefresh  Scope = "token:refresh"     // renew tokens
	ScopeAuthTwoFactor Scope = "auth:twoFactor"    // complete 2FA steps
	ScopeOrderRead     Scope = "order:read"        // read any order (admin)
	ScopeOrderReadSelf Scope = "order:readSelf"    // read one's own orders
)

// APIKey is an API key as the API shows it (the vendor's DisplayApiKey).
// Key is the secret a server sends in the X-Api-Key header (use it with
// Client.APIKeyClient); String, GoString and LogValue never show it.
type APIKey struct {
	// Key is the key itself. Whether a listed key is whole or masked, the
	// API does not say.
	Key string `json:"api_key"`
	// Name is the name given at creation.
	Name string `json:"name"`
	// Scopes are what the key may do.
	Scopes []Scope `json:"scopes"`
	// CreatedAt is when the key was made.
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is when the key stops working; zero for never.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// String formats k with its key redacted.
func (k APIKey) String() string {
	return fmt.Sprintf("userauth.APIKey{Name:%q, Key:%s, Scopes:%q, CreatedAt:%s, ExpiresAt:%s}",
		k.Name, secret(k.Key), k.Scopes, k.CreatedAt.Format(time.RFC3339), k.ExpiresAt.Format(time.RFC3339))
}

// GoString is like String; it keeps %#v from printing the key.
func (k APIKey) GoString() string { return k.String() }

// LogValue implements slog.LogValuer with the key redacted.
func (k APIKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", k.Name), secretAttr("api_key", k.Key),
		slog.Any("scopes", k.Scopes), slog.Time("created_at", k.CreatedAt), slog.Time("expires_at", k.ExpiresAt))
}

// CreateAPIKeyRequest is the body of POST /api_keys (the vendor's
// CreateApiKeyBody).
type CreateAPIKeyRequest struct {
	// Name names the key; required.
	Name string `json:"name"`
	// ExpiresAt is when the key stops working; zero for never.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// Scopes are what the key may do; none leaves the choice to the API.
	Scopes []Scope `json:"scopes,omitempty"`
}

func (r CreateAPIKeyRequest) validate() error {
	switch {
	case r.Name == "":
		return &ValidationError{Field: "name", Reason: "is required"}
	case !r.ExpiresAt.IsZero() && r.ExpiresAt.Year() < 2000:
		return &ValidationError{Field: "expires_at", Reason: "is before the year 2000: zero means never"}
	}
	for _, sc := range r.Scopes {
		if sc == "" {
			return &ValidationError{Field: "scopes", Reason: "holds an empty scope"}
		}
	}
	return nil
}

// CreateAPIKey creates an API key for the session's user (POST /api_keys;
// the session needs the user:createApiKey scope) and returns it, the key
// included. It is never sent twice but after a 401 or a 424 (the 2FA step
// taken), which the server answers before it acts: a repeat would make a
// second key.
func (s *TokenStore) CreateAPIKey(ctx context.Context, req CreateAPIKeyRequest) (*APIKey, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	u := s.apiURL("api_keys")
	var k APIKey
	if err := s.authCall(ctx, http.MethodPost, u, u.Path, req, apiKeyAnswer{&k}); err != nil {
		return nil, err
	}
	return &k, nil
}

// APIKeys lists the API keys of the session's user (GET /api_keys).
func (s *TokenStore) APIKeys(ctx context.Context) ([]APIKey, error) {
	u := s.apiURL("api_keys")
	var keys []APIKey
	if err := s.authCall(ctx, http.MethodGet, u, u.Path, nil, apiKeyList{&keys}); err != nil {
		return nil, err
	}
	return keys, nil
}

// DeleteAPIKey deletes an API key (DELETE /api_keys/{id}) and returns it as
// it was. The API does not say what id is (its listings carry no id field;
// the key itself works with the SDK's fake server): it is sent verbatim, as
// one path segment, and never shown in an error.
func (s *TokenStore) DeleteAPIKey(ctx context.Context, id string) (*APIKey, error) {
	switch id {
	case "":
		return nil, &ValidationError{Field: "id", Reason: "is required"}
	case ".", "..": // a dot segment: servers resolve it to another path
		return nil, &ValidationError{Field: "id", Reason: "is a dot segment, which names no key"}
	}
	u := s.apiURL("api_keys", id)
	shown := s.apiURL("api_keys").Path + "/{id}"
	var k APIKey
	if err := s.authCall(ctx, http.MethodDelete, u, shown, nil, apiKeyAnswer{&k}, id); err != nil {
		return nil, err
	}
	return &k, nil
}

// apiKeyAnswer decodes one APIKey.
type apiKeyAnswer struct{ k *APIKey }

func (r apiKeyAnswer) decode(data []byte, h http.Header, secrets []string) error {
	if err := (jsonObject{r.k}).decode(data, h, secrets); err != nil {
		return err
	}
	if r.k.Key == "" {
		return contractError("missing api_key")
	}
	return nil
}

// apiKeyList decodes the bare JSON array GET /api_keys answers.
type apiKeyList struct{ keys *[]APIKey }

func (r apiKeyList) decode(data []byte, _ http.Header, _ []string) error {
	if t := bytes.TrimSpace(data); len(t) == 0 || t[0] != '[' {
		return contractError("not a JSON array")
	}
	return json.Unmarshal(data, r.keys)
}
