package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tarilabs/userauth"
)

// tokenAbout is token's help.
const tokenAbout = `
Print a valid access token of the saved session, renewing it first when it
has expired, for use in scripts:

  curl -H "Authorization: Bearer $(userauth token)" https://a.y.at/...

With --json it prints {"access_token": "...", "expires_at": "RFC 3339, UTC"}:
expires_at is when to ask for a token again at the latest. It is the access
token's expiry, or sooner, five minutes ahead at most, while this machine's
clock has not been compared with the server's (a token read from the file
before any renewal); "" when unknown. "userauth status" shows the token's
own exp claim.

The API: --base-url, else --sandbox (` + sandboxURL + `, the sandbox),
else $USERAUTH_BASE_URL, else the saved session's API (the usual case),
else ` + productionURL + ` (production). A flag or variable that names
another API than the session's is refused unless --force, which sends the
saved tokens there (a renewal then records that API as the session's).`

// tokenJSON is what token --json prints.
type tokenJSON struct {
	AccessToken string `json:"access_token"`
	ExpiresAt   string `json:"expires_at"`
}

// runToken prints a valid access token.
func runToken(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("token", "token [flags]", tokenAbout)
	asJSON := fs.Bool("json", false, "print {\"access_token\", \"expires_at\"} as JSON")
	af := addAPIFlags(fs, true)
	sf := addSessionFlags(fs, "send the saved tokens to the API named by the flag or variable even when the session is for another")
	if err := fs.parse(e, args); err != nil {
		return err
	}
	if err := af.check(); err != nil {
		return err
	}
	sess, err := openSession(ctx, sf)
	if err != nil {
		return err
	}
	if sess.tok == nil {
		return userauth.ErrLoginRequired
	}
	r, store, err := sess.storeFor(e, af, "add --force to send its tokens there anyway, or log in there first")
	if err != nil {
		return err
	}
	var tok *userauth.Token
	if err := r.do(ctx, func(ctx context.Context) (err error) { tok, err = store.Token(ctx); return err }); err != nil {
		return err
	}
	if !*asJSON {
		fmt.Fprintln(e.stdout, tok.AccessToken)
		return nil
	}
	return json.NewEncoder(e.stdout).Encode(tokenJSON{AccessToken: tok.AccessToken, ExpiresAt: rfc3339(tok.Expiry)})
}

// rfc3339 formats t in UTC, or "" when it is zero.
func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
