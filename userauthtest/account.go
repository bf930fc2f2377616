package userauthtest

import (
	"net/http"
	"strings"
)

// account serves GET /account and GET /account/sensitive; the latter also
// needs a 2FA step within the grace period, unless an API key is used.
func (s *Server) account(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, sent := r.Header[APIKeyHeader]; sent {
		k, ok := s.apiKeys[r.Header.Get(APIKeyHeader)]
		if !ok || (!k.expires.IsZero() && !s.now().Before(k.expires)) {
			s.unauthorized(w, "Invalid API key")
			return
		}
		s.writeAccount(w, s.findUser("", "", k.userID))
		return
	}
	u, fam, reason := s.authenticate(r)
	if u == nil {
		s.unauthorized(w, reason)
		return
	}
	if r.URL.Path == PathSensitive && u.TwoFactor != "" && s.now().After(fam.tfaAt.Add(s.cfg.grace2FA)) {
		s.writeError(w, http.StatusFailedDependency, "2FA token expired")
		return
	}
	s.writeAccount(w, u)
}

// writeAccount answers the vendor's CurrentUser (API 0.2.262) for u: the
// account's role and scopes, and the user, whose two_factor_auth lists the
// 2FA methods turned on (null when none).
func (s *Server) writeAccount(w http.ResponseWriter, u *user) {
	var methods []string
	if u.TwoFactor != "" {
		methods = []string{u.TwoFactor}
	}
	s.writeJSON(w, http.StatusOK, map[string]any{
		"role":                "User",
		"global_scopes":       []string{"user:show", "user:writeSelf", "user:createApiKey"},
		"organization_roles":  map[string]string{},
		"organization_scopes": map[string][]string{},
		"pubkeys":             []string{},
		"features":            []any{},
		"pending_transfers":   []string{},
		"user": map[string]any{
			"id": u.ID, "email": u.Email, "alternate_id": u.AlternateID, "role": "User",
			"two_factor_auth": methods, "two_factor_should_prompt": u.TwoFactor == "",
			"free_limit": 1, "remaining_free_emoji": 1, "pubkeys": []string{},
			"created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
		},
	})
}

// logout serves POST /logout: a complete, unexpired bearer token ends every
// session of its user, so all of the user's access tokens and refresh
// tokens, of every login, are refused from then on. It is not a reuse (it
// is not counted by ReuseDetected). An API key does not log out.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, _, reason := s.authenticate(r)
	if u == nil {
		s.unauthorized(w, reason)
		return
	}
	for _, fam := range s.families {
		if fam.userID == u.ID {
			fam.revoked = true
		}
	}
	s.stamp(w, s.now())
	w.WriteHeader(http.StatusNoContent)
}

// unauthorized answers 401 with message.
func (s *Server) unauthorized(w http.ResponseWriter, message string) {
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	s.writeError(w, http.StatusUnauthorized, message)
}

// authenticate checks the bearer token against the fake's record of it:
// issued by the fake, not expired, not revoked, and complete (no pending
// 2FA step). It returns the refusal's message when the token is refused.
func (s *Server) authenticate(r *http.Request) (*user, *family, string) {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || raw == "" {
		return nil, nil, "Missing bearer token"
	}
	at := s.access[raw]
	switch {
	case at == nil:
		return nil, nil, "Invalid access token"
	case !s.now().Before(at.exp):
		return nil, nil, "Access token expired"
	case at.seq <= s.revoked:
		return nil, nil, "Access token revoked"
	case at.pending:
		return nil, nil, "Two factor authentication required"
	}
	fam := s.families[at.family]
	if fam.revoked {
		return nil, nil, "Session revoked"
	}
	return s.findUser("", "", at.userID), fam, ""
}
