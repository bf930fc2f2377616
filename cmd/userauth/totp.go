package main

import (
	"context"
	"fmt"
	"time"

	"github.com/pquerna/otp/totp"
)

// totpAbout is totp's help.
const totpAbout = `
Print the current 2FA code of a TOTP secret: the code an authenticator app
would show for it now. For the users of "userauth serve", which prints
each 2FA user's totp_secret. A code changes every 30 seconds and works
once: for a second login, wait for the next one.`

// runTOTP prints the current code of --secret.
func runTOTP(_ context.Context, e *env, args []string) error {
	fs := newFlagSet("totp", "totp --secret SECRET", totpAbout)
	secret := fs.String("secret", "", "the base32 TOTP `secret`, as userauth serve prints it")
	if err := fs.parse(e, args); err != nil {
		return err
	}
	if *secret == "" {
		return usagef("give --secret")
	}
	now := time.Now()
	code, err := totp.GenerateCode(*secret, now)
	if err != nil {
		return fmt.Errorf("not a TOTP secret: %w", err)
	}
	fmt.Fprintf(e.stdout, "%s\n", code)
	next := now.Truncate(30 * time.Second).Add(30 * time.Second)
	fmt.Fprintf(e.stderr, "(valid for %d more seconds)\n", int(next.Sub(now).Seconds()))
	return nil
}
