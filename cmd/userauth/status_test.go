package main

import (
	"context"
	"encoding/json"
	"maps"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tarilabs/userauth"
	"github.com/tarilabs/userauth/userauthtest"
)

// TestStatusAndJSON: point 3. status shows, offline, who is logged in
// (claims read without verifying the signature), to which API, until
// when, and a pending 2FA step; exit 0 with a complete session, 1
// without. status --json and token --json print stable fields.
func TestStatusAndJSON(t *testing.T) {
	t.Parallel()
	srv := newFake(t, userauthtest.WithTokenClaims(func(c map[string]any) {
		if c["sub"] == annID {
			c["email"] = annEmail
		}
	}))
	tf := tokenFile(t)

	r := runCLI(t, "", nil, "status", "--token-file", tf)
	if want := "not logged in (no session in " + tf + "): run userauth login\n"; r.code != 1 || r.stdout != want {
		t.Errorf("status, no session: got %v, want exit 1 and %q", r, want)
	}
	r = runCLI(t, "", nil, "status", "--token-file", tf, "--json")
	wantExit(t, r, 1)
	wantKeys(t, r.stdout, "logged_in", "api", "subject", "email", "expires_at", "expired", "two_factor_pending", "token_file", "server_check")
	var st statusJSON
	decodeJSON(t, r.stdout, &st)
	if want := (statusJSON{TokenFile: tf}); st != want {
		t.Errorf("status --json, no session: got %+v, want %+v", st, want)
	}

	before := time.Now()
	login(t, srv, tf)
	calls := srv.AllCalls()
	r = runCLI(t, "", nil, "status", "--token-file", tf)
	wantExit(t, r, 0)
	for _, want := range []string{
		"logged in to " + srv.URL + "\n",
		"account:     " + annID + " (" + annEmail + ")\n",
		"without verifying its signature",
		"token file:  " + tf + "\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status: got %q, want it to say %q", r.stdout, want)
		}
	}
	if re := regexp.MustCompile(`expires: +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+ \(in 1[0-5] minutes\)\n`); !re.MatchString(r.stdout) {
		t.Errorf("status: got %q, want it to match %s", r.stdout, re)
	}

	r = runCLI(t, "", nil, "status", "--token-file", tf, "--json")
	wantExit(t, r, 0)
	decodeJSON(t, r.stdout, &st)
	exp, err := time.Parse(time.RFC3339, st.ExpiresAt)
	if err != nil || exp.Before(before.Add(14*time.Minute).Truncate(time.Second)) || exp.After(time.Now().Add(15*time.Minute)) {
		t.Errorf("status --json: got expires_at %q, want about 15 minutes after the login", st.ExpiresAt)
	}
	st.ExpiresAt = ""
	if want := (statusJSON{LoggedIn: true, API: srv.URL, Subject: annID, Email: annEmail, TokenFile: tf}); st != want {
		t.Errorf("status --json: got %+v, want %+v", st, want)
	}
	if got := srv.AllCalls(); !maps.Equal(got, calls) {
		t.Errorf("calls to the API: got %v after status, want %v as before: status makes no network call", got, calls)
	}

	// An expired access token is still a session, renewed on next use.
	expireToken(t, tf)
	r = runCLI(t, "", nil, "status", "--token-file", tf)
	if r.code != 0 || !strings.Contains(r.stdout, "(expired 1 minute ago, will renew on next use)") {
		t.Errorf("status, expired: got %v, want exit 0 and \"expired 1 minute ago, will renew on next use\"", r)
	}
	r = runCLI(t, "", nil, "status", "--token-file", tf, "--json")
	decodeJSON(t, r.stdout, &st)
	if r.code != 0 || !st.Expired || !st.LoggedIn {
		t.Errorf("status --json, expired: got exit %d, %+v, want exit 0, expired and logged_in true", r.code, st)
	}

	// token --json renews it, and prints the new token and its expiry.
	r = runCLI(t, "", nil, "token", "--token-file", tf, "--json")
	wantExit(t, r, 0)
	wantKeys(t, r.stdout, "access_token", "expires_at")
	var tj tokenJSON
	decodeJSON(t, r.stdout, &tj)
	tok := loadToken(t, tf)
	if want := (tokenJSON{AccessToken: tok.AccessToken, ExpiresAt: tok.Expiry.UTC().Format(time.RFC3339)}); tj != want || !tok.Expiry.After(time.Now()) {
		t.Errorf("token --json: got %+v, want %+v, the renewed token", tj, want)
	}

	// A pending 2FA step is not a session yet.
	r = runCLI(t, tomPassword+"\n", nil, "login", "--email", tomEmail, "--password-stdin", "--keep-pending", "--token-file", tf)
	wantExit(t, r, 0)
	r = runCLI(t, "", nil, "status", "--token-file", tf)
	if want := "not logged in: a 2FA step (GoogleAuthenticator) is pending at " + srv.URL + "\n"; r.code != 1 || !strings.HasPrefix(r.stdout, want) {
		t.Errorf("status, 2FA pending: got %v, want exit 1 and %q first", r, want)
	}
	r = runCLI(t, "", nil, "status", "--token-file", tf, "--json")
	decodeJSON(t, r.stdout, &st)
	if r.code != 1 || st.LoggedIn || st.TwoFactorPending != "GoogleAuthenticator" || st.API != srv.URL {
		t.Errorf("status --json, 2FA pending: got exit %d, %+v, want exit 1, logged_in false, two_factor_pending GoogleAuthenticator", r.code, st)
	}
}

// TestTokenJSONSentinelExp: tokens whose exp is 9999-12-31, an unknown
// expiry. token --json's expires_at is "" or five minutes ahead at most,
// never the sentinel: a script that keeps the token until expires_at asks
// again in time.
func TestTokenJSONSentinelExp(t *testing.T) {
	t.Parallel()
	srv, tf := newFake(t, userauthtest.WithTokenClaims(func(c map[string]any) { c["exp"] = int64(253402300799) })), tokenFile(t)
	login(t, srv, tf)
	r := runCLI(t, "", nil, "token", "--json", "--token-file", tf)
	wantExit(t, r, 0)
	var got struct {
		ExpiresAt string `json:"expires_at"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatal(err)
	}
	if got.ExpiresAt != "" {
		at, err := time.Parse(time.RFC3339, got.ExpiresAt)
		if err != nil || at.After(time.Now().Add(5*time.Minute+time.Second)) {
			t.Errorf("token --json expires_at %q for a sentinel exp: want \"\" or five minutes ahead at most", got.ExpiresAt)
		}
	}
}

// TestStatusCheckAsksTheServer: status --check asks the API (GET /account)
// whether it still accepts the session: exit 0 while it does; exit 1 when
// the server forgot the session (its tokens all refused), where plain
// status, offline, still says "logged in".
func TestStatusCheckAsksTheServer(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	tf := tokenFile(t)
	login(t, srv, tf)

	r := runCLI(t, "", nil, "status", "--token-file", tf, "--check")
	wantExit(t, r, 0)
	if !strings.Contains(r.stdout, "server:      accepts the session") {
		t.Errorf("status --check: got %v, want it to say the server accepts the session", r)
	}
	if n := srv.Calls("/account"); n != 1 {
		t.Errorf("GET /account called %d times, want 1", n)
	}

	// Another client logs the session out: the server revokes its tokens.
	logoutElsewhere := func() {
		t.Helper()
		c, err := userauth.NewClient(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Logout(context.Background(), loadToken(t, tf).AccessToken); err != nil {
			t.Fatal(err)
		}
	}
	logoutElsewhere()
	r = runCLI(t, "", nil, "status", "--token-file", tf)
	wantExit(t, r, 0) // offline: the token file still holds a session
	r = runCLI(t, "", nil, "status", "--token-file", tf, "--check")
	wantExit(t, r, 1)
	if !strings.Contains(r.stdout, "server:      does not accept the session") || !strings.Contains(r.stderr, "run userauth login") {
		t.Errorf("status --check, session forgotten: got %v, want the server's refusal and a way out", r)
	}
	r = runCLI(t, "", nil, "status", "--token-file", tf)
	wantExit(t, r, 1) // the refused renewal ended the session here too

	login(t, srv, tf)
	logoutElsewhere()
	r = runCLI(t, "", nil, "status", "--token-file", tf, "--check", "--json")
	wantExit(t, r, 1)
	var st statusJSON
	decodeJSON(t, r.stdout, &st)
	if st.ServerCheck != "refused" || !st.LoggedIn {
		t.Errorf("status --check --json: got %+v, want a session the server refused", st)
	}
}

// TestStatusForANamedAPI: status takes --base-url like every other command;
// the session of another API is not a session there.
func TestStatusForANamedAPI(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	tf := tokenFile(t)
	login(t, srv, tf)
	r := runCLI(t, "", nil, "status", "--token-file", tf, "--base-url", srv.URL)
	wantExit(t, r, 0)
	const other = "http://127.0.0.1:1"
	r = runCLI(t, "", nil, "status", "--token-file", tf, "--base-url", other)
	wantExit(t, r, 1)
	if want := "not logged in to " + other + ": the session in " + tf + " is for " + srv.URL + "\n"; r.stdout != want {
		t.Errorf("status --base-url OTHER: got %q, want %q", r.stdout, want)
	}
}
