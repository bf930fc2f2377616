package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/tarilabs/userauth"
)

// logoutAbout is logout's help.
const logoutAbout = `
End the saved session: have the server revoke its tokens (POST /logout,
which ends every session of the user), then forget them here. With
--local, only forget them here: they stay valid until they expire, for
anyone holding a copy.

When the server cannot be reached or refuses, the tokens are forgotten
here all the same; logout then says "logged out here; the server did not
revoke the tokens: <reason>" and exits 1. When not logged in, it says so
and exits 0.

The API: --base-url, else --sandbox (` + sandboxURL + `, the sandbox),
else $USERAUTH_BASE_URL, else the saved session's API (the usual case),
else ` + productionURL + ` (production). A flag or variable that names
another API than the session's is refused unless --force, which sends the
saved tokens there to be revoked. --local needs no API.`

// runLogout ends the saved session.
func runLogout(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("logout", "logout [flags]", logoutAbout)
	local := fs.Bool("local", false, "only forget the tokens here; do not have the server revoke them")
	af := addAPIFlags(fs, true)
	sf := addSessionFlags(fs, "send the saved tokens, to be revoked, to the API named by the flag or variable even when the session is for another")
	if err := fs.parse(e, args); err != nil {
		return err
	}
	if err := af.check(); err != nil {
		return err
	}
	sess, err := openSession(ctx, sf)
	var damaged damagedFileError
	switch {
	case errors.As(err, &damaged) && *local:
		if err := os.Remove(damaged.path); err != nil {
			return err
		}
		if err := os.Remove(apiPath(damaged.path)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		fmt.Fprintf(e.stdout, "removed the damaged token file %s\n", damaged.path)
		return nil
	case err != nil:
		return err
	case sess.tok == nil:
		fmt.Fprintln(e.stdout, "not logged in")
		return nil
	case *local:
		return logoutLocal(ctx, e, sess)
	}
	r, store, err := sess.storeFor(e, af, "add --force to have them revoked there anyway, or --local to only forget them here")
	if err != nil {
		return err
	}
	err = r.do(ctx, store.Logout)
	if err == nil {
		fmt.Fprintf(e.stdout, "logged out of %s\n", r.url)
		return nil
	}
	if errors.Is(err, userauth.ErrNotRevoked) && cleared(ctx, sess) {
		return fmt.Errorf("logged out here; the server did not revoke the tokens: %s", notRevokedReason(err))
	}
	return err
}

// logoutLocal forgets the session's tokens without a network call.
func logoutLocal(ctx context.Context, e *env, sess *session) error {
	store, err := userauth.NewTokenStore(nil, &apiStorage{FileStorage: sess.storage}) // its client is never called
	if err != nil {
		return err
	}
	if err := store.LogoutLocal(ctx); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "logged out here; the tokens were not revoked, and stay valid until they expire")
	return nil
}

// cleared reports whether the token file no longer holds a session.
func cleared(ctx context.Context, sess *session) bool {
	rec, err := sess.storage.Load(context.WithoutCancel(ctx))
	return err == nil && (rec == nil || rec.Token == nil)
}

// notRevokedReason says why the server did not revoke the tokens, given
// the error of a Logout that matches userauth.ErrNotRevoked.
func notRevokedReason(err error) string {
	var te timeoutError
	if errors.As(err, &te) {
		return te.Error()
	}
	if cause := serverCause(err); cause != nil {
		return explain(cause)
	}
	return explain(err)
}

// serverCause finds the server's error that a Logout error wraps beside
// userauth.ErrNotRevoked, or nil. The SDK offers no accessor for it: it
// wraps both with one fmt.Errorf("%w: %w"), which this walks.
func serverCause(err error) error {
	switch u := err.(type) {
	case interface{ Unwrap() []error }:
		errs := u.Unwrap()
		if len(errs) == 2 && errs[0] == userauth.ErrNotRevoked {
			return errs[1]
		}
		for _, e := range errs {
			if c := serverCause(e); c != nil {
				return c
			}
		}
	case interface{ Unwrap() error }:
		return serverCause(u.Unwrap())
	}
	return nil
}
