package userauth

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
)

// Turning 2FA on and off (API 0.2.262): enable, then confirm with a code
// of the new method; disable with the session, or with a backup code when
// the second factor is lost.

// Enable2FARequest is the body of POST /account/2fa/enable (the vendor's
// Enable2FABody).
type Enable2FARequest struct {
	// Provider is the method to turn on: TwoFactorGoogleAuthenticator or
	// TwoFactorSMS.
	Provider TwoFactorMethod `json:"provider"`
	// Default makes it the method the API asks for at login.
	Default bool `json:"default"`
	// Phone is the number an SMS method sends codes to; required for it.
	Phone string `json:"phone,omitempty"`
}

func (r Enable2FARequest) validate() error {
	switch {
	case r.Provider != TwoFactorGoogleAuthenticator && r.Provider != TwoFactorSMS:
		return &ValidationError{Field: "provider", Reason: "must be GoogleAuthenticator or SMS"}
	case r.Provider == TwoFactorSMS && r.Phone == "":
		return &ValidationError{Field: "phone", Reason: "is required for SMS"}
	}
	return nil
}

// Enable2FAResponse is what the API returns to store the new method (the
// vendor's Enable2FAResponse). Secret and BackupCodes are secrets: String,
// GoString and LogValue never show them.
type Enable2FAResponse struct {
	// Secret is the authenticator's TOTP secret, base32 (give it to
	// TOTPHandler for a service account).
	Secret string `json:"ga_secret"`
	// QRCodeSVG is the secret as a QR code, SVG text, for a person's app.
	QRCodeSVG string `json:"ga_qr_code_svg"`
	// BackupCodes are one-time codes that turn 2FA off when the method is
	// lost (see Client.Disable2FAWithBackupCode).
	BackupCodes []string `json:"backup_codes"`
	// PhoneLastDigits are the last digits of an SMS method's number.
	PhoneLastDigits string `json:"phone_last_digits"`
}

// String formats r with its secret and backup codes redacted.
func (r Enable2FAResponse) String() string {
	return fmt.Sprintf("userauth.Enable2FAResponse{Secret:%s, QRCodeSVG:%s, BackupCodes:%d redacted, PhoneLastDigits:%q}",
		secret(r.Secret), secret(r.QRCodeSVG), len(r.BackupCodes), r.PhoneLastDigits)
}

// GoString is like String; it keeps %#v from printing the secrets.
func (r Enable2FAResponse) GoString() string { return r.String() }

// LogValue implements slog.LogValuer with the secrets redacted.
func (r Enable2FAResponse) LogValue() slog.Value {
	return slog.GroupValue(secretAttr("ga_secret", r.Secret), secretAttr("ga_qr_code_svg", r.QRCodeSVG),
		slog.Int("backup_codes", len(r.BackupCodes)), slog.String("phone_last_digits", r.PhoneLastDigits))
}

// Enable2FA starts turning on a 2FA method for the session's user (POST
// /account/2fa/enable): it takes effect once Confirm2FASetup posts a code
// of the new method. Like every call that creates something, it is never
// sent twice but after a 401 or a 424.
func (s *TokenStore) Enable2FA(ctx context.Context, req Enable2FARequest) (*Enable2FAResponse, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	u := s.apiURL("account", "2fa", "enable")
	var out Enable2FAResponse
	if err := s.authCall(ctx, http.MethodPost, u, u.Path, req, jsonObject{&out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// Confirm2FASetup turns on the method Enable2FA started, with a code of it
// (POST /account/2fa/confirm). A wrong code is a *ClientError.
func (s *TokenStore) Confirm2FASetup(ctx context.Context, code string) error {
	code = Confirm2FA{Code: code}.normalized().Code // spaces removed, as for a login's code
	if code == "" {
		return &ValidationError{Field: "code", Reason: "is required"}
	}
	u := s.apiURL("account", "2fa", "confirm")
	return s.authCall(ctx, http.MethodPost, u, u.Path, map[string]string{"code": code}, jsonObject{&SuccessResponse{}}, code)
}

// Disable2FARequest is the body of POST /account/2fa/disable (the
// vendor's Disable2FABody).
type Disable2FARequest struct {
	// DisableAll turns every method off.
	DisableAll bool `json:"disable_all"`
	// Provider is the method to turn off, when not all.
	Provider TwoFactorMethod `json:"provider,omitempty"`
}

// Disable2FA turns 2FA off for the session's user (POST
// /account/2fa/disable).
func (s *TokenStore) Disable2FA(ctx context.Context, req Disable2FARequest) error {
	if !req.DisableAll && req.Provider == "" {
		return &ValidationError{Field: "provider", Reason: "is required unless disable_all"}
	}
	u := s.apiURL("account", "2fa", "disable")
	return s.authCall(ctx, http.MethodPost, u, u.Path, req, jsonObject{&SuccessResponse{}})
}

// BackupDisable2FARequest is the body of POST /account/2fa/backup_disable
// (the vendor's BackupDisableBody): a backup code and the user it is for.
type BackupDisable2FARequest struct {
	BackupCode  string          `json:"backup_code"`
	Email       string          `json:"email,omitempty"`
	AlternateID string          `json:"alternate_id,omitempty"`
	DisableAll  bool            `json:"disable_all,omitempty"`
	Provider    TwoFactorMethod `json:"provider,omitempty"`
}

func (r BackupDisable2FARequest) validate() error {
	switch {
	case r.BackupCode == "":
		return &ValidationError{Field: "backup_code", Reason: "is required"}
	case r.Email == "" && r.AlternateID == "":
		return &ValidationError{Field: "email", Reason: "or alternate_id is required"}
	}
	return nil
}

func (r BackupDisable2FARequest) secrets() []string                     { return []string{r.BackupCode} }
func (r BackupDisable2FARequest) retryPolicy(p retryPolicy) retryPolicy { return p }
func (r BackupDisable2FARequest) body() ([]byte, error)                 { return json.Marshal(r) }

// String formats r with its backup code redacted.
func (r BackupDisable2FARequest) String() string {
	return fmt.Sprintf("userauth.BackupDisable2FARequest{BackupCode:%s, Email:%q, AlternateID:%q, DisableAll:%v, Provider:%q}",
		secret(r.BackupCode), r.Email, r.AlternateID, r.DisableAll, r.Provider)
}

// GoString is like String; it keeps %#v from printing the backup code.
func (r BackupDisable2FARequest) GoString() string { return r.String() }

// Disable2FAWithBackupCode turns 2FA off with a backup code, for a user who
// lost the method and cannot log in (POST /account/2fa/backup_disable; no
// session needed). A backup code works once: the call is never repeated
// once it may have reached the server.
func (c *Client) Disable2FAWithBackupCode(ctx context.Context, req BackupDisable2FARequest) error {
	_, err := post[SuccessResponse](ctx, c, epBackupDisable, req)
	return err
}
