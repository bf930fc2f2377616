package main

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestExitStatuses: point 7. 0 done, 1 failed with one line naming the
// cause, 2 usage error (130 cancelled: see TestConventions/ctrl-c).
func TestExitStatuses(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	tf := tokenFile(t)
	for _, tc := range []struct {
		args   []string
		stdin  string
		code   int
		stderr string // its first line's start, when not ""
	}{
		{args: nil, code: 2, stderr: "Usage: userauth <command>"},
		{args: []string{"bogus"}, code: 2, stderr: `userauth: unknown command "bogus"`},
		{args: []string{"login"}, code: 2, stderr: "userauth login: give --email or --alternate-id"},
		{args: []string{"login", "--email", "a", "--alternate-id", "b"}, code: 2, stderr: "userauth login: give one of --email and --alternate-id, not both"},
		{args: []string{"login", "--nope"}, code: 2, stderr: "userauth login: flag provided but not defined: --nope"},
		{args: []string{"login", "--code", "1", "--password-stdin"}, code: 2, stderr: "userauth login: --password-stdin and --keep-pending go with"},
		{args: []string{"token", "extra"}, code: 2, stderr: `userauth token: unexpected argument "extra"`},
		{args: []string{"token", "--timeout", "0s"}, code: 2, stderr: "userauth token: --timeout must be positive"},
		{args: []string{"magic-link"}, code: 2, stderr: "userauth magic-link: give exactly one of --email and --user-id"},
		{args: []string{"--help"}, code: 0},
		{args: []string{"status", "--help"}, code: 0},
		{args: []string{"token", "--token-file", tf}, code: 1, stderr: "userauth token: not logged in (or the session ended): run userauth login"},
		{args: []string{"login", "--email", annEmail, "--base-url", "http://127.0.0.1:1", "--token-file", tf}, stdin: "pw\n", code: 1, stderr: "userauth login: server unreachable: "},
		{args: []string{"login", "--email", annEmail, "--base-url", "ftp://example.com", "--token-file", tf}, stdin: "pw\n", code: 1, stderr: "userauth login: --base-url: the API URL must start with https://"},
		{args: []string{"login", "--email", annEmail, "--base-url", srv.URL, "--token-file", tf}, stdin: annPassword + "\n", code: 0},
	} {
		r := runCLI(t, tc.stdin, nil, tc.args...)
		if r.code != tc.code || !strings.HasPrefix(r.stderr, tc.stderr) {
			t.Errorf("userauth %q: got %v, want exit %d and stderr starting %q", tc.args, r, tc.code, tc.stderr)
		}
		if tc.code == 1 && strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("userauth %q: got stderr %q, want one line", tc.args, r.stderr)
		}
		if strings.Contains(r.stderr+r.stdout, "pw\n") {
			t.Errorf("userauth %q: got the password in the output %v", tc.args, r)
		}
	}
}

// TestCancelledStatus checks the status after a signal in-process: 130
// for SIGINT, 128 + n for another, 130 without one.
func TestCancelledStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cause error
		want  int
	}{
		{signalError{syscall.SIGINT}, 130},
		{signalError{syscall.SIGTERM}, 143},
		{errors.New("no signal"), 130},
	} {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(tc.cause)
		var out, errb strings.Builder
		e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(string) string { return "" },
			stdinIsTerminal: func() bool { return false }, stderrIsTerminal: func() bool { return false }}
		got := run(ctx, e, []string{"login", "--email", annEmail, "--token-file", filepath.Join(t.TempDir(), "t.json")})
		if got != tc.want || errb.String() != "userauth login: cancelled\n" {
			t.Errorf("cause %v: got exit %d, stderr %q, want exit %d and \"userauth login: cancelled\"", tc.cause, got, errb.String(), tc.want)
		}
	}
}

// TestPromptOnTerminal runs login in-process with a terminal stdin faked,
// for the password prompt: it is asked for without echo, never printed.
func TestPromptOnTerminal(t *testing.T) {
	t.Parallel()
	var out, errb strings.Builder
	e := &env{
		stdin: strings.NewReader(""), stdout: &out, stderr: &errb,
		getenv:           func(string) string { return "http://127.0.0.1:1" },
		stdinIsTerminal:  func() bool { return true },
		stderrIsTerminal: func() bool { return false },
		readPassword:     func(context.Context) (string, error) { return "from-terminal", nil },
	}
	code := run(context.Background(), e, []string{"login", "--email", "a@b.c", "--token-file", filepath.Join(t.TempDir(), "t.json")})
	if code != 1 || !strings.HasPrefix(errb.String(), "Password: \nuserauth login: server unreachable") || strings.Contains(errb.String(), "from-terminal") {
		t.Errorf("got exit %d, stderr %q; want exit 1, the prompt, then server unreachable, never the password", code, errb.String())
	}
}
