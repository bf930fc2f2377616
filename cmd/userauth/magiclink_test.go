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
