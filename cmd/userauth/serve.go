package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/tarilabs/userauth/userauthtest"
)

// seedUser is one entry of a --users file.
type seedUser struct {
	Email       string `json:"email"`
	AlternateID string `json:"alternate_id"`
	Password    string `json:"password"`
	TwoFactor   string `json:"two_factor"`  // "", "GoogleAuthenticator" or "SMS"
	TOTPSecret  string `json:"totp_secret"` // optional, base32
}

// defaultUsers seed a server started without --users.
func defaultUsers() []seedUser {
	return []seedUser{
		{Email: "ann@example.com", Password: "correct-horse"},
		{Email: "tom@example.com", Password: "battery-staple", TwoFactor: userauthtest.TwoFactorTOTP},
		{Email: "sam@example.com", Password: "tr0ub4dor", TwoFactor: userauthtest.TwoFactorSMS},
	}
}

// serveAbout is serve's help.
const serveAbout = `
Run the SDK's fake of the API (package userauthtest) until Ctrl-C, which
ends it with exit status 0. It prints its URL, its users, and every message
it "sends" (magic links, SMS codes). Point the other commands at it with
--base-url or USERAUTH_BASE_URL.`

// runServe runs the fake API server until ctx ends.
func runServe(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("serve", "serve [flags]", serveAbout)
	addr := fs.String("addr", "127.0.0.1:8080", "the `host:port` to listen on (port 0 picks a free one)")
	usersFile := fs.String("users", "", "a JSON `file` of users to seed: [{\"email\",\"alternate_id\",\"password\",\"two_factor\",\"totp_secret\"}]")
	if err := fs.parse(e, args); err != nil {
		return err
	}
	users, err := loadUsers(*usersFile)
	if err != nil {
		return err
	}

	srv := userauthtest.NewUnstartedServer(userauthtest.WithMessageHook(func(m userauthtest.Message) {
		fmt.Fprintf(e.stdout, "outbox: %s to %s: %s\n", m.Kind, m.To, m.Text)
	}))
	for _, u := range users {
		if _, err := srv.AddUser(userauthtest.User{Email: u.Email, AlternateID: u.AlternateID, Password: u.Password,
			TwoFactor: u.TwoFactor, TOTPSecret: u.TOTPSecret}); err != nil {
			return err
		}
	}
	if err := srv.StartAt(*addr); err != nil {
		return err
	}
	defer srv.Close()

	fmt.Fprintf(e.stdout, "userauth fake API listening on %s\n", srv.URL)
	for _, u := range srv.Users() {
		line := "user: " + u.Email
		if u.AlternateID != "" {
			line += " alternate_id=" + u.AlternateID
		}
		line += " password=" + u.Password
		if u.TwoFactor != "" {
			line += " 2fa=" + u.TwoFactor
		}
		if u.TOTPSecret != "" {
			line += " totp_secret=" + u.TOTPSecret
		}
		fmt.Fprintln(e.stdout, line)
	}
	fmt.Fprintln(e.stdout, `2FA codes: "userauth totp --secret SECRET" prints a TOTP user's current one; SMS codes appear as outbox lines`)
	fmt.Fprintln(e.stdout, "ready; stop with Ctrl-C")
	<-ctx.Done()
	return nil
}

// loadUsers reads the users of a --users file, or returns the default
// users when path is "".
func loadUsers(path string) ([]seedUser, error) {
	if path == "" {
		return defaultUsers(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var users []seedUser
	if err := json.Unmarshal(data, &users); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return users, nil
}
