package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/tarilabs/userauth"
	"github.com/tarilabs/userauth/userauthtest"
)

// TestLoginInput: point 5. The password and the 2FA code come from
// --password-stdin, --code, piped stdin or a terminal prompt, as login's
// help says; with no code, no partial session is left behind unless
// --keep-pending, and then login --code finishes the step; a failed 2FA
// step leaves the token file with the session it held before.
func TestLoginInput(t *testing.T) {
	t.Parallel()
	t.Run("help", func(t *testing.T) {
		t.Parallel()
		r := runCLI(t, "", nil, "login", "--help")
		wantExit(t, r, 0)
		for _, want := range []string{
			"with --password-stdin, the first line of stdin, never\nprompted for",
			"a terminal prompts for it (no echo), and piped\nstdin's first line is read",
			"--code; else a terminal prompts for\nit, and piped stdin's next line is read",
			"the login fails and the token\nfile keeps the session it held before, if any",
			"\"userauth login --code CODE\"\nfinishes it later",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("login --help: got %q, want it to say %q", r.stdout, want)
			}
		}
	})
	t.Run("password-stdin and code", func(t *testing.T) {
		t.Parallel()
		srv, tf := newFake(t), tokenFile(t)
		r := runCLI(t, tomPassword+"\nnot the code\n", nil, "login", "--email", tomEmail, "--password-stdin",
			"--code", tomCode(t, srv), "--base-url", srv.URL, "--token-file", tf)
		if r.code != 0 || r.stderr != "" || !loadToken(t, tf).Valid() {
			t.Errorf("got %v and token %v, want exit 0, no prompt, a complete session", r, loadToken(t, tf))
		}
	})
	t.Run("code on the next line", func(t *testing.T) {
		t.Parallel()
		srv, tf := newFake(t), tokenFile(t)
		r := runCLI(t, tomPassword+"\n"+tomCode(t, srv)+"\n", nil, "login", "--email", tomEmail, "--base-url", srv.URL, "--token-file", tf)
		if r.code != 0 || r.stderr != "" || !loadToken(t, tf).Valid() {
			t.Errorf("got %v and token %v, want exit 0, no prompt, a complete session", r, loadToken(t, tf))
		}
	})
	t.Run("no code", func(t *testing.T) {
		t.Parallel()
		srv, tf := newFake(t), tokenFile(t)
		r := runCLI(t, tomPassword+"\n", nil, "login", "--email", tomEmail, "--password-stdin", "--base-url", srv.URL, "--token-file", tf)
		want := "userauth login: no 2FA code (GoogleAuthenticator): stdin ended; give --code, or --keep-pending to finish later with userauth login --code CODE\n"
		if r.code != 1 || r.stderr != want || exists(t, tf) || exists(t, apiPath(tf)) {
			t.Errorf("got %v, token file kept %v, want exit 1, %q and no token file", r, exists(t, tf), want)
		}
	})
	t.Run("a failed 2FA step keeps the session held before", func(t *testing.T) {
		t.Parallel()
		srv, tf := newFake(t), tokenFile(t)
		login(t, srv, tf)
		before := loadToken(t, tf)
		for _, c := range []struct{ name, stdin string }{
			{"no code", tomPassword + "\n"},
			{"wrong code", tomPassword + "\n000000\n"},
		} {
			r := runCLI(t, c.stdin, nil, "login", "--email", tomEmail, "--base-url", srv.URL, "--token-file", tf)
			after := loadToken(t, tf)
			if r.code != 1 || after == nil || after.AccessToken != before.AccessToken || after.RefreshToken != before.RefreshToken {
				t.Errorf("%s: got %v, token file %v, want exit 1 and ann's session kept", c.name, r, after)
			}
		}
		r := runCLI(t, "", nil, "status", "--token-file", tf)
		if r.code != 0 || !strings.Contains(r.stdout, srv.URL) {
			t.Errorf("status after the failed logins: got %v, want exit 0, logged in to %s", r, srv.URL)
		}
	})
	t.Run("keep pending", func(t *testing.T) {
		t.Parallel()
		srv, tf := newFake(t), tokenFile(t)
		r := runCLI(t, tomPassword+"\n", nil, "login", "--email", tomEmail, "--password-stdin", "--keep-pending", "--base-url", srv.URL, "--token-file", tf)
		want := "2FA step (GoogleAuthenticator) pending at " + srv.URL + ": finish it with userauth login --code CODE\n"
		if r.code != 0 || r.stdout != want || loadToken(t, tf).Requires2FA != userauth.TwoFactorGoogleAuthenticator {
			t.Fatalf("got %v, token %v, want exit 0, %q and the pending step kept", r, loadToken(t, tf), want)
		}
		r = runCLI(t, "", nil, "login", "--code", tomCode(t, srv), "--token-file", tf)
		if r.code != 0 || r.stdout != "logged in to "+srv.URL+"\n" || !loadToken(t, tf).Valid() {
			t.Errorf("login --code: got %v, token %v, want exit 0 and a complete session", r, loadToken(t, tf))
		}
		r = runCLI(t, "", nil, "login", "--code", tomCode(t, srv), "--token-file", tf)
		if r.code != 1 || !strings.Contains(r.stderr, "no 2FA step is pending") {
			t.Errorf("login --code, nothing pending: got %v, want exit 1 saying no 2FA step is pending", r)
		}
	})
	t.Run("terminal prompts", func(t *testing.T) {
		t.Parallel()
		srv, tf := newFake(t), tokenFile(t)
		tm := newTerminal(t)
		ctx, cancel := context.WithTimeout(context.Background(), hangBound)
		defer cancel()
		cmd := binCommand(t, ctx, nil, "login", "--email", tomEmail, "--base-url", srv.URL, "--token-file", tf)
		var out bytes.Buffer
		cmd.Stdin, cmd.Stdout, cmd.Stderr = tm.slave, &out, tm.slave
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		tm.started()
		tm.waitFor("Password: ")
		tm.typeLine(tomPassword)
		tm.waitFor("2FA code (GoogleAuthenticator): ")
		tm.typeLine(tomCode(t, srv))
		shown := tm.all()
		if code := exitCode(t, cmd.Wait()); code != 0 || out.String() != "logged in to "+srv.URL+"\n" {
			t.Errorf("got exit %d, stdout %q, terminal %q; want exit 0 and logged in", code, out.String(), shown)
		}
	})
	t.Run("refused code", func(t *testing.T) {
		t.Parallel()
		srv, tf := newFake(t), tokenFile(t)
		r := runCLI(t, tomPassword+"\n", nil, "login", "--email", tomEmail, "--password-stdin", "--keep-pending", "--base-url", srv.URL, "--token-file", tf)
		wantExit(t, r, 0)
		r = runCLI(t, "", nil, "login", "--code", wrongCode(tomCode(t, srv)), "--token-file", tf)
		if r.code != 1 || loadToken(t, tf).Requires2FA == "" || srv.Calls(userauthtest.PathTwoFactor) != 1 {
			t.Errorf("login --code wrong: got %v, token %v, want exit 1 and the step still pending", r, loadToken(t, tf))
		}
	})
}

// wrongCode returns a code that differs from code in its last digit.
func wrongCode(code string) string {
	last := code[len(code)-1]
	return code[:len(code)-1] + string('0'+(last-'0'+1)%10)
}
