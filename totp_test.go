package userauth

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testTOTPSecret is RFC 6238's SHA-1 test key, "12345678901234567890", in
// base32.
const testTOTPSecret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

func TestTOTPStep(t *testing.T) {
	t.Parallel()
	at := func(sec int64) time.Time { return time.Unix(sec, 0) }
	for _, tc := range []struct {
		name     string
		now      time.Time
		last     int64
		wantStep int64
		wantWait time.Duration
	}{
		{"nothing given yet", at(59), 0, 1, 0},
		{"an earlier step given", at(90), 2, 3, 0},
		{"this step given: wait for the next", at(95), 3, 4, 25 * time.Second},
		{"at a step's last second", at(119), 3, 4, time.Second},
		{"two steps taken ahead", at(95), 4, 5, 55 * time.Second},
	} {
		step, wait := totpStep(tc.now, tc.last)
		assert.Equal(t, tc.wantStep, step, tc.name)
		assert.Equal(t, tc.wantWait, wait, tc.name)
	}
}

// fakeSleeper moves a fake clock instead of sleeping.
type fakeSleeper struct {
	now   time.Time
	slept []time.Duration
}

func (f *fakeSleeper) clock() time.Time { return f.now }

func (f *fakeSleeper) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.slept = append(f.slept, d)
	f.now = f.now.Add(d)
	return nil
}

func TestTOTPHandlerGivesTheRFC6238Code(t *testing.T) {
	t.Parallel()
	f := &fakeSleeper{now: time.Unix(59, 0)} // RFC 6238's first test time
	h, err := newTOTPHandler(testTOTPSecret, f.clock, f.sleep)
	require.NoError(t, err)
	code, err := h(context.Background(), TwoFactorGoogleAuthenticator)
	require.NoError(t, err)
	assert.Equal(t, "287082", code, "RFC 6238's SHA-1 value at 59 s, to 6 digits")
	assert.Empty(t, f.slept)
}

func TestTOTPHandlerNeverGivesACodeTwice(t *testing.T) {
	t.Parallel()
	f := &fakeSleeper{now: time.Unix(1_700_000_005, 0)}
	h, err := newTOTPHandler(testTOTPSecret, f.clock, f.sleep)
	require.NoError(t, err)
	first, err := h(context.Background(), TwoFactorGoogleAuthenticator)
	require.NoError(t, err)
	second, err := h(context.Background(), TwoFactorGoogleAuthenticator) // same step
	require.NoError(t, err)
	assert.NotEqual(t, first, second)
	assert.Equal(t, []time.Duration{5 * time.Second}, f.slept, "waited for the next step, 5 s on")
	want, err := totp.GenerateCode(testTOTPSecret, time.Unix(1_700_000_010, 0))
	require.NoError(t, err)
	assert.Equal(t, want, second, "the next step's code")
}

func TestTOTPHandlerWaitEndsWithTheContext(t *testing.T) {
	t.Parallel()
	f := &fakeSleeper{now: time.Unix(1_700_000_005, 0)}
	h, err := newTOTPHandler(testTOTPSecret, f.clock, f.sleep)
	require.NoError(t, err)
	_, err = h(context.Background(), TwoFactorGoogleAuthenticator)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = h(ctx, TwoFactorGoogleAuthenticator)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestTOTPHandlerRefusesWhatItCannotAnswer(t *testing.T) {
	t.Parallel()
	for _, secret := range []string{"", "not base32!", "0189"} {
		_, err := TOTPHandler(secret)
		var ve *ValidationError
		require.ErrorAs(t, err, &ve, "%q", secret)
		if secret != "" {
			assert.NotContains(t, err.Error(), secret, "the secret is never shown")
		}
	}
	h, err := TOTPHandler(" gezd gnbv gy3t qojq gezd gnbv gy3t qojq ") // spaces, lower case
	require.NoError(t, err)
	_, err = h(context.Background(), TwoFactorSMS)
	assert.Error(t, err, "an SMS step")
	assert.False(t, errors.Is(err, context.Canceled))
}

// TestTOTPHandlerCompletesEveryStepOfAServiceAccount: a store with the
// handler logs in through 2FA, then meets a second step within the same
// 30 s (the API asks again on a refresh): the handler waits for the next
// step instead of sending the spent code, and the session goes on.
func TestTOTPHandlerCompletesEveryStepOfAServiceAccount(t *testing.T) {
	t.Parallel()
	srv, c, secret := fakeAPI(t)
	var waited time.Duration
	h, err := newTOTPHandler(secret, srv.Now, func(_ context.Context, d time.Duration) error {
		waited += d
		srv.Advance(d) // the fake's clock, which the store shares: no real sleep
		return nil
	})
	require.NoError(t, err)
	store := mustStore(t, c, NewMemoryStorage(), WithClock(srv.Now), WithTwoFactorHandler(h))
	ctx := context.Background()
	tok, err := store.Login(ctx, tom)
	require.NoError(t, err)
	require.Empty(t, tok.Requires2FA)

	srv.RequireTwoFactorOnNextRefresh()
	tok, err = store.Refresh(ctx)
	require.NoError(t, err)
	assert.Empty(t, tok.Requires2FA, "the second step was completed too")
	assert.Equal(t, 2, srv.Calls("/auth/2fa"))
	assert.Positive(t, waited, "the second code came from the next step")
	assert.LessOrEqual(t, waited, totpPeriod)
}

// TestTOTPCodeMatchesTheTOTPLibrary checks totpCode against
// github.com/pquerna/otp over many steps and secrets.
func TestTOTPCodeMatchesTheTOTPLibrary(t *testing.T) {
	t.Parallel()
	for _, secret := range []string{testTOTPSecret, "JBSWY3DPEHPK3PXP", "KRSXG5CTMVRXEZLUKN2XAZLSKNSWG4TFOQ"} {
		key, err := totpKey(secret)
		require.NoError(t, err)
		for step := int64(0); step < 2000; step += 37 {
			want, err := totp.GenerateCode(secret, time.Unix(step*30, 0))
			require.NoError(t, err)
			assert.Equal(t, want, totpCode(key, step), "secret %s step %d", secret, step)
		}
	}
	// RFC 6238, appendix B, SHA-1 column, the last 6 digits.
	for at, want := range map[int64]string{59: "287082", 1111111109: "081804", 1111111111: "050471", 1234567890: "005924", 2000000000: "279037", 20000000000: "353130"} {
		assert.Equal(t, want, totpCode([]byte("12345678901234567890"), at/30), "at %d", at)
	}
}
