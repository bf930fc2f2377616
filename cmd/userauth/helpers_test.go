package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tarilabs/userauth"
	"github.com/tarilabs/userauth/userauthtest"
)

// The tests build the real binary once and drive it as a user would,
// against a fake API: userauthtest.NewServer in the test process, or a
// `userauth serve` process.

// hangBound is how long a run of the binary may take before the test
// calls it hung. It only catches hangs; no test measures speed with it.
const hangBound = 2 * time.Minute

// Users of the fakes.
const (
	annEmail    = "ann@example.com"
	annPassword = "correct-horse"
	annID       = "0b7f8c4e-8d8a-4d6f-9a52-6d1f3f0a9c11"
	tomEmail    = "tom@example.com"
	tomPassword = "battery-staple"
	tomSecret   = "JBSWY3DPEHPK3PXP"
)

// The binary, built once for all tests into binDir, which TestMain
// removes.
var (
	binDir   string
	binOnce  sync.Once
	binPath  string
	binError error
)

// TestMain removes the built binary afterwards and checks that no test
// leaked a goroutine.
func TestMain(m *testing.M) {
	var err error
	binDir, err = os.MkdirTemp("", "userauth-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(binDir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// binary returns the path of the userauth binary, built once.
func binary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binPath = filepath.Join(binDir, "userauth")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binError = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binError != nil {
		t.Fatal(binError)
	}
	return binPath
}

// newFake starts a fake API with ann (no 2FA) and tom (TOTP), stopped at
// the end of the test.
func newFake(t *testing.T, opts ...userauthtest.Option) *userauthtest.Server {
	t.Helper()
	srv := userauthtest.NewUnstartedServer(opts...)
	for _, u := range []userauthtest.User{
		{ID: annID, Email: annEmail, Password: annPassword},
		{Email: tomEmail, Password: tomPassword, TwoFactor: userauthtest.TwoFactorTOTP, TOTPSecret: tomSecret},
	} {
		if _, err := srv.AddUser(u); err != nil {
			t.Fatal(err)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// tokenFile returns a token file path in a fresh directory.
func tokenFile(t *testing.T) string {
	return filepath.Join(t.TempDir(), "cfg", "tokens.json")
}

// result is what a run of the binary did.
type result struct {
	code           int
	stdout, stderr string
}

// String shows the run in a failure message.
func (r result) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
}

// binCommand returns the binary's command for args, with env added to an
// environment that names no API.
func binCommand(t *testing.T, ctx context.Context, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, binary(t), args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envBaseURL+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.WaitDelay = time.Second
	return cmd
}

// runCLI runs the binary with stdin, env and args, and waits for it.
func runCLI(t *testing.T, stdin string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangBound)
	defer cancel()
	cmd := binCommand(t, ctx, env, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("userauth %q: still running after %v", args, hangBound)
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

// wantExit fails the test unless r exited with code.
func wantExit(t *testing.T, r result, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("got %v, want exit %d", r, code)
	}
}

// loadToken returns what the token file holds.
func loadToken(t *testing.T, path string) *userauth.Token {
	t.Helper()
	rec := loadRecord(t, path)
	if rec == nil || rec.Phase == userauth.PhaseEnded || rec.Phase == userauth.PhaseLoggedOut {
		return nil
	}
	return rec.Token
}

// expireToken makes the saved access token expired, by the local record
// the CLI judges it by, so that the next command must renew it.
func expireToken(t *testing.T, path string) {
	t.Helper()
	rec := loadRecord(t, path)
	if rec == nil || rec.Token == nil {
		t.Fatalf("%s holds no token", path)
	}
	rec.Token.Expiry = time.Now().Add(-time.Minute)
	rec.Generation++
	fs, err := userauth.NewFileStorage(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.Save(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
}

// login logs ann in to srv, keeping the tokens in tf.
func login(t *testing.T, srv *userauthtest.Server, tf string) {
	t.Helper()
	r := runCLI(t, annPassword+"\n", nil, "login", "--email", annEmail, "--password-stdin", "--base-url", srv.URL, "--token-file", tf)
	wantExit(t, r, 0)
}

// tomCode returns tom's current TOTP code.
func tomCode(t *testing.T, srv *userauthtest.Server) string {
	t.Helper()
	code, err := srv.Code(tomSecret)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// exists reports whether path exists.
func exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Lstat(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// exitCode is the exit status that err, from exec.Cmd.Wait, reports.
func exitCode(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return 0
}

// sessionAPI is the API the token file's session record names, normalised;
// "" when it names none.
func sessionAPI(t *testing.T, path string) string {
	t.Helper()
	rec := loadRecord(t, path)
	if rec == nil || rec.API == "" {
		return ""
	}
	api, err := normalizeURL(rec.API)
	if err != nil {
		t.Fatal(err)
	}
	return api
}

// hasSession reports whether the token file holds a session: it holds
// nothing, or a logged-out record, after a logout.
func hasSession(t *testing.T, path string) bool {
	t.Helper()
	return exists(t, path) && loadToken(t, path) != nil
}

// loadRecord returns the session record the token file holds, nil for none.
func loadRecord(t *testing.T, path string) *userauth.Record {
	t.Helper()
	fs, err := userauth.NewFileStorage(path)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := fs.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rec
}
