package main

import (
	"strings"
	"testing"
)

// TestMagicLinkForAnInactiveAccountSaysNothingWasSent: the server answers
// "Magic link sent" whoever asks; for an unknown or inactive account (status
// Inactive) it sends nothing, and the command says so and exits 1.
func TestMagicLinkForAnInactiveAccountSaysNothingWasSent(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	r := runCLI(t, "", nil, "magic-link", "--email", "nobody@example.com", "--base-url", srv.URL)
	wantExit(t, r, 1)
	if strings.Contains(r.stdout, "Magic link sent") || !strings.Contains(r.stdout, "no magic link was sent") {
		t.Errorf("magic-link for an unknown address: got %v, want it to say nothing was sent", r)
	}
	if n := len(srv.Outbox()); n != 0 {
		t.Errorf("the fake's outbox holds %d messages, want none", n)
	}
}

// TestAMagicLinkBecomesTheSavedSession: the link the e-mail brought, given
// to magic-link --complete, is the saved session; the link works once.
func TestAMagicLinkBecomesTheSavedSession(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	tf := tokenFile(t)
	r := runCLI(t, "", nil, "magic-link", "--email", annEmail, "--base-url", srv.URL)
	wantExit(t, r, 0)
	out := srv.Outbox()
	if len(out) == 0 || !strings.Contains(out[len(out)-1].Text, "refresh_token=") {
		t.Fatalf("outbox %v: want a link with a refresh token", out)
	}
	link := out[len(out)-1].Text
	r = runCLI(t, "", nil, "magic-link", "--complete", link, "--base-url", srv.URL, "--token-file", tf)
	wantExit(t, r, 0)
	if want := "logged in to " + srv.URL + "\n"; r.stdout != want {
		t.Errorf("magic-link --complete: got %v, want %q", r, want)
	}
	r = runCLI(t, "", nil, "status", "--token-file", tf, "--check")
	wantExit(t, r, 0)

	r = runCLI(t, "", nil, "magic-link", "--complete", link, "--base-url", srv.URL, "--token-file", tokenFile(t))
	if r.code != 1 || strings.Contains(r.stderr, link) {
		t.Errorf("a link used again: got %v, want exit 1 and the link not shown", r)
	}
}
