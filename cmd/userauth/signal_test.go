package main

import (
	"bytes"
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/tarilabs/userauth/userauthtest"
)

// TestSignalDuringRenewalSavesTheRotatedPair: SIGTERM reaches "userauth
// token" while its renewal's answer is on its way. The program waits for
// the renewal to save the rotated pair, then exits 143: the next run
// presents the new refresh token, not the spent one (which the server
// would take for theft, ending the session).
func TestSignalDuringRenewalSavesTheRotatedPair(t *testing.T) {
	t.Parallel()
	srv := newFake(t)
	tf := tokenFile(t)
	login(t, srv, tf)
	before := loadToken(t, tf)
	expireToken(t, tf)
	srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Hold: 700 * time.Millisecond})

	ctx, cancel := context.WithTimeout(context.Background(), hangBound)
	defer cancel()
	cmd := binCommand(t, ctx, nil, "token", "--token-file", tf)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for srv.Calls(userauthtest.PathRefresh) == 0 && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond) // polls the fake; no timing is asserted
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := exitCode(t, cmd.Wait()); code != 143 || out.Len() != 0 {
		t.Fatalf("got exit %d, stdout %q, stderr %q; want exit 143 and no token printed", code, out.String(), errb.String())
	}
	after := loadToken(t, tf)
	if after == nil || after.RefreshToken == before.RefreshToken {
		t.Fatal("the token file still holds the spent refresh token")
	}
	r := runCLI(t, "", nil, "token", "--token-file", tf)
	wantExit(t, r, 0)
	if n := srv.ReuseDetected(); n != 0 {
		t.Errorf("the server saw a refresh token presented twice (%d)", n)
	}
}
