package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/tarilabs/userauth"
)

// loginAbout is login's help.
const loginAbout = `
Log in with a password and keep the tokens in the token file.

The password: with --password-stdin, the first line of stdin, never
prompted for. Without it, a terminal prompts for it (no echo), and piped
stdin's first line is read.

The 2FA code, for an account with 2FA: --code; else a terminal prompts for
it, and piped stdin's next line is read. With no code (stdin ended, or an
empty answer), or a code the server refuses, the login fails and the token
file keeps the session it held before, if any. With --keep-pending, the
pending step replaces that session in the token file instead (the command
exits 0 when no code was given), and "userauth login --code CODE"
finishes it later; a code refused then leaves the step pending.

The API: --base-url, else --sandbox (` + sandboxURL + `, the sandbox),
else $USERAUTH_BASE_URL, else the saved session's API, else ` + productionURL + `
(production). When the flag or variable names another API than the saved
session's, login refuses unless --force, which logs in to the named API
and replaces that session here (without revoking it) with the new one; a
login that fails leaves it in place.

--timeout bounds the password step and the 2FA step each; the time taken
to type at a prompt does not count.

Examples:
  userauth login --email ann@example.com
  userauth login --sandbox --email ann@example.com
  printf '%s\n' "$PASSWORD" | userauth login --email ann@example.com --password-stdin --code 123456
  printf '%s\n' "$PASSWORD" | userauth login --email sam@example.com --password-stdin --keep-pending
  userauth login --code 123456`

// loginOptions are login's flags.
type loginOptions struct {
	email, altID, code         string
	passwordStdin, keepPending bool
	api                        *apiFlags
	sess                       *sessionFlags
}

// parseLogin parses login's command line.
func parseLogin(e *env, args []string) (*loginOptions, error) {
	fs := newFlagSet("login", "login --email E | --alternate-id A [flags]\n       userauth login --code CODE [flags]", loginAbout)
	o := &loginOptions{}
	fs.StringVar(&o.email, "email", "", "the user's e-mail `address`")
	fs.StringVar(&o.altID, "alternate-id", "", "the user's partner-assigned `ID`")
	fs.BoolVar(&o.passwordStdin, "password-stdin", false, "read the password from the first line of stdin; never prompt")
	fs.StringVar(&o.code, "code", "", "the 2FA `code`; alone (no --email or --alternate-id), finish a pending 2FA step")
	fs.BoolVar(&o.keepPending, "keep-pending", false, "keep a 2FA step that lacks a code, to finish with userauth login --code")
	o.api = addAPIFlags(fs, true)
	o.sess = addSessionFlags(fs, "log in even when the saved session is for another API, replacing that session here")
	if err := fs.parse(e, args); err != nil {
		return nil, err
	}
	switch {
	case o.email != "" && o.altID != "":
		return nil, usagef("give one of --email and --alternate-id, not both")
	case o.email == "" && o.altID == "" && o.code == "":
		return nil, usagef("give --email or --alternate-id (or --code alone, to finish a pending 2FA step)")
	case o.email == "" && o.altID == "" && (o.passwordStdin || o.keepPending):
		return nil, usagef("--password-stdin and --keep-pending go with --email or --alternate-id")
	}
	return o, o.api.check()
}

// runLogin logs in with a password, and completes the 2FA step the
// account may ask for.
func runLogin(ctx context.Context, e *env, args []string) error {
	o, err := parseLogin(e, args)
	if err != nil {
		return err
	}
	sess, err := openSession(ctx, o.sess)
	var damaged damagedFileError
	if errors.As(err, &damaged) && (o.email != "" || o.altID != "") {
		if err := damaged.setAside(e); err != nil {
			return err
		}
		sess, err = openSession(ctx, o.sess)
	}
	if err != nil {
		return err
	}
	if o.email == "" && o.altID == "" {
		return finishPending(ctx, e, o, sess)
	}
	api, err := sess.api(e, o.api, "add --force to forget that session here and log in anew")
	if err != nil {
		return err
	}
	r, err := o.api.remote(e, api)
	if err != nil {
		return err
	}
	in := newInput(e)
	password, err := in.password(ctx, o.passwordStdin)
	if err != nil {
		if errors.Is(err, errNoInput) {
			return errors.New("no password: stdin ended before its first line; pipe the password in (--password-stdin), or run on a terminal to be asked for it")
		}
		return fmt.Errorf("reading the password: %w", err)
	}
	store, err := sess.store(r)
	if err != nil {
		return err
	}
	req := userauth.LoginRequest{Email: o.email, AlternateID: o.altID, Password: password}
	err = r.do(ctx, func(ctx context.Context) error { _, err := store.Login(ctx, req); return err })
	var tfr *userauth.TwoFactorRequiredError
	if errors.As(err, &tfr) {
		return secondFactor(ctx, e, o, r, sess, store, in, tfr.Method)
	}
	if err != nil {
		return err // nothing was written: the token file is as it was
	}
	fmt.Fprintf(e.stdout, "logged in to %s\n", api)
	return nil
}

// secondFactor completes the 2FA step a login asked for, with --code or a
// code read from stdin. Without a code, or when the step fails, the
// pending step is forgotten here unless --keep-pending, and the session
// the token file held before comes back.
func secondFactor(ctx context.Context, e *env, o *loginOptions, r *remote, sess *session, store *userauth.TokenStore, in *input, method userauth.TwoFactorMethod) error {
	forget := func(keep bool, cause error) error { return forgetPending(ctx, r, sess, keep, cause) }
	code, why := o.code, "stdin ended"
	if code == "" {
		var err error
		code, err = in.code(ctx, method)
		switch {
		case errors.Is(err, errEmptyAnswer):
			why = "the answer was empty"
		case err != nil && !errors.Is(err, errNoInput):
			return forget(o.keepPending, fmt.Errorf("reading the 2FA code: %w", err))
		}
	}
	if code == "" && o.keepPending {
		fmt.Fprintf(e.stdout, "2FA step (%s) pending at %s: finish it with userauth login --code CODE\n", method, r.url)
		return nil
	}
	if code == "" {
		return forget(false, fmt.Errorf("no 2FA code (%s): %s; give --code, or --keep-pending to finish later with userauth login --code CODE", method, why))
	}
	err := r.do(ctx, func(ctx context.Context) error { _, err := store.CompleteTwoFactor(ctx, code); return err })
	if err != nil {
		return forget(o.keepPending, err)
	}
	fmt.Fprintf(e.stdout, "logged in to %s\n", r.url)
	return nil
}

// forgetPending undoes a login whose 2FA step failed, unless keep: the
// token file gets back the session it held before (one of another API,
// with --force, included), unless another process wrote it since (see
// putBack). It then returns
// cause. It does so even when ctx has ended.
func forgetPending(ctx context.Context, r *remote, sess *session, keep bool, cause error) error {
	if keep {
		return cause
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.timeout)
	defer cancel()
	if err := sess.files.putBack(fctx); err != nil {
		return fmt.Errorf("%w (and putting back what %s held before failed: %v)", cause, sess.path, err)
	}
	return cause
}

// finishPending completes, with --code, the 2FA step a login kept with
// --keep-pending. A code the server refuses leaves the step pending.
func finishPending(ctx context.Context, e *env, o *loginOptions, sess *session) error {
	if sess.tok == nil || sess.tok.Requires2FA == "" {
		return fmt.Errorf("no 2FA step is pending in %s: log in with --email or --alternate-id", sess.path)
	}
	r, store, err := sess.storeFor(e, o.api, "add --force to finish it there anyway")
	if err != nil {
		return err
	}
	if err := r.do(ctx, func(ctx context.Context) error { _, err := store.CompleteTwoFactor(ctx, o.code); return err }); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "logged in to %s\n", r.url)
	return nil
}
