package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

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
	t.Run("an empty code", func(t *testing.T) {
		t.Parallel()
		srv, tf := newFake(t), tokenFile(t)
		r := runCLI(t, tomPassword+"\n\n", nil, "login", "--email", tomEmail, "--password-stdin", "--base-url", srv.URL, "--token-file", tf)
		want := "userauth login: no 2FA code (GoogleAuthenticator): the answer was empty; give --code, or --keep-pending to finish later with userauth login --code CODE\n"
		if r.code != 1 || r.stderr != want {
			t.Errorf("got %v, want exit 1 and %q", r, want)
		}
	})
	t.Run("a password given as a flag", func(t *testing.T) {
		t.Parallel()
		r := runCLI(t, "", nil, "login", "--email", annEmail, "--password", "x")
		if r.code != 2 || !strings.Contains(r.stderr, "use --password-stdin") {
			t.Errorf("got %v, want exit 2 and a hint at --password-stdin", r)
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
		tm, cmd, out := tomAtTheCodePrompt(t, srv, tf)
		tm.typeLine(tomCode(t, srv))
		shown := tm.all()
		if code := exitCode(t, cmd.Wait()); code != 0 || out.String() != "logged in to "+srv.URL+"\n" {
			t.Errorf("got exit %d, stdout %q, terminal %q; want exit 0 and logged in", code, out.String(), shown)
		}
	})
	t.Run("Ctrl-C at the code prompt", func(t *testing.T) {
		t.Parallel()
		srv, tf := newFake(t), tokenFile(t)
		tm, cmd, _ := tomAtTheCodePrompt(t, srv, tf)
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		shown := tm.all()
		code := exitCode(t, cmd.Wait())
		if code != 130 || !strings.Contains(shown, "2FA code (GoogleAuthenticator): \r\nuserauth login: cancelled") {
			t.Errorf("got exit %d, terminal %q; want 130 and \"cancelled\" on a line of its own", code, shown)
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

// tomAtTheCodePrompt starts "userauth login --email tom" on a terminal,
// types tom's password at its prompt and returns once it asks for the 2FA
// code, with the command's stdout.
func tomAtTheCodePrompt(t *testing.T, srv *userauthtest.Server, tf string) (*terminal, *exec.Cmd, *bytes.Buffer) {
	t.Helper()
	tm := newTerminal(t)
	ctx, cancel := context.WithTimeout(context.Background(), hangBound)
	t.Cleanup(cancel)
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
	return tm, cmd, &out
}

// wrongCode returns a code that differs from code in its last digit.
func wrongCode(code string) string {
	last := code[len(code)-1]
	return code[:len(code)-1] + string('0'+(last-'0'+1)%10)
}

// pendingLogin starts "userauth login --email tom" with a piped stdin the
// test writes to; wait returns its result.
func pendingLogin(t *testing.T, srv *userauthtest.Server, tf string) (stdin io.WriteCloser, wait func() result) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangBound)
	cmd := binCommand(t, ctx, nil, "login", "--email", tomEmail, "--base-url", srv.URL, "--token-file", tf)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return in, func() result {
		defer cancel()
		err := cmd.Wait()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return result{code, out.String(), errb.String()}
	}
}

// bearerStatus is the status srv answers GET /account with tok.
func bearerStatus(t *testing.T, srv *userauthtest.Server, tok string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+userauthtest.PathAccount, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestLoginFailedKeepsALogoutElsewhere: the token file holds ann's
// session; "userauth login --email tom" saves tom's pending 2FA step and
// waits for the code. Meanwhile "userauth logout" runs on the same file
// and clears the step. The login then gets no code: it leaves the file
// empty, as the logout left it, and puts no session back.
func TestLoginFailedKeepsALogoutElsewhere(t *testing.T) {
	t.Parallel()
	srv, tf := newFake(t), tokenFile(t)
	login(t, srv, tf)
	ann := loadToken(t, tf)

	stdin, wait := pendingLogin(t, srv, tf)
	if _, err := io.WriteString(stdin, tomPassword+"\n"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if tok := loadToken(t, tf); tok != nil && tok.Requires2FA != "" {
			break
		}
		if time.Now().After(deadline) {
			stdin.Close()
			t.Fatalf("the login never saved its pending step: %v", wait())
		}
		time.Sleep(10 * time.Millisecond)
	}
	out := runCLI(t, "", nil, "logout", "--token-file", tf)
	t.Logf("logout elsewhere: %v", out)
	stdin.Close() // no code
	r := wait()
	t.Logf("the login: %v", r)
	if out.code != 0 {
		t.Fatalf("logout: %v", out)
	}
	after := loadToken(t, tf)
	if after != nil {
		t.Errorf("after a logout that exited 0 (%q), the failed login put a session back in the token file (ann's: %v); the server answers its token %d",
			out.stdout, after.RefreshToken == ann.RefreshToken, bearerStatus(t, srv, after.AccessToken))
	}
}

// TestLoginFailedPutsBackTheNewestPair: the token file holds ann's session
// S. While "userauth login --email tom" waits for the password, another
// process renews S to S'. The login saves tom's pending step, gets no code,
// and puts back S', the pair its save replaced, not S, whose refresh token
// is spent: the next renewal presents no spent token.
func TestLoginFailedPutsBackTheNewestPair(t *testing.T) {
	t.Parallel()
	srv, tf := newFake(t), tokenFile(t)
	login(t, srv, tf)
	s0 := loadToken(t, tf)

	stdin, wait := pendingLogin(t, srv, tf)
	time.Sleep(time.Second) // the login has read the token file and waits for the password

	// Another process renews ann's session in the same file.
	c, err := userauth.NewClient(srv.URL, userauth.WithHTTPClient(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	fs, err := userauth.NewFileStorage(tf)
	if err != nil {
		t.Fatal(err)
	}
	other, err := userauth.NewTokenStore(c, fs)
	if err != nil {
		t.Fatal(err)
	}
	s1, err := other.Refresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s1.RefreshToken == s0.RefreshToken {
		t.Fatal("the other process did not rotate the pair")
	}

	if _, err := io.WriteString(stdin, tomPassword+"\n"); err != nil {
		t.Fatal(err)
	}
	stdin.Close() // no code
	r := wait()
	t.Logf("the login: %v", r)
	after := loadToken(t, tf)
	if after != nil && after.RefreshToken == s0.RefreshToken {
		t.Errorf("the failed login put back a pair whose refresh token another process had spent")
	}
	expireToken(t, tf)
	tr := runCLI(t, "", nil, "token", "--token-file", tf)
	t.Logf("token after: %v", tr)
	if n := srv.ReuseDetected(); n != 0 {
		t.Errorf("a spent refresh token was presented %d time(s): the server revoked the session", n)
	}
}

// TestLoginForcedThatFailsLeavesTheOtherAPIsSession: the token file holds
// ann's session of API Y. A "login --force" to API X that fails, at the
// password or at the 2FA step, leaves the file as it found it: ann's
// tokens, recorded as Y's.
func TestLoginForcedThatFailsLeavesTheOtherAPIsSession(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, email, stdin string }{
		{"wrong password", annEmail, "wrong-password\n"},
		{"no 2FA code", tomEmail, tomPassword + "\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			y, x, tf := newFake(t), newFake(t), tokenFile(t)
			login(t, y, tf)
			before := loadToken(t, tf)
			r := runCLI(t, c.stdin, nil, "login", "--force", "--email", c.email, "--password-stdin", "--base-url", x.URL, "--token-file", tf)
			after := loadToken(t, tf)
			api := sessionAPI(t, tf)
			if r.code != 1 || after == nil || after.RefreshToken != before.RefreshToken || api != y.URL {
				t.Errorf("got %v, token file %v for %q, want exit 1 and ann's session of %s kept", r, after, api, y.URL)
			}
		})
	}
}
