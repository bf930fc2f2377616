package userauth

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"time"
)

// totpPeriod is the length of a TOTP time step (RFC 6238's default, and the
// vendor's).
const totpPeriod = 30 * time.Second

// TOTPHandler returns a TwoFactorHandler for a service account whose TOTP
// secret the service holds: asked for a GoogleAuthenticator code, it
// computes the current one (RFC 6238: 6 digits, SHA-1, 30-second steps),
// from secret in base32 as the vendor issues it (ga_secret; case, spaces and
// missing padding do not matter). It never gives a code twice: asked again
// within a step whose code it has given, it waits for the next step (at most
// 30 s for one ask, as long as ctx allows), since a server refuses a code
// used once. An SMS step is an error: a TOTP secret cannot answer it.
//
// It knows the codes it gave, not those of another process: replicas that
// share a session take their 2FA steps one at a time under the storage's
// Locker, and one whose code the server refuses as used gets the next
// step's when the store asks again.
//
// It is right for a service account, whose second factor is the machine
// that holds the secret. It is wrong for a person's account: a secret kept
// beside the password makes the two factors one. Ask the person instead (a
// prompt, or an operator endpoint that calls CompleteTwoFactor).
//
// The secret is checked at once: an error here is a *ValidationError that
// never shows it.
func TOTPHandler(secret string) (TwoFactorHandler, error) {
	return newTOTPHandler(secret, time.Now, sleep)
}

// totpHandler remembers the last step whose code it gave.
type totpHandler struct {
	key   []byte
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
	mu    sync.Mutex
	last  int64 // the step of the last code given; 0 for none
}

func newTOTPHandler(secret string, now func() time.Time, sleep func(context.Context, time.Duration) error) (TwoFactorHandler, error) {
	key, err := totpKey(secret)
	if err != nil {
		return nil, err
	}
	h := &totpHandler{key: key, now: now, sleep: sleep}
	return h.code, nil
}

// totpKey decodes a base32 TOTP secret, in any case, with or without
// spaces and padding.
func totpKey(secret string) ([]byte, error) {
	secret = strings.TrimRight(strings.ToUpper(strings.Join(strings.Fields(secret), "")), "=")
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil || len(key) == 0 {
		return nil, &ValidationError{Field: "totp secret", Reason: "is not a base32 TOTP secret"}
	}
	return key, nil
}

// code is the TwoFactorHandler. A step is taken only when its code is
// given: an ask given up while it waits takes none, and concurrent asks
// each wait for a step of their own.
func (h *totpHandler) code(ctx context.Context, method TwoFactorMethod) (string, error) {
	if method != TwoFactorGoogleAuthenticator && method != "" { // "": a step whose method the store did not see
		return "", fmt.Errorf("userauth: TOTPHandler: the API asks for a %s code, which a TOTP secret cannot give", method)
	}
	for {
		h.mu.Lock()
		step, wait := totpStep(h.now(), h.last)
		if wait <= 0 {
			h.last = step
			h.mu.Unlock()
			return totpCode(h.key, step), nil
		}
		h.mu.Unlock()
		if err := h.sleep(ctx, wait); err != nil {
			return "", err
		}
	}
}

// totpStep is the step whose code to give at now when the code of step last
// was given already, and how long to wait for that step to begin.
func totpStep(now time.Time, last int64) (step int64, wait time.Duration) {
	period := int64(totpPeriod / time.Second)
	step = now.Unix() / period
	if step > last {
		return step, 0
	}
	step = last + 1
	return step, time.Unix(step*period, 0).Sub(now)
}

// sleep waits for d or for ctx to end, whichever comes first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// totpCode is the 6-digit code of key for a time step: RFC 4226's HOTP with
// HMAC-SHA-1 over the step number (RFC 6238). It is written here, in a few
// lines, rather than taken from github.com/pquerna/otp, which would link a
// QR-code library into every program that uses the SDK; the tests check it
// against that library and the RFC's test values.
func totpCode(key []byte, step int64) string {
	mac := hmac.New(sha1.New, key)
	mac.Write(binary.BigEndian.AppendUint64(nil, uint64(step)))
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	return fmt.Sprintf("%06d", binary.BigEndian.Uint32(sum[off:off+4])&0x7fffffff%1_000_000)
}
