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
RegisteredActive or Inactive, when the server says). The link carries a
refresh token: give the link to --complete to make it this program's saved
session (as login does; a 2FA step the account asks for is then finished
with "userauth login --code CODE"). Asking for a link uses no saved session.

Exit status: 0 when the server sent the link; 1 when the account's status
is Inactive (no such user, or not active), whatever the server's message
says: nothing was sent.

The API: --base-url, else --sandbox (` + sandboxURL + `, the sandbox),
else $USERAUTH_BASE_URL, else ` + productionURL + ` (production).`

// runMagicLink asks for a magic-link e-mail.
func runMagicLink(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("magic-link", "magic-link --email E | --user-id U | --complete URL [flags]", magicLinkAbout)
	email := fs.String("email", "", "the user's e-mail `address`")
	userID := fs.String("user-id", "", "the user's `UUID`")
	redirect := fs.String("redirect", "", "the `path` to land on after following the link")
	complete := fs.String("complete", "", "make the magic link at `URL` (from the e-mail) the saved session")
	af := addAPIFlags(fs, false)
	sf := addSessionFlags(fs, "with --complete, replace a saved session of another API")
	if err := fs.parse(e, args); err != nil {
		return err
	}
	if *complete != "" {
		if *email != "" || *userID != "" {
			return usagef("give --complete alone, without --email or --user-id")
		}
		if err := af.check(); err != nil {
			return err
		}
		return completeMagicLink(ctx, e, af, sf, *complete)
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

// completeMagicLink makes the login a magic link stands for the saved
// session, as login does with a password.
func completeMagicLink(ctx context.Context, e *env, af *apiFlags, sf *sessionFlags, link string) error {
	sess, err := openSession(ctx, sf)
	if err != nil {
		return err
	}
	api, err := sess.api(e, af, "add --force to forget that session here and log in anew")
	if err != nil {
		return err
	}
	r, err := af.remote(e, api)
	if err != nil {
		return err
	}
	store, err := sess.store(r)
	if err != nil {
		return err
	}
	var tok *userauth.Token
	if err := r.do(ctx, func(ctx context.Context) (err error) { tok, err = store.CompleteMagicLink(ctx, link); return err }); err != nil {
		return err
	}
	if tok.Requires2FA != "" {
		fmt.Fprintf(e.stdout, "2FA step (%s) pending at %s: finish it with userauth login --code CODE\n", tok.Requires2FA, r.url)
		return nil
	}
	fmt.Fprintf(e.stdout, "logged in to %s\n", r.url)
	return nil
}
