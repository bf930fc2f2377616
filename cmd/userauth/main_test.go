package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests build the real binary and drive it as a user would: a
// `userauth serve` process, and commands fed through piped stdin.

const tomSecret = "JBSWY3DPEHPK3PXP"

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "userauth")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// serve starts `userauth serve` and returns its URL and a reader of the
// rest of its output.
func serve(t *testing.T, bin string) (string, *bufio.Scanner) {
	t.Helper()
	users := filepath.Join(t.TempDir(), "users.json")
	require.NoError(t, os.WriteFile(users, []byte(`[
		{"email":"ann@example.com","password":"correct-horse"},
		{"email":"tom@example.com","password":"battery-staple","two_factor":"GoogleAuthenticator","totp_secret":"`+tomSecret+`"}
	]`), 0o600))
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--users", users)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	sc := bufio.NewScanner(stdout)
	var url string
	for sc.Scan() {
		line := sc.Text()
		if u, ok := strings.CutPrefix(line, "userauth fake API listening on "); ok {
			url = u
		}
		if line == "ready; stop with Ctrl-C" {
			break
		}
	}
	require.NotEmpty(t, url, "serve printed no URL")
	return url, sc
}

type result struct {
	code           int
	stdout, stderr string
}

func runBin(t *testing.T, bin, stdin string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return result{code, out.String(), errb.String()}
}

func TestCLIEndToEnd(t *testing.T) {
	bin := buildBinary(t)
	url, serverOut := serve(t, bin)
	tokenFile := filepath.Join(t.TempDir(), "cfg", "tokens.json")
	env := []string{"USERAUTH_BASE_URL=" + url}
	tf := []string{"--token-file", tokenFile}

	// Without 2FA.
	r := runBin(t, bin, "correct-horse\n", env, append([]string{"login", "--email", "ann@example.com"}, tf...)...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "logged in\n", r.stdout)
	info, err := os.Stat(tokenFile)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	r = runBin(t, bin, "", env, append([]string{"token"}, tf...)...)
	require.Equal(t, 0, r.code, r.stderr)
	access := strings.TrimSpace(r.stdout)
	assert.Len(t, strings.Split(access, "."), 3, "a JWT")
	// What `curl -H "Authorization: Bearer $(userauth token)"` does.
	req, _ := http.NewRequest(http.MethodGet, url+"/account", nil)
	req.Header.Set("Authorization", "Bearer "+access)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, string(body))

	r = runBin(t, bin, "", env, append([]string{"logout"}, tf...)...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "logged out\n", r.stdout)
	r = runBin(t, bin, "", env, append([]string{"token"}, tf...)...)
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "userauth token: not logged in (or the session ended): run userauth login\n", r.stderr)

	// With 2FA: password, then the code, both piped.
	code, err := totp.GenerateCode(tomSecret, time.Now())
	require.NoError(t, err)
	r = runBin(t, bin, "battery-staple\n"+code+"\n", env, append([]string{"login", "--email", "tom@example.com"}, tf...)...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "2FA code (GoogleAuthenticator): ")
	r = runBin(t, bin, "", env, append([]string{"token"}, tf...)...)
	require.Equal(t, 0, r.code, r.stderr)

	// The code missing: a clear failure.
	r = runBin(t, bin, "battery-staple\n", env, append([]string{"login", "--email", "tom@example.com"}, tf...)...)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "reading the 2FA code: no input")

	// Wrong password.
	r = runBin(t, bin, "nope\n", env, append([]string{"login", "--email", "ann@example.com"}, tf...)...)
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "userauth login: wrong email, alternate ID or password\n", r.stderr)
	assert.NotContains(t, r.stderr+r.stdout, "nope")

	// Magic link: the server's outbox shows it.
	r = runBin(t, bin, "", env, "magic-link", "--email", "ann@example.com")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "Magic link sent\n", r.stdout)
	require.True(t, serverOut.Scan())
	assert.True(t, strings.HasPrefix(serverOut.Text(), "outbox: magic_link to ann@example.com: "+url+"/magic?token="), serverOut.Text())

	// --base-url wins over the environment.
	r = runBin(t, bin, "correct-horse\n", []string{"USERAUTH_BASE_URL=http://127.0.0.1:1"},
		append([]string{"login", "--email", "ann@example.com", "--base-url", url}, tf...)...)
	assert.Equal(t, 0, r.code, r.stderr)
}

func TestCLIFailuresAndUsage(t *testing.T) {
	bin := buildBinary(t)
	tf := filepath.Join(t.TempDir(), "tokens.json")

	r := runBin(t, bin, "pw\n", nil, "login", "--email", "a@b.c", "--base-url", "http://127.0.0.1:1", "--token-file", tf)
	assert.Equal(t, 1, r.code)
	assert.True(t, strings.HasPrefix(r.stderr, "userauth login: server unreachable: "), r.stderr)
	assert.NotContains(t, r.stderr, "pw\n")

	r = runBin(t, bin, "pw\n", nil, "login", "--email", "a@b.c", "--base-url", "http://api.example.com", "--token-file", tf)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "http:// is only allowed to loopback hosts")

	for _, args := range [][]string{
		{},
		{"bogus"},
		{"login"},
		{"login", "--email", "a", "--alternate-id", "b"},
		{"login", "--nope"},
		{"magic-link"},
		{"token", "extra"},
	} {
		r := runBin(t, bin, "", nil, args...)
		assert.Equal(t, 2, r.code, "args %q: %s", args, r.stderr)
		assert.NotEmpty(t, r.stderr)
	}
	for _, c := range append([]string{""}, "serve", "login", "token", "magic-link", "logout") {
		args := []string{"--help"}
		if c != "" {
			args = []string{c, "--help"}
		}
		r := runBin(t, bin, "", nil, args...)
		assert.Equal(t, 0, r.code, "%s --help", c)
		assert.Contains(t, r.stdout, "Usage: userauth")
		assert.Empty(t, r.stderr)
	}
}

func TestExplainNamesTheCause(t *testing.T) {
	// The in-process path: run() with a fake env, for the prompt on a
	// terminal.
	var out, errb strings.Builder
	e := &env{
		stdin: strings.NewReader(""), stdout: &out, stderr: &errb,
		getenv:       func(string) string { return "http://127.0.0.1:1" },
		isTerminal:   func() bool { return true },
		readPassword: func() (string, error) { return "from-terminal", nil },
	}
	code := run(context.Background(), e, []string{"login", "--email", "a@b.c", "--token-file", filepath.Join(t.TempDir(), "t.json")})
	assert.Equal(t, 1, code)
	assert.Contains(t, errb.String(), "Password: ")
	assert.Contains(t, errb.String(), "server unreachable")
	assert.NotContains(t, errb.String(), "from-terminal")
}
