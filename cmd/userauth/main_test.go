package main

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pquerna/otp/totp"
	"github.com/tarilabs/userauth"
)

// serve starts `userauth serve` with ann and tom, and returns its URL and
// a reader of the rest of its output.
func serve(t *testing.T) (string, *bufio.Scanner) {
	t.Helper()
	users := filepath.Join(t.TempDir(), "users.json")
	if err := os.WriteFile(users, []byte(`[
		{"email":"`+annEmail+`","password":"`+annPassword+`"},
		{"email":"`+tomEmail+`","password":"`+tomPassword+`","two_factor":"GoogleAuthenticator","totp_secret":"`+tomSecret+`"}
	]`), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := binCommand(t, ctx, nil, "serve", "--addr", "127.0.0.1:0", "--users", users)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		if err := cmd.Wait(); err != nil {
			t.Errorf("userauth serve after Ctrl-C: got %v, want exit status 0", err)
		}
		cancel()
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
	if url == "" {
		t.Fatal("serve printed no URL")
	}
	return url, sc
}

// TestServeSession runs a whole session against `userauth serve`: login,
// status, token used with curl's header, magic link, logout.
func TestServeSession(t *testing.T) {
	t.Parallel()
	url, serverOut := serve(t)
	tf := tokenFile(t)
	env := []string{envBaseURL + "=" + url}

	r := runCLI(t, annPassword+"\n", env, "login", "--email", annEmail, "--token-file", tf)
	wantExit(t, r, 0)
	if want := "logged in to " + url + "\n"; r.stdout != want {
		t.Errorf("login: got stdout %q, want %q", r.stdout, want)
	}
	wantExit(t, runCLI(t, "", nil, "status", "--token-file", tf), 0)

	r = runCLI(t, "", env, "token", "--token-file", tf)
	wantExit(t, r, 0)
	access := strings.TrimSpace(r.stdout)
	if got := getAccount(t, url, access); got != http.StatusOK {
		t.Errorf("GET /account with the printed token: got %d, want 200", got)
	}

	r = runCLI(t, "", nil, "magic-link", "--email", annEmail, "--base-url", url)
	wantExit(t, r, 0)
	if want := "Magic link sent (account status: Active)\n"; r.stdout != want {
		t.Errorf("magic-link: got stdout %q, want %q", r.stdout, want)
	}
	if !serverOut.Scan() || !strings.HasPrefix(serverOut.Text(), "outbox: magic_link to "+annEmail+": "+url+"/magic_link?refresh_token=") {
		t.Errorf("serve: got %q, want the magic link in its outbox", serverOut.Text())
	}

	r = runCLI(t, "", nil, "logout", "--token-file", tf)
	wantExit(t, r, 0)
	if want := "logged out of " + url + "\n"; r.stdout != want {
		t.Errorf("logout: got stdout %q, want %q", r.stdout, want)
	}
	if got := getAccount(t, url, access); got != http.StatusUnauthorized {
		t.Errorf("GET /account after logout: got %d, want 401", got)
	}
}

// getAccount calls GET /account with the access token, as
// `curl -H "Authorization: Bearer $(userauth token)"` does, and returns
// the status.
func getAccount(t *testing.T, url, access string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url+"/account", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+access)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// TestVersion: point 4, --version and the version command print the
// module version and VCS revision the build recorded, as `go version -m`
// reads them from the binary.
func TestVersion(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "version", "-m", binary(t)).Output()
	if err != nil {
		t.Fatal(err)
	}
	var mod, rev, modified string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[0] == "mod":
			mod = f[2]
		case len(f) == 2 && f[0] == "build" && strings.HasPrefix(f[1], "vcs.revision="):
			rev = strings.TrimPrefix(f[1], "vcs.revision=")
		case len(f) == 2 && f[0] == "build" && f[1] == "vcs.modified=true":
			modified = ", modified"
		}
	}
	want := "userauth " + mod
	if rev != "" {
		want += " (revision " + rev + modified + ")"
	}
	for _, args := range [][]string{{"--version"}, {"version"}} {
		r := runCLI(t, "", nil, args...)
		wantExit(t, r, 0)
		if r.stdout != want+"\n" {
			t.Errorf("userauth %s: got %q, want %q", args[0], r.stdout, want+"\n")
		}
	}
	if mod == "" {
		t.Errorf("go version -m: got no module version in %q", out)
	}
}

// decodeJSON decodes one JSON object of a command's stdout, refusing
// unknown fields.
func decodeJSON(t *testing.T, stdout string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decoding %q: %v", stdout, err)
	}
}

// wantKeys checks that stdout is one JSON object with exactly these keys,
// the documented ones.
func wantKeys(t *testing.T, stdout string, keys ...string) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(stdout), &m); err != nil {
		t.Fatalf("decoding %q: %v", stdout, err)
	}
	got := slices.Sorted(maps.Keys(m))
	slices.Sort(keys)
	if !slices.Equal(got, keys) {
		t.Errorf("JSON keys: got %q, want %q", got, keys)
	}
}

// TestTOTP prints the current code of a TOTP secret, as the fake's 2FA
// users need for a login from the shell.
func TestTOTP(t *testing.T) {
	t.Parallel()
	r := runCLI(t, "", nil, "totp", "--secret", tomSecret)
	wantExit(t, r, 0)
	code := strings.TrimSpace(r.stdout)
	if !totp.Validate(code, tomSecret) {
		t.Errorf("totp: got %q, want the current code of the secret", code)
	}
	r = runCLI(t, "", nil, "totp")
	wantExit(t, r, 2)
	r = runCLI(t, "", nil, "totp", "--secret", "not base32!")
	wantExit(t, r, 1)
}

// TestExplainCertificateError: a certificate the client does not trust is
// not "server unreachable", and the message says what to do.
func TestExplainCertificateError(t *testing.T) {
	t.Parallel()
	err := &userauth.TransportError{Method: "POST", Path: "/auth/token", Err: x509.UnknownAuthorityError{}}
	got := explain(err)
	if !strings.HasPrefix(got, "the server's TLS certificate is not trusted here: POST /auth/token") || !strings.Contains(got, "SSL_CERT_FILE") {
		t.Errorf("explain: got %q, want the certificate named, and SSL_CERT_FILE", got)
	}
}
