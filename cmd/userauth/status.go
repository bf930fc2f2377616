package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tarilabs/userauth"
)

// statusAbout is status's help.
const statusAbout = `
Show the saved session: who is logged in (the sub and email claims of the
access token, read without verifying its signature), to which API, when
the access token expires, and whether a 2FA step is pending. Without
--check it makes no network call: an expired token is renewed by the next
command that uses it.

The API: --base-url, else --sandbox (` + sandboxURL + `, the sandbox),
else $USERAUTH_BASE_URL, else the saved session's API, else
` + productionURL + ` (production). Named by a flag or variable, status
shows the session for that API: none when the token file's session is for
another.

--check also asks the API whether it still accepts the session: an
authenticated GET /account, renewing the access token first if it must.
A session the server forgot (revoked, logged out elsewhere, reuse
detected) then fails the command.

Exit status: 0 when the token file holds a complete session for the API
(even with an expired access token) and, with --check, the API accepts
it; 1 when it holds none, or only a pending 2FA step, or the API refuses
it.

With --json it prints one object with these fields, always present:
  logged_in           true for a complete session
  api                 the session's API, "" when unknown
  subject, email      the token's sub and email claims, "" when absent
  expires_at          the access token's expiry, RFC 3339 in UTC, "" when unknown
  expired             true when expires_at has passed
  two_factor_pending  the method of a pending 2FA step, "" when none
  token_file          the token file's path
  server_check        with --check: "accepted", "refused" or "unreachable";
                      "" without --check or without a session`

// statusJSON is what status --json prints; the field names are stable.
type statusJSON struct {
	LoggedIn         bool   `json:"logged_in"`
	API              string `json:"api"`
	Subject          string `json:"subject"`
	Email            string `json:"email"`
	ExpiresAt        string `json:"expires_at"`
	Expired          bool   `json:"expired"`
	TwoFactorPending string `json:"two_factor_pending"`
	TokenFile        string `json:"token_file"`
	ServerCheck      string `json:"server_check"`
}

// runStatus shows the saved session, offline; with --check, as the API
// sees it.
func runStatus(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("status", "status [flags]", statusAbout)
	asJSON := fs.Bool("json", false, "print the status as one JSON object")
	check := fs.Bool("check", false, "also ask the API whether it still accepts the session (GET /account); exit 1 when it does not")
	af := addAPIFlags(fs, true)
	sf := addSessionFlags(fs, "")
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
	named, _, err := af.explicit(e)
	if err != nil {
		return err
	}
	other := ""
	if named != "" && sess.tok != nil && named != sess.saved {
		other = cmp.Or(sess.saved, "an API it does not record")
		sess.tok, sess.saved = nil, named // no session for the API named
	}
	now := time.Now()
	st := describe(sess, now)
	var checkErr error
	if *check && st.LoggedIn {
		checkErr = checkSession(ctx, e, af, sess)
		st.ServerCheck = serverCheck(checkErr)
	}
	switch {
	case *asJSON:
		if err := json.NewEncoder(e.stdout).Encode(st); err != nil {
			return err
		}
	case other != "":
		fmt.Fprintf(e.stdout, "not logged in to %s: the session in %s is for %s\n", named, st.TokenFile, other)
	default:
		printStatus(e.stdout, sess.tok, st, now)
	}
	if !st.LoggedIn || (checkErr != nil && *asJSON) {
		return exitError(exitFail)
	}
	return checkErr
}

// serverCheck names the outcome of checkSession for status --json.
func serverCheck(err error) string {
	var te *userauth.TransportError
	var to timeoutError
	switch {
	case err == nil:
		return "accepted"
	case errors.As(err, &te) || errors.As(err, &to):
		return "unreachable"
	}
	return "refused"
}

// checkSession asks the session's API for the account with the session's
// tokens, renewing them if it must.
func checkSession(ctx context.Context, e *env, af *apiFlags, sess *session) error {
	r, store, err := sess.storeFor(e, af, "")
	if err != nil {
		return err
	}
	return r.do(ctx, func(ctx context.Context) error { _, err := store.Account(ctx); return err })
}

// describe reads the session's status.
func describe(sess *session, now time.Time) statusJSON {
	st := statusJSON{API: sess.saved, TokenFile: sess.path}
	if sess.tok == nil {
		return st
	}
	c := readClaims(sess.tok.AccessToken)
	exp := expiryOf(sess.tok)
	st.Subject, st.Email = c.sub, c.email
	st.ExpiresAt = rfc3339(exp)
	st.Expired = !exp.IsZero() && !now.Before(exp)
	st.TwoFactorPending = string(sess.tok.Requires2FA)
	st.LoggedIn = sess.tok.Requires2FA == ""
	return st
}

// printStatus writes the status for a person.
func printStatus(w io.Writer, tok *userauth.Token, st statusJSON, now time.Time) {
	api := st.API
	if api == "" {
		api = "an unknown API (an older userauth wrote the token file)"
	}
	switch {
	case tok == nil:
		fmt.Fprintf(w, "not logged in (no session in %s): run userauth login\n", st.TokenFile)
		return
	case tok.Requires2FA != "":
		fmt.Fprintf(w, "not logged in: a 2FA step (%s) is pending at %s\n", tok.Requires2FA, api)
		fmt.Fprintln(w, "  finish it:   userauth login --code CODE")
	default:
		fmt.Fprintf(w, "logged in to %s\n", api)
	}
	account := "unknown (the access token has no readable sub claim)"
	if st.Subject != "" {
		account = printable(st.Subject)
	}
	if st.Email != "" {
		account += " (" + printable(st.Email) + ")"
	}
	fmt.Fprintf(w, "  account:     %s\n", account)
	fmt.Fprintln(w, "               read from the access token's claims, without verifying its signature")
	fmt.Fprintf(w, "  expires:     %s\n", expiryText(expiryOf(tok), now))
	fmt.Fprintf(w, "  token file:  %s\n", st.TokenFile)
	switch st.ServerCheck {
	case "accepted":
		fmt.Fprintln(w, "  server:      accepts the session (GET /account)")
	case "refused":
		fmt.Fprintln(w, "  server:      does not accept the session (GET /account)")
	case "unreachable":
		fmt.Fprintln(w, "  server:      unreachable: the session could not be checked")
	}
}

// expiryText says when exp is, in local time, and how far from now.
func expiryText(exp, now time.Time) string {
	if exp.IsZero() {
		return "unknown"
	}
	at := exp.Local().Format("2006-01-02 15:04:05 MST")
	if now.Before(exp) {
		return at + " (in " + span(exp.Sub(now)) + ")"
	}
	return at + " (expired " + span(now.Sub(exp)) + " ago, will renew on next use)"
}

// span says d in whole minutes, hours or days, rounded down.
func span(d time.Duration) string {
	unit, n := "minute", int(d/time.Minute)
	switch {
	case n < 1:
		return "less than a minute"
	case d >= 48*time.Hour:
		unit, n = "day", int(d/(24*time.Hour))
	case d >= 2*time.Hour:
		unit, n = "hour", int(d/time.Hour)
	}
	if n != 1 {
		unit += "s"
	}
	return fmt.Sprintf("%d %s", n, unit)
}
