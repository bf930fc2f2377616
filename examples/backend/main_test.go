package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tarilabs/userauth"
	"github.com/tarilabs/userauth/userauthtest"
)

// serviceOnFake starts the service over a fake API whose service account
// has password (with TOTP 2FA when twoFactor), and returns the service's
// URL and the fake.
func serviceOnFake(t *testing.T, password string, twoFactor bool) (string, *userauthtest.Server, config) {
	t.Helper()
	fake := userauthtest.NewServer()
	t.Cleanup(fake.Close)
	u := userauthtest.User{Email: "bot@example.com", Password: "right-pw"}
	if twoFactor {
		u.TwoFactor = userauthtest.TwoFactorTOTP
	}
	secret, err := fake.AddUser(u)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config{fake.URL, "bot@example.com", password, secret, filepath.Join(t.TempDir(), "tokens.json")}
	store, err := newStore(cfg, userauth.WithClock(fake.Now))
	if err != nil {
		t.Fatal(err)
	}
	svc := httptest.NewServer(handler(store))
	t.Cleanup(svc.Close)
	return svc.URL, fake, cfg
}

func get(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// TestTheServiceRunsUnattended: the service logs in by itself, calls the
// API as its account, and logs in again when its session is ended
// elsewhere. (The account has no 2FA here: a second login within 30 s
// would wait for the next TOTP code; TestTheServiceTakesItsTwoFactorStep
// covers 2FA.)
func TestTheServiceRunsUnattended(t *testing.T) {
	url, fake, cfg := serviceOnFake(t, "right-pw", false)
	if code, body := get(t, url+"/healthz"); code != http.StatusOK || body["session"] != "ok" {
		t.Fatalf("/healthz: %d %v", code, body)
	}
	if code, body := get(t, url+"/whoami"); code != http.StatusOK || body["email"] != "bot@example.com" {
		t.Fatalf("/whoami: %d %v", code, body)
	}

	// A minute on, an operator revokes the session elsewhere.
	fake.Advance(time.Minute)
	storage, err := userauth.NewFileStorage(cfg.tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := storage.Load(context.Background())
	if err != nil || rec == nil || rec.Token == nil {
		t.Fatalf("the token file holds %v, %v", rec, err)
	}
	client, _ := userauth.NewClient(fake.URL)
	if err := client.Logout(context.Background(), rec.Token.AccessToken); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, url+"/whoami"); code != http.StatusOK || body["email"] != "bot@example.com" {
		t.Fatalf("/whoami after the session was revoked: %d %v", code, body)
	}
	if n := fake.Calls(userauthtest.PathLogin); n != 2 {
		t.Errorf("logins: %d, want 2 (the first, and one after the revocation)", n)
	}
}

// TestTheServiceTakesItsTwoFactorStep: a 2FA account's login is
// completed from its TOTP secret.
func TestTheServiceTakesItsTwoFactorStep(t *testing.T) {
	url, fake, _ := serviceOnFake(t, "right-pw", true)
	if code, body := get(t, url+"/whoami"); code != http.StatusOK || body["two_factor"] != true {
		t.Fatalf("/whoami: %d %v", code, body)
	}
	if n := fake.Calls(userauthtest.PathTwoFactor); n != 1 {
		t.Errorf("2FA steps: %d, want 1", n)
	}
}

// TestTheHealthCheckSaysWhenTheSessionIsDown: wrong credentials make
// /healthz answer 503, naming the cause, never the password.
func TestTheHealthCheckSaysWhenTheSessionIsDown(t *testing.T) {
	url, _, _ := serviceOnFake(t, "wrong-pw-0123", false)
	code, body := get(t, url+"/healthz")
	msg, _ := body["error"].(string)
	if code != http.StatusServiceUnavailable || body["session"] != "down" || !strings.Contains(strings.ToLower(msg), "invalid credentials") {
		t.Errorf("/healthz: %d %v; want 503, the session down for invalid credentials", code, body)
	}
	if strings.Contains(msg, "wrong-pw-0123") {
		t.Errorf("/healthz shows the password: %q", msg)
	}
}

// TestTheDemonstrationRunsAndStops: go run ./examples/backend, against
// its in-process fake, serves, calls itself, and shuts down.
func TestTheDemonstrationRunsAndStops(t *testing.T) {
	t.Setenv("USERAUTH_BASE_URL", "")
	if err := run(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
}
