// Package examples holds the runnable example programs; this test runs each
// one, as a newcomer would, and checks its key lines.
package examples

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestExamplesRun(t *testing.T) {
	tests := []struct {
		dir  string
		want []string
	}{
		{"quickstart", []string{
			"quickstart: using the fake API at http://127.0.0.1:",
			"quickstart: login: tom@example.com accepted; the server asks for 2FA (GoogleAuthenticator), partial token withheld",
			"quickstart: 2FA: code accepted; complete tokens stored",
			`quickstart: GET /account: 200, tom@example.com, role User, 2FA on: [GoogleAuthenticator]`,
			"quickstart: access token expires",
			"quickstart: GET /account: 200 after 1 automatic refresh; both tokens rotated",
			"quickstart: logout: session revoked on the server, tokens cleared; the next call needs a login",
			"quickstart: done",
		}},
		{"login", []string{
			"login: ok; userauth.TokenResponse{AccessToken:[redacted], RefreshToken:[redacted]",
			`login: wrong password refused: status 401, message "Invalid credentials"`,
			"login: missing password caught before sending: password is required",
		}},
		{"magiclink", []string{
			`magiclink: server says "Magic link sent"; the account is Active`,
			"magiclink: e-mail to ann@example.com: http://127.0.0.1:",
		}},
		{"twofactor", []string{
			"twofactor: login answered requires_2fa = GoogleAuthenticator",
			"twofactor: wrong code refused: status 422",
			"twofactor: code accepted; complete tokens: true",
			"twofactor: refreshed; refresh token rotated: true",
		}},
		{"apikey", []string{
			"apikey: GET /account with the key: 200 {",
			`"email":"partner@example.com"`,
			`apikey: another host: X-Api-Key seen: ""`,
		}},
		{"backend", []string{
			"backend: serving http://127.0.0.1:",
			`backend: GET /healthz: 200 {"expires_at":`,
			`backend: GET /whoami: 200 {"email":"billing-bot@example.com","two_factor":true}`,
			"backend: shut down",
		}},
		{"service", []string{
			"service: 150 calls ok, 0 failed, 3 refreshes for 3 expiries, 0 refresh tokens reused",
		}},
		{"replicas", []string{ // through Redis when REDIS_ADDR is set, else a file
			"replicas: replica 1 logged in; 6 replicas share the session",
			"replicas: 3 refreshes for 3 expiries, 0 refresh tokens reused",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command("go", "run", "./"+tt.dir)
			cmd.Env = withoutAPI(os.Environ())
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("go run ./examples/%s: %v\n%s", tt.dir, err, out)
			}
			for _, line := range tt.want {
				if !strings.Contains(string(out), line) {
					t.Errorf("output lacks %q; got:\n%s", line, out)
				}
			}
		})
	}
}

// withoutAPI drops the variables that would point an example at a real API.
func withoutAPI(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "USERAUTH_") {
			out = append(out, kv)
		}
	}
	return out
}
