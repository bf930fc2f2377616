package userauth

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tarilabs/userauth/userauthtest"
)

// enableTOTP turns TOTP 2FA on for the store's user and returns what
// enable answered.
func enableTOTP(t *testing.T, e *storeEnv) *Enable2FAResponse {
	t.Helper()
	ctx := context.Background()
	got, err := e.store.Enable2FA(ctx, Enable2FARequest{Provider: TwoFactorGoogleAuthenticator, Default: true})
	require.NoError(t, err)
	code, err := e.srv.Code(got.Secret)
	require.NoError(t, err)
	require.NoError(t, e.store.Confirm2FASetup(ctx, code))
	return got
}

// TestTwoFactorIsTurnedOnConfirmedAndOff: enable answers a secret and
// backup codes; a wrong code does not commit it, a code of the new secret
// does; the next login asks for 2FA; disable turns it off.
func TestTwoFactorIsTurnedOnConfirmedAndOff(t *testing.T) {
	t.Parallel()
	e := newStoreEnv(t, nil, nil)
	ctx := context.Background()
	_, err := e.store.Login(ctx, ann)
	require.NoError(t, err)

	got, err := e.store.Enable2FA(ctx, Enable2FARequest{Provider: TwoFactorGoogleAuthenticator})
	require.NoError(t, err)
	assert.NotEmpty(t, got.Secret)
	assert.Len(t, got.BackupCodes, 8)
	assert.Contains(t, got.QRCodeSVG, "<svg")
	err = e.store.Confirm2FASetup(ctx, "000000")
	var ce *ClientError
	require.ErrorAs(t, err, &ce)
	acc, err := e.store.Account(ctx)
	require.NoError(t, err)
	assert.False(t, acc.TwoFactorEnabled(), "not before it is confirmed")

	code, err := e.srv.Code(got.Secret)
	require.NoError(t, err)
	require.NoError(t, e.store.Confirm2FASetup(ctx, code[:3]+" "+code[3:]))
	acc, err = e.store.Account(ctx)
	require.NoError(t, err)
	assert.Equal(t, TwoFactorMethods{TwoFactorGoogleAuthenticator}, acc.User.TwoFactorAuth)
	login, err := e.client.Login(ctx, ann)
	require.NoError(t, err)
	assert.Equal(t, TwoFactorGoogleAuthenticator, login.Requires2FA, "the next login asks for it")

	require.NoError(t, e.store.Disable2FA(ctx, Disable2FARequest{DisableAll: true}))
	acc, err = e.store.Account(ctx)
	require.NoError(t, err)
	assert.False(t, acc.TwoFactorEnabled())
}

// TestABackupCodeTurnsTwoFactorOffOnce: without a session, a backup code
// and the user's e-mail turn 2FA off; the same code again is refused, and
// the refusal never shows it.
func TestABackupCodeTurnsTwoFactorOffOnce(t *testing.T) {
	t.Parallel()
	e := newStoreEnv(t, nil, nil)
	ctx := context.Background()
	_, err := e.store.Login(ctx, ann)
	require.NoError(t, err)
	got := enableTOTP(t, e)
	req := BackupDisable2FARequest{BackupCode: got.BackupCodes[0], Email: ann.Email, DisableAll: true}
	require.NoError(t, e.client.Disable2FAWithBackupCode(ctx, req))
	login, err := e.client.Login(ctx, ann)
	require.NoError(t, err)
	assert.Empty(t, login.Requires2FA)

	err = e.client.Disable2FAWithBackupCode(ctx, req)
	var ce *ClientError
	require.ErrorAs(t, err, &ce)
	assert.NotContains(t, err.Error(), got.BackupCodes[0])
	assert.Equal(t, 2, e.srv.Calls(userauthtest.PathBackupDisable2FA), "a backup code is never sent again by the SDK")
}

// TestTwoFactorSetupIsCheckedBeforeItIsSent: bad input is a
// *ValidationError and nothing is sent.
func TestTwoFactorSetupIsCheckedBeforeItIsSent(t *testing.T) {
	t.Parallel()
	e := newStoreEnv(t, nil, nil)
	ctx := context.Background()
	var ve *ValidationError
	_, err := e.store.Enable2FA(ctx, Enable2FARequest{Provider: TwoFactorSMS})
	assert.ErrorAs(t, err, &ve, "SMS without a phone")
	_, err = e.store.Enable2FA(ctx, Enable2FARequest{Provider: "Passkey"})
	assert.ErrorAs(t, err, &ve)
	assert.ErrorAs(t, e.store.Confirm2FASetup(ctx, " "), &ve)
	assert.ErrorAs(t, e.store.Disable2FA(ctx, Disable2FARequest{}), &ve)
	assert.ErrorAs(t, e.client.Disable2FAWithBackupCode(ctx, BackupDisable2FARequest{BackupCode: "x"}), &ve)
	assert.Zero(t, e.srv.Calls(userauthtest.PathEnable2FA)+e.srv.Calls(userauthtest.PathConfirm2FA)+
		e.srv.Calls(userauthtest.PathDisable2FA)+e.srv.Calls(userauthtest.PathBackupDisable2FA))
}

// TestTwoFactorSetupSecretsNeverPrint: the new secret, its QR code and the
// backup codes never show in %v, %#v or slog, nor a request's backup code.
func TestTwoFactorSetupSecretsNeverPrint(t *testing.T) {
	t.Parallel()
	r := Enable2FAResponse{Secret: "SECRETBASE32", QRCodeSVG: "<svg>SECRETBASE32</svg>", BackupCodes: []string{"bk-SECRET-1"}}
	b := BackupDisable2FARequest{BackupCode: "bk-SECRET-2", Email: "ann@example.com"}
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("x", "r", r, "b", b)
	for _, s := range []string{fmt.Sprint(r), fmt.Sprintf("%+v", r), fmt.Sprintf("%#v", r), fmt.Sprint(&r),
		fmt.Sprint(b), fmt.Sprintf("%#v", b), logs.String()} {
		assert.NotContains(t, s, "SECRET")
	}
}
