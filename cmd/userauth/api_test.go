package main

import (
	"encoding/json"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/tarilabs/userauth/userauthtest"
)

// TestTokenFileRemembersItsAPI: point 1. The API that issued the tokens is
// saved beside them; a command without --base-url, --sandbox or
// USERAUTH_BASE_URL uses it; one that names another API is refused, naming
// both, unless --force.
func TestTokenFileRemembersItsAPI(t *testing.T) {
	t.Parallel()
	a, b := newFake(t), newFake(t)
	tf := tokenFile(t)

	r := runCLI(t, annPassword+"\n", []string{envBaseURL + "=" + a.URL}, "login", "--email", annEmail, "--token-file", tf)
	wantExit(t, r, 0)
	checkAPIFile(t, tf, a.URL)

	// Nothing names the API: the expired token is renewed where it was
	// issued, not in production.
	expireToken(t, tf)
	r = runCLI(t, "", nil, "token", "--token-file", tf)
	wantExit(t, r, 0)
	if got := a.Calls(userauthtest.PathRefresh); got != 1 {
		t.Errorf("refresh calls to the session's API: got %d, want 1", got)
	}
	access := r.stdout

	for _, tc := range []struct {
		name       string
		env, args  []string
		named, src string
	}{
		{"flag", nil, []string{"--base-url", b.URL}, b.URL, "--base-url"},
		{"sandbox", nil, []string{"--sandbox"}, sandboxURL, "--sandbox"},
		{"variable", []string{envBaseURL + "=" + b.URL}, nil, b.URL, envBaseURL},
		{"variable before flag", []string{envBaseURL + "=" + a.URL}, []string{"--base-url", b.URL}, b.URL, "--base-url"},
	} {
		r := runCLI(t, "", tc.env, append([]string{"token", "--token-file", tf}, tc.args...)...)
		want := "userauth token: the session in " + tf + " is for " + a.URL + ", but " + tc.src + " names " + tc.named +
			": add --force to send its tokens there anyway, or log in there first\n"
		if r.code != 1 || r.stderr != want || r.stdout != "" {
			t.Errorf("%s: got %v, want exit 1 and stderr %q", tc.name, r, want)
		}
	}

	// The same API spelled otherwise is the same API.
	same := strings.Replace(a.URL, "http://", "HTTP://", 1) + "/"
	r = runCLI(t, "", nil, "token", "--token-file", tf, "--base-url", same)
	if r.code != 0 || r.stdout != access {
		t.Errorf("token --base-url %s: got %v, want exit 0 and the token %q", same, r, access)
	}

	// login to another API: refused, the session kept; with --force the
	// session is forgotten here (not revoked) and the new one recorded.
	r = runCLI(t, annPassword+"\n", nil, "login", "--email", annEmail, "--token-file", tf, "--base-url", b.URL)
	if r.code != 1 || !strings.Contains(r.stderr, a.URL) || !strings.Contains(r.stderr, b.URL) || b.Calls(userauthtest.PathLogin) != 0 {
		t.Errorf("login to another API: got %v and %d login calls there, want exit 1 naming both APIs and none", r, b.Calls(userauthtest.PathLogin))
	}
	checkAPIFile(t, tf, a.URL)
	r = runCLI(t, annPassword+"\n", nil, "login", "--email", annEmail, "--token-file", tf, "--base-url", b.URL, "--force")
	wantExit(t, r, 0)
	checkAPIFile(t, tf, b.URL)
	if got := a.Calls(userauthtest.PathLogout); got != 0 {
		t.Errorf("login --force: got %d logout calls to the old API, want 0", got)
	}

	// token --force sends the saved tokens to the API named.
	expireToken(t, tf)
	r = runCLI(t, "", nil, "token", "--token-file", tf, "--base-url", a.URL, "--force")
	if r.code != 1 || a.Calls(userauthtest.PathRefresh) != 2 || b.Calls(userauthtest.PathRefresh) != 0 {
		t.Errorf("token --force to the old API: got %v, refresh calls %d there and %d to the session's, want exit 1 (the tokens are not its), 2 and 0",
			r, a.Calls(userauthtest.PathRefresh), b.Calls(userauthtest.PathRefresh))
	}

	// A token file that an older userauth wrote (a bare token), with no
	// API beside it: its tokens go nowhere the user did not name.
	login(t, b, tf)
	old, err := json.Marshal(loadToken(t, tf))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tf, old, 0o600); err != nil {
		t.Fatal(err)
	}
	expireToken(t, tf)
	r = runCLI(t, "", nil, "token", "--token-file", tf)
	if r.code != 1 || !strings.Contains(r.stderr, "does not say which API") || b.Calls(userauthtest.PathRefresh) != 0 {
		t.Errorf("token with no recorded API: got %v and %d refresh calls, want exit 1 saying the API is unknown, and none", r, b.Calls(userauthtest.PathRefresh))
	}
	r = runCLI(t, "", nil, "token", "--token-file", tf, "--base-url", b.URL)
	wantExit(t, r, 0)
	checkAPIFile(t, tf, b.URL)
}

// checkAPIFile checks that the token file's session record names api,
// and that the file is its owner's alone.
func checkAPIFile(t *testing.T, tf, api string) {
	t.Helper()
	if got := sessionAPI(t, tf); got != api {
		t.Errorf("%s: the session's API is %q, want %q", tf, got, api)
	}
	info, err := os.Stat(tf)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && info.Mode().Perm() != 0o600 {
		t.Errorf("%s: got mode %v, want 0600", tf, info.Mode().Perm())
	}
}
