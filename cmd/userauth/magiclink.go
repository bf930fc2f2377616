package main

import (
	"context"
	"fmt"

	"github.com/tarilabs/userauth"
)

// magicLinkAbout is magic-link's help.
const magicLinkAbout = `
Have the server e-mail the user a login link, then print the server's
message and the account's status (Active, RegisteredInactive,
RegisteredActive or Inactive, when the server says). The login itself
completes in the browser, outside this program. It uses no saved session.

Exit status: 0 when the server sent the link; 1 when the account's status
is Inactive (no such user, or not active), whatever the server's message
says: nothing was sent.

The API: --base-url, else --sandbox (` + sandboxURL + `, the sandbox),
else $USERAUTH_BASE_URL, else ` + productionURL + ` (production).`

// runMagicLink asks for a magic-link e-mail.
func runMagicLink(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("magic-link", "magic-link --email E | --user-id U [flags]", magicLinkAbout)
	email := fs.String("email", "", "the user's e-mail `address`")
	userID := fs.String("user-id", "", "the user's `UUID`")
	redirect := fs.String("redirect", "", "the `path` to land on after following the link")
	af := addAPIFlags(fs, false)
	if err := fs.parse(e, args); err != nil {
		return err
	}
	if (*email == "") == (*userID == "") {
		return usagef("give exactly one of --email and --user-id")
	}
	if err := af.check(); err != nil {
		return err
	}
	api, _, err := af.explicit(e)
	if err != nil {
		return err
	}
	if api == "" {
		api = productionURL
	}
	r, err := af.remote(e, api)
	if err != nil {
		return err
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	var res *userauth.SuccessResponse
	req := userauth.MagicLinkLoginRequest{Email: *email, UserID: *userID, Redirect: *redirect}
	if err := r.do(ctx, func(ctx context.Context) (err error) { res, err = c.MagicLinkLogin(ctx, req); return err }); err != nil {
		return err
	}
	if res.Status == userauth.MagicLinkInactive {
		// The server answers the same message whoever asks; for an account
		// that is unknown or not active it sends nothing.
		fmt.Fprintln(e.stdout, "no magic link was sent: the account's status is Inactive (no such user, or not active)")
		return exitError(exitFail)
	}
	line := printable(res.Message)
	if res.Status != "" {
		line += " (account status: " + res.Status.String() + ")"
	}
	fmt.Fprintln(e.stdout, line)
	return nil
}
