package userauthtest

import (
	"net/http"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// enable2FA serves POST /account/2fa/enable: a new TOTP secret, pending
// until confirmed, and fresh backup codes.
func (s *Server) enable2FA(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Provider string `json:"provider"`
	}
	if !s.decode(w, r, &req) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.signedIn(w, r)
	if u == nil {
		return
	}
	if req.Provider != TwoFactorTOTP {
		s.writeFields(w, map[string][]fieldError{"provider": {{Code: "unsupported", Message: "the fake serves GoogleAuthenticator only"}}})
		return
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "userauthtest", AccountName: u.Email + u.AlternateID})
	if err != nil {
		s.writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	u.pending = key.Secret()
	u.backup = map[string]bool{}
	codes := make([]string, 8)
	for i := range codes {
		codes[i] = randomHex(5)
		u.backup[codes[i]] = true
	}
	s.writeJSON(w, http.StatusOK, map[string]any{
		"ga_secret": u.pending, "backup_codes": codes,
		"ga_qr_code_svg": `<svg xmlns="http://www.w3.org/2000/svg"><!-- the fake's stand-in for a QR code --></svg>`,
	})
}

// confirm2FA serves POST /account/2fa/confirm: a code of the pending
// secret turns 2FA on.
func (s *Server) confirm2FA(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Code string `json:"code"`
	}
	if !s.decode(w, r, &req) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.signedIn(w, r)
	if u == nil {
		return
	}
	ok, err := totp.ValidateCustom(req.Code, u.pending, s.now(), totp.ValidateOpts{
		Period: 30, Skew: 1, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if u.pending == "" || err != nil || !ok {
		s.writeFields(w, map[string][]fieldError{"code": {{Code: "invalid", Message: "Invalid 2FA code"}}})
		return
	}
	u.secret, u.pending, u.TwoFactor = u.pending, "", TwoFactorTOTP
	s.usedCode[u.ID+":"+req.Code] = true
	s.writeJSON(w, http.StatusOK, map[string]string{"message": "2FA enabled"})
}

// disable2FA serves POST /account/2fa/disable: 2FA off for the bearer's
// user (the fake does not ask for a fresh 2FA step first).
func (s *Server) disable2FA(w http.ResponseWriter, r *http.Request) {
	var req struct {
		DisableAll bool `json:"disable_all"`
	}
	if !s.decode(w, r, &req) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.signedIn(w, r)
	if u == nil {
		return
	}
	u.TwoFactor, u.secret, u.pending, u.backup = "", "", "", nil
	s.writeJSON(w, http.StatusOK, map[string]string{"message": "2FA disabled"})
}

// backupDisable2FA serves POST /account/2fa/backup_disable: a backup code
// of the user named by e-mail or alternate ID turns 2FA off, once.
func (s *Server) backupDisable2FA(w http.ResponseWriter, r *http.Request) {
	var req struct {
		BackupCode  string `json:"backup_code"`
		Email       string `json:"email"`
		AlternateID string `json:"alternate_id"`
	}
	if !s.decode(w, r, &req) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.findUser(req.Email, req.AlternateID, "")
	if u == nil || !u.backup[req.BackupCode] {
		s.writeFields(w, map[string][]fieldError{"backup_code": {{Code: "invalid", Message: "Invalid backup code"}}})
		return
	}
	delete(u.backup, req.BackupCode)
	u.TwoFactor, u.secret, u.pending = "", "", ""
	s.writeJSON(w, http.StatusOK, map[string]string{"message": "2FA disabled"})
}
