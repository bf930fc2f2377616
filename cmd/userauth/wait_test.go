package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/tarilabs/userauth/userauthtest"
)

// TestTimeoutAndStatusLine: point 2. A server that never answers makes
// login give up at --timeout with one line; a terminal sees a status line
// while it waits or retries, cleared at the end; a pipe never does.
func TestTimeoutAndStatusLine(t *testing.T) {
	t.Parallel()
	t.Run("pipe", func(t *testing.T) {
		t.Parallel()
		srv := newFake(t)
		srv.Fail(userauthtest.PathLogin, 10, userauthtest.Fault{Hang: true})
		r := runCLI(t, annPassword+"\n", nil, "login", "--email", annEmail, "--password-stdin",
			"--base-url", srv.URL, "--token-file", tokenFile(t), "--timeout", "1s")
		want := "userauth login: no answer from " + srv.URL + " within 1s: try again later, or with a longer --timeout\n"
		if r.code != 1 || r.stderr != want || r.stdout != "" {
			t.Errorf("got %v, want exit 1 and stderr %q alone", r, want)
		}
	})
	t.Run("terminal", func(t *testing.T) {
		t.Parallel()
		srv := newFake(t)
		srv.Fail(userauthtest.PathLogin, 10, userauthtest.Fault{Hang: true})
		shown, code := runOnTerminal(t, annPassword+"\n", "login", "--email", annEmail, "--password-stdin",
			"--base-url", srv.URL, "--token-file", tokenFile(t), "--timeout", "2s")
		status := "\rwaiting for " + srv.URL + " ..."
		errLine := "userauth login: no answer from " + srv.URL + " within 2s"
		i, j := strings.Index(shown, status), strings.Index(shown, errLine)
		if code != 1 || i < 0 || j < i || !lineCleared(shown[:j]) {
			t.Errorf("got exit %d, terminal %q; want exit 1, %q, the line cleared, then %q", code, shown, status, errLine)
		}
	})
	t.Run("retry on a terminal", func(t *testing.T) {
		t.Parallel()
		srv := newFake(t)
		srv.Fail(userauthtest.PathLogin, 1, userauthtest.Fault{Status: 503, RetryAfter: "2"})
		shown, code := runOnTerminal(t, annPassword+"\n", "login", "--email", annEmail, "--password-stdin",
			"--base-url", srv.URL, "--token-file", tokenFile(t))
		if code != 0 || !strings.Contains(shown, "(attempt 2)") || !lineCleared(shown) {
			t.Errorf("got exit %d, terminal %q; want exit 0 and the status line showing (attempt 2), then cleared", code, shown)
		}
	})
}

// lineCleared reports whether the last status line that shown draws is
// blanked afterwards: "\r", at least as many spaces as it has characters,
// "\r".
func lineCleared(shown string) bool {
	i := strings.LastIndex(shown, "\rwaiting for ")
	if i < 0 {
		return false
	}
	line := shown[i+1:]
	k := strings.IndexByte(line, '\r') // where the drawn text ends
	if k < 0 {
		return false
	}
	width := len(strings.TrimRight(line[:k], " "))
	blank := strings.TrimPrefix(line[k:], "\r"+strings.Repeat(" ", width))
	return len(blank) < len(line[k:]) && strings.HasPrefix(strings.TrimLeft(blank, " "), "\r")
}

// runOnTerminal runs the binary with stdin piped and stderr on a
// terminal, and returns what the terminal showed and the exit status.
func runOnTerminal(t *testing.T, stdin string, args ...string) (string, int) {
	t.Helper()
	tm := newTerminal(t)
	ctx, cancel := context.WithTimeout(context.Background(), hangBound)
	defer cancel()
	cmd := binCommand(t, ctx, nil, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, tm.slave
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tm.started()
	shown := tm.all()
	return shown, exitCode(t, cmd.Wait())
}
