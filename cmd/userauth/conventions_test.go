package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/tarilabs/userauth/userauthtest"
)

// TestConventions: point 6. Ctrl-C, logout, help, --insecure, --sandbox
// and the messages behave as gh auth's do.
func TestConventions(t *testing.T) {
	t.Parallel()
	t.Run("ctrl-c", func(t *testing.T) {
		t.Parallel()
		srv := newFake(t)
		srv.Fail(userauthtest.PathLogin, 10, userauthtest.Fault{Hang: true})
		tm := newTerminal(t)
		ctx, cancel := context.WithTimeout(context.Background(), hangBound)
		defer cancel()
		cmd := binCommand(t, ctx, nil, "login", "--email", annEmail, "--password-stdin", "--base-url", srv.URL, "--token-file", tokenFile(t), "--timeout", "10m")
		var out bytes.Buffer
		cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(annPassword+"\n"), &out, tm.slave
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		tm.started()
		tm.waitFor("waiting for " + srv.URL)
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		shown := tm.all()
		if code := exitCode(t, cmd.Wait()); code != 130 || !strings.HasSuffix(shown, "\ruserauth login: cancelled\r\n") {
			t.Errorf("got exit %d, terminal %q; want exit 130 and \"userauth login: cancelled\" after the cleared line", code, shown)
		}
	})
	t.Run("logout when not logged in", func(t *testing.T) {
		t.Parallel()
		r := runCLI(t, "", nil, "logout", "--token-file", tokenFile(t))
		if r.code != 0 || r.stdout != "not logged in\n" || r.stderr != "" {
			t.Errorf("got %v, want exit 0 and \"not logged in\"", r)
		}
	})
	t.Run("logout revokes", func(t *testing.T) {
		t.Parallel()
		srv, tf := newFake(t), tokenFile(t)
		login(t, srv, tf)
		access := loadToken(t, tf).AccessToken
		r := runCLI(t, "", nil, "logout", "--token-file", tf)
		if r.code != 0 || srv.Calls(userauthtest.PathLogout) != 1 || hasSession(t, tf) {
			t.Errorf("got %v, %d logout calls, session kept %v; want exit 0, 1 call, no session", r, srv.Calls(userauthtest.PathLogout), hasSession(t, tf))
		}
		if got := getAccount(t, srv.URL, access); got != http.StatusUnauthorized {
			t.Errorf("GET /account with the old token: got %d, want 401", got)
		}
	})
	t.Run("logout --local", func(t *testing.T) {
		t.Parallel()
		srv, tf := newFake(t), tokenFile(t)
		login(t, srv, tf)
		access := loadToken(t, tf).AccessToken
		r := runCLI(t, "", nil, "logout", "--local", "--token-file", tf)
		if r.code != 0 || srv.Calls(userauthtest.PathLogout) != 0 || hasSession(t, tf) {
			t.Errorf("got %v, %d logout calls, session kept %v; want exit 0, no call, no session", r, srv.Calls(userauthtest.PathLogout), hasSession(t, tf))
		}
		if got := getAccount(t, srv.URL, access); got != http.StatusOK {
			t.Errorf("GET /account with the old token: got %d, want 200 (not revoked)", got)
		}
	})
	t.Run("logout not revoked", func(t *testing.T) {
		t.Parallel()
		srv, tf := newFake(t), tokenFile(t)
		login(t, srv, tf)
		srv.Fail(userauthtest.PathLogout, 1, userauthtest.Fault{Status: 500, Body: `{"error":"database down"}`})
		r := runCLI(t, "", nil, "logout", "--token-file", tf)
		want := "userauth logout: logged out here; the server did not revoke the tokens: server error: POST /logout: 500 internal server error: database down\n"
		if r.code != 1 || r.stderr != want || hasSession(t, tf) {
			t.Errorf("got %v, session kept %v; want exit 1, %q, no session", r, hasSession(t, tf), want)
		}
	})
	t.Run("help", func(t *testing.T) { t.Parallel(); testHelp(t) })
	t.Run("insecure", func(t *testing.T) { t.Parallel(); testInsecure(t) })
	t.Run("messages", func(t *testing.T) { t.Parallel(); testMessages(t) })
}

// testHelp checks that each command's help lists, as --flag, exactly the
// flags it reads, and names the production and sandbox hosts when it
// talks to the API.
func testHelp(t *testing.T) {
	api := []string{"base-url", "insecure", "sandbox", "timeout"}
	for cmd, flags := range map[string][]string{
		"login":      append([]string{"alternate-id", "code", "email", "force", "keep-pending", "password-stdin", "token-file"}, api...),
		"token":      append([]string{"force", "json", "token-file"}, api...),
		"logout":     append([]string{"force", "local", "token-file"}, api...),
		"magic-link": append([]string{"complete", "email", "force", "redirect", "token-file", "user-id"}, api...),
		"status":     {"base-url", "check", "insecure", "json", "sandbox", "timeout", "token-file"},
		"serve":      {"addr", "users"},
		"version":    nil,
	} {
		r := runCLI(t, "", nil, cmd, "--help")
		wantExit(t, r, 0)
		var got []string
		for _, m := range regexp.MustCompile(`(?m)^  --([a-z-]+)`).FindAllStringSubmatch(r.stdout, -1) {
			got = append(got, m[1])
		}
		slices.Sort(flags)
		if !slices.Equal(got, flags) {
			t.Errorf("%s --help: got flags %q, want %q", cmd, got, flags)
		}
		if regexp.MustCompile(`(?m)^\s+-[a-z]`).MatchString(r.stdout) {
			t.Errorf("%s --help: got a flag with one dash in %q", cmd, r.stdout)
		}
		talks := slices.Contains(flags, "sandbox")
		text := strings.Join(strings.Fields(r.stdout), " ")
		names := strings.Contains(text, productionURL+" (production") && strings.Contains(text, sandboxURL+", the sandbox")
		if talks != names {
			t.Errorf("%s --help: got %q; want the production and sandbox hosts named: %v", cmd, r.stdout, talks)
		}
	}
}

// testInsecure checks that plain http:// to another machine needs
// --insecure, and that the refusal names that flag. 0.0.0.0 reaches the
// fake on Linux while not being a loopback address.
func testInsecure(t *testing.T) {
	srv := newFake(t)
	remote := strings.Replace(srv.URL, "127.0.0.1", "0.0.0.0", 1)
	r := runCLI(t, "", nil, "magic-link", "--email", annEmail, "--base-url", remote)
	if r.code != 1 || !strings.Contains(r.stderr, "add --insecure to allow it") || strings.Contains(r.stderr, "WithInsecureHTTP") || srv.Calls(userauthtest.PathMagicLink) != 0 {
		t.Errorf("without --insecure: got %v, want exit 1 naming --insecure, no call", r)
	}
	if runtime.GOOS != "linux" {
		return
	}
	r = runCLI(t, "", nil, "magic-link", "--email", annEmail, "--base-url", remote, "--insecure")
	if r.code != 0 || srv.Calls(userauthtest.PathMagicLink) != 1 {
		t.Errorf("with --insecure: got %v and %d calls, want exit 0 and 1 call", r, srv.Calls(userauthtest.PathMagicLink))
	}
}

// testMessages checks the messages for a wrong password, a refused 2FA
// code and a magic link, server text made safe for a terminal.
func testMessages(t *testing.T) {
	srv, tf := newFake(t), tokenFile(t)
	r := runCLI(t, "nope\n", nil, "login", "--email", annEmail, "--base-url", srv.URL, "--token-file", tf)
	if want := "userauth login: wrong email, alternate ID or password\n"; r.code != 1 || r.stderr != want {
		t.Errorf("wrong password: got %v, want exit 1 and %q", r, want)
	}
	r = runCLI(t, tomPassword+"\n", nil, "login", "--email", tomEmail, "--code", wrongCode(tomCode(t, srv)), "--base-url", srv.URL, "--token-file", tf)
	if want := "userauth login: 2FA code refused: Invalid 2FA code (a code works once and changes every 30 s: wait for the next one)\n"; r.code != 1 || r.stderr != want || exists(t, tf) {
		t.Errorf("wrong code: got %v, want exit 1, %q and no partial session", r, want)
	}
	r = runCLI(t, "", nil, "magic-link", "--email", annEmail, "--sandbox", "--base-url", srv.URL)
	if want := "Magic link sent (account status: Active)\n"; r.code != 0 || r.stdout != want {
		t.Errorf("magic-link: got %v, want %q", r, want)
	}
	srv.Fail(userauthtest.PathMagicLink, 1, userauthtest.Fault{Status: 200, Body: `{"message":"sent\u001b[2J\u202eto you","status":"Act\u0007ive"}`})
	r = runCLI(t, "", nil, "magic-link", "--email", annEmail, "--base-url", srv.URL)
	if want := "sent\uFFFD[2J\uFFFDto you (account status: Act\uFFFDive)\n"; r.code != 0 || r.stdout != want {
		t.Errorf("magic-link, control characters: got %v, want %q", r, want)
	}
}
