package userauthtest

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// route is what the fake serves on one path, by method.
type route map[string]http.HandlerFunc

// routes are the operations the fake serves, by path; a path parameter is
// written {id}.
func (s *Server) routes() map[string]route {
	return map[string]route{
		PathLogin:             {http.MethodPost: s.login},
		PathMagicLink:         {http.MethodPost: s.magicLink},
		PathRefresh:           {http.MethodPost: s.refreshTokens},
		PathTwoFactor:         {http.MethodPost: s.twoFactor},
		PathAccount:           {http.MethodGet: s.account},
		PathSensitive:         {http.MethodGet: s.account},
		PathLogout:            {http.MethodPost: s.logout},
		PathAPIKeys:           {http.MethodGet: s.listAPIKeys, http.MethodPost: s.createAPIKey},
		PathEnable2FA:         {http.MethodPost: s.enable2FA},
		PathConfirm2FA:        {http.MethodPost: s.confirm2FA},
		PathDisable2FA:        {http.MethodPost: s.disable2FA},
		PathBackupDisable2FA:  {http.MethodPost: s.backupDisable2FA},
		PathAPIKeys + "/{id}": {http.MethodDelete: s.deleteAPIKey},
	}
}

// routeOf is the route path names: path, or its pattern with {id}.
func routeOf(path string) string {
	if id, ok := strings.CutPrefix(path, PathAPIKeys+"/"); ok && id != "" {
		return PathAPIKeys + "/{id}"
	}
	return path
}

func (s *Server) handler() http.Handler {
	routes := s.routes()
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt, ok := routes[routeOf(r.URL.Path)]
		serve, allowed := rt[r.Method]
		switch {
		case !ok:
			s.writeError(w, http.StatusNotFound, "Not found")
		case !allowed:
			w.Header().Set("Allow", strings.Join(slices.Sorted(maps.Keys(rt)), ", "))
			s.writeError(w, http.StatusMethodNotAllowed, "Method not allowed")
		case s.loadErr != nil:
			s.writeError(w, http.StatusInternalServerError, s.loadErr.Error())
		default:
			// Every operation the fake serves is in the contract: a request
			// that breaks it is answered 400, naming the violation.
			if msg := s.contract.checkRequest(r); msg != "" {
				s.writeError(w, http.StatusBadRequest, msg)
				return
			}
			serve(w, r)
		}
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.calls[r.URL.Path]++
		var f *Fault
		if q := s.faults[r.URL.Path]; len(q) > 0 {
			f = &q[0]
			s.faults[r.URL.Path] = q[1:]
		}
		s.mu.Unlock()
		if f == nil {
			next.ServeHTTP(w, r)
			return
		}
		s.fault(w, r, f, next)
	})
}

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// writeJSON answers v as JSON. The Date header is the fake's clock, unless
// the handler set it already (to the time it stamped in a token).
func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	if w.Header().Get("Date") == "" {
		s.stamp(w, s.now())
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers the service's error body, {"error": message}.
func (s *Server) writeError(w http.ResponseWriter, status int, message string) {
	s.writeJSON(w, status, errorBody{Error: message})
}

// stamp sets the Date header to t, so that a client reading Date sees the
// fake's clock, not the machine's.
func (s *Server) stamp(w http.ResponseWriter, t time.Time) {
	w.Header().Set("Date", t.UTC().Format(http.TimeFormat))
}

// errorBody is the service's error body: a message, field errors, or both.
type errorBody struct {
	Error  string                  `json:"error,omitempty"`
	Fields map[string][]fieldError `json:"fields,omitempty"`
}

type fieldError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeFields answers 422 with field errors, {"fields": {name: [...]}}.
func (s *Server) writeFields(w http.ResponseWriter, fields map[string][]fieldError) {
	s.writeJSON(w, http.StatusUnprocessableEntity, errorBody{Fields: fields})
}

func required(field string) map[string][]fieldError {
	return map[string][]fieldError{field: {{Code: "required", Message: field + " is required"}}}
}

// decode reads a JSON object body; a bad one gets a 400.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(v); err != nil {
		s.writeError(w, http.StatusBadRequest, "Invalid JSON body")
		return false
	}
	return true
}

type loginBody struct {
	Password     string `json:"password"`
	Email        string `json:"email"`
	AlternateID  string `json:"alternate_id"`
	Captcha      string `json:"g-recaptcha-response"`
	CaptchaLater string `json:"g_recaptcha_response"`
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var req loginBody
	if !s.decode(w, r, &req) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if fe := s.checkCaptcha(req.Captcha, req.CaptchaLater); fe != nil {
		s.writeFields(w, fe)
		return
	}
	switch {
	case req.Password == "":
		s.writeFields(w, required("password"))
		return
	case req.Email == "" && req.AlternateID == "":
		s.writeFields(w, required("email"))
		return
	}
	u := s.findUser(req.Email, req.AlternateID, "")
	if u == nil || u.Password != req.Password {
		s.writeError(w, http.StatusUnauthorized, "Invalid credentials")
		return
	}
	famID := randomHex(8)
	s.families[famID] = &family{userID: u.ID}
	s.issue(w, u, famID, u.TwoFactor)
}

// captchaField is the field that captcha errors name, as the API does today.
const captchaField = "g_recaptcha_response"

// checkCaptcha checks the reCAPTCHA answer of a request, under its older
// and its later name, when the fake requires one; s.mu is held. It returns
// the field errors to answer, nil when the request may go on. The answer
// is checked before anything else and is spent by the check, whatever
// happens next, as the service's verification spends it. Two different
// answers are refused without checking either (neither is spent).
func (s *Server) checkCaptcha(older, later string) map[string][]fieldError {
	if !s.cfg.captcha {
		return nil
	}
	invalid := func(msg string) map[string][]fieldError {
		return map[string][]fieldError{captchaField: {{Code: "invalid", Message: msg}}}
	}
	answer := later
	switch {
	case later == "":
		answer = older
	case older != "" && older != later:
		return invalid("g-recaptcha-response and g_recaptcha_response differ")
	}
	switch {
	case answer == "":
		return required(captchaField)
	case !s.captchas[answer]:
		return invalid("Invalid reCAPTCHA answer")
	}
	delete(s.captchas, answer)
	return nil
}

// issue answers a TokenResponse with a new access token and refresh token
// of family famID; pending is the 2FA method still asked for.
func (s *Server) issue(w http.ResponseWriter, u *user, famID, pending string) {
	now := s.now()
	rt := randomHex(32)
	s.refresh[rt] = &refreshToken{family: famID, userID: u.ID, pending: pending}
	state := "none"
	switch {
	case pending != "":
		state = "pending"
	case u.TwoFactor != "":
		state = "ok"
	}
	s.seq++
	exp := time.Unix(now.Add(s.cfg.accessTTL).Unix(), 0) // what the exp claim says
	claims := map[string]any{
		"seq": s.seq,
		"sub": u.ID,
		"iat": now.Unix(),
		"exp": exp.Unix(),
		"jti": randomHex(8),
		"fam": famID,
		"2fa": state,
	}
	if u.Email != "" {
		claims["email"] = u.Email
	}
	if s.cfg.onClaims != nil {
		s.cfg.onClaims(claims)
	}
	access, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(claims)).SignedString(s.key)
	if err != nil {
		s.writeError(w, http.StatusInternalServerError, "Signing the access token failed")
		return
	}
	s.access[access] = &accessToken{userID: u.ID, family: famID, seq: s.seq, exp: exp, pending: pending != ""}
	if pending == TwoFactorSMS {
		s.sendSMS(u)
	}
	s.stamp(w, now) // Date and iat agree
	resp := map[string]any{"access_token": access, "refresh_token": rt, "has_password": u.Password != ""}
	if pending != "" {
		resp["requires_2fa"] = pending
	}
	s.writeJSON(w, http.StatusOK, resp)
}

func (s *Server) sendSMS(u *user) {
	code := fmt.Sprintf("%06d", randomInt(1000000))
	s.send(Message{To: u.Email, Kind: "sms", Text: code})
}

// send puts m in the outbox; s.mu is held.
func (s *Server) send(m Message) {
	s.outbox = append(s.outbox, m)
	if s.cfg.onMessage != nil {
		s.cfg.onMessage(m)
	}
}

func randomInt(n int) int {
	v, _ := strconv.ParseUint(randomHex(4), 16, 32)
	return int(v % uint64(n))
}

func (s *Server) findUser(email, altID, id string) *user {
	for _, u := range s.users {
		switch {
		case email != "" && strings.EqualFold(u.Email, email),
			altID != "" && u.AlternateID == altID,
			id != "" && strings.EqualFold(u.ID, id):
			return u
		}
	}
	return nil
}

// spend checks a presented refresh token and marks it used. It answers the
// refusal itself and returns nil then. Presenting a spent token revokes
// its family, unless within the reuse grace.
func (s *Server) spend(w http.ResponseWriter, token string) *refreshToken {
	rt := s.refresh[token]
	if rt == nil {
		s.writeError(w, http.StatusUnauthorized, "Invalid refresh token")
		return nil
	}
	fam := s.families[rt.family]
	if fam.revoked {
		s.writeError(w, http.StatusUnauthorized, "Session revoked")
		return nil
	}
	now := s.now()
	if rt.used {
		if s.cfg.reuseGrace > 0 && now.Sub(rt.usedAt) < s.cfg.reuseGrace {
			s.writeError(w, http.StatusUnauthorized, "Refresh token already used")
			return nil
		}
		fam.revoked = true
		s.reuses++
		s.writeError(w, http.StatusUnauthorized, "Refresh token reuse detected; session revoked")
		return nil
	}
	return rt
}

func (s *Server) refreshTokens(w http.ResponseWriter, r *http.Request) {
	var req struct {
		RefreshToken string `json:"refresh_token"`
	}
	if !s.decode(w, r, &req) {
		return
	}
	if req.RefreshToken == "" {
		s.writeFields(w, required("refresh_token"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rt := s.spend(w, req.RefreshToken)
	if rt == nil {
		return
	}
	rt.used, rt.usedAt = true, s.now()
	u := s.findUser("", "", rt.userID)
	pending := rt.pending
	if s.next2FA && u.TwoFactor != "" {
		pending, s.next2FA = u.TwoFactor, false
	}
	s.issue(w, u, rt.family, pending)
}

func (s *Server) twoFactor(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Code         string `json:"code"`
		RefreshToken string `json:"refresh_token"`
	}
	if !s.decode(w, r, &req) {
		return
	}
	switch {
	case req.Code == "":
		s.writeFields(w, required("code"))
		return
	case req.RefreshToken == "":
		s.writeFields(w, required("refresh_token"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rt := s.spend(w, req.RefreshToken)
	if rt == nil {
		return
	}
	u := s.findUser("", "", rt.userID)
	if u.TwoFactor == "" {
		s.writeError(w, http.StatusUnprocessableEntity, "Two factor authentication is not enabled")
		return
	}
	if !s.validCode(u, req.Code) {
		s.writeFields(w, map[string][]fieldError{"code": {{Code: "invalid", Message: "Invalid 2FA code"}}})
		return
	}
	s.usedCode[u.ID+":"+req.Code] = true
	rt.used, rt.usedAt = true, s.now()
	s.families[rt.family].tfaAt = s.now()
	s.issue(w, u, rt.family, "")
}

func (s *Server) validCode(u *user, code string) bool {
	if s.usedCode[u.ID+":"+code] {
		return false
	}
	if u.TwoFactor == TwoFactorSMS {
		for i := len(s.outbox) - 1; i >= 0; i-- {
			if m := s.outbox[i]; m.To == u.Email && m.Kind == "sms" {
				return m.Text == code
			}
		}
		return false
	}
	ok, err := totp.ValidateCustom(code, u.secret, s.now(), totp.ValidateOpts{
		Period: 30, Skew: 1, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	return err == nil && ok
}

// magicLink serves POST /auth/magic_link as the API does today: it answers
// 200 with the same message whoever asks, and a status that is "Active"
// for a known user (a link is put in the outbox) and "Inactive" for an
// unknown address or ID (nothing is sent). The fake never answers the
// API's other statuses, "RegisteredInactive" and "RegisteredActive".
func (s *Server) magicLink(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Email        string `json:"email"`
		UserID       string `json:"user_id"`
		Redirect     string `json:"redirect"`
		Captcha      string `json:"g-recaptcha-response"`
		CaptchaLater string `json:"g_recaptcha_response"`
	}
	if !s.decode(w, r, &req) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if fe := s.checkCaptcha(req.Captcha, req.CaptchaLater); fe != nil {
		s.writeFields(w, fe)
		return
	}
	switch {
	case req.Email == "" && req.UserID == "":
		s.writeFields(w, required("email"))
		return
	case req.UserID != "" && !uuidPattern.MatchString(req.UserID):
		s.writeFields(w, map[string][]fieldError{"user_id": {{Code: "invalid", Message: "user_id must be a UUID"}}})
		return
	}
	status := "Inactive"
	if u := s.findUser(req.Email, "", req.UserID); u != nil {
		// As the vendor's links do, the link carries the refresh token of a
		// new session (pending its 2FA step for a 2FA user), which
		// POST /auth/token/refresh turns into tokens.
		famID, rt := randomHex(8), randomHex(32)
		s.families[famID] = &family{userID: u.ID}
		s.refresh[rt] = &refreshToken{family: famID, userID: u.ID, pending: u.TwoFactor}
		q := url.Values{"refresh_token": {rt}}
		if req.Redirect != "" {
			q.Set("redirect_uri", req.Redirect)
		}
		link := s.URL + "/magic_link?" + q.Encode()
		s.send(Message{To: u.Email, Kind: "magic_link", Text: link, Redirect: req.Redirect})
		status = "Active"
	}
	s.writeJSON(w, http.StatusOK, map[string]string{"message": "Magic link sent", "status": status})
}
