package userauthtest

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"
)

// apiKey is an API key of the fake, with what DisplayApiKey shows of it.
type apiKey struct {
	key, userID, name string
	scopes            []string
	created, expires  time.Time
}

// display is the vendor's DisplayApiKey for k.
func (k *apiKey) display() map[string]any {
	d := map[string]any{"api_key": k.key, "name": k.name, "scopes": k.scopes, "created_at": k.created.UTC().Format(time.RFC3339)}
	if !k.expires.IsZero() {
		d["expires_at"] = k.expires.UTC().Format(time.RFC3339)
	}
	return d
}

// createAPIKey serves POST /api_keys: a new key for the bearer token's user.
func (s *Server) createAPIKey(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name      string    `json:"name"`
		ExpiresAt time.Time `json:"expires_at"`
		Scopes    []string  `json:"scopes"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		s.writeError(w, http.StatusBadRequest, "decode request body: "+err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.signedIn(w, r)
	if u == nil {
		return
	}
	if req.Scopes == nil {
		req.Scopes = []string{"user:show"}
	}
	k := &apiKey{key: "key-" + randomHex(24), userID: u.ID, name: req.Name, scopes: req.Scopes, created: s.now(), expires: req.ExpiresAt}
	s.apiKeys[k.key] = k
	s.writeJSON(w, http.StatusOK, k.display())
}

// listAPIKeys serves GET /api_keys: the keys of the bearer token's user,
// oldest first, whole (the API does not say whether it masks them).
func (s *Server) listAPIKeys(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.signedIn(w, r)
	if u == nil {
		return
	}
	var mine []*apiKey
	for _, k := range s.apiKeys {
		if k.userID == u.ID {
			mine = append(mine, k)
		}
	}
	slices.SortFunc(mine, func(a, b *apiKey) int {
		if c := a.created.Compare(b.created); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	out := make([]map[string]any, 0, len(mine))
	for _, k := range mine {
		out = append(out, k.display())
	}
	s.writeJSON(w, http.StatusOK, out)
}

// deleteAPIKey serves DELETE /api_keys/{id}, {id} being the key: it
// answers the key as it was; 404 for a key the user does not have.
func (s *Server) deleteAPIKey(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.signedIn(w, r)
	if u == nil {
		return
	}
	k, ok := s.apiKeys[strings.TrimPrefix(r.URL.Path, PathAPIKeys+"/")]
	if !ok || k.userID != u.ID {
		s.writeError(w, http.StatusNotFound, "API key not found")
		return
	}
	delete(s.apiKeys, k.key)
	s.writeJSON(w, http.StatusOK, k.display())
}

// signedIn is the user of r's bearer token, or nil after answering 401.
// Called with s.mu held.
func (s *Server) signedIn(w http.ResponseWriter, r *http.Request) *user {
	u, _, reason := s.authenticate(r)
	if u == nil {
		s.unauthorized(w, reason)
	}
	return u
}
