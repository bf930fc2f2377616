package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestADamagedTokenFileHasTwoWaysOut: a torn or truncated token file no
// longer blocks everything. Every command that reads it names both ways
// out; login replaces it, keeping the damaged file as .bak; logout --local
// removes it.
func TestADamagedTokenFileHasTwoWaysOut(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	const torn = `{"access_token":"eyJ.a`
	damage := func(tf string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(tf), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(tf, []byte(torn), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	tf := tokenFile(t)
	damage(tf)
	r := runCLI(t, "", nil, "status", "--token-file", tf)
	wantExit(t, r, 1)
	for _, want := range []string{"is damaged", "userauth login replaces it", tf + ".bak", "userauth logout --local removes it"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("status on a damaged file: got %v, want stderr to say %q", r, want)
		}
	}

	r = runCLI(t, annPassword+"\n", nil, "login", "--email", annEmail, "--password-stdin", "--base-url", srv.URL, "--token-file", tf)
	wantExit(t, r, 0)
	if !strings.Contains(r.stderr, "was damaged: kept it as "+tf+".bak") {
		t.Errorf("login over a damaged file: got %v, want it to say it kept the damaged file", r)
	}
	if b, err := os.ReadFile(tf + ".bak"); err != nil || string(b) != torn {
		t.Errorf("the .bak holds %q, %v; want the damaged file", b, err)
	}
	if tok := loadToken(t, tf); tok == nil || tok.AccessToken == "" {
		t.Errorf("after the login the token file holds %v, want a session", tok)
	}

	damage(tf)
	r = runCLI(t, "", nil, "logout", "--local", "--token-file", tf)
	wantExit(t, r, 0)
	if exists(t, tf) {
		t.Errorf("logout --local left the damaged file: %v", r)
	}
	r = runCLI(t, "", nil, "status", "--token-file", tf)
	if r.code != 1 || !strings.Contains(r.stdout, "not logged in") {
		t.Errorf("status after logout --local: got %v, want not logged in", r)
	}
}
