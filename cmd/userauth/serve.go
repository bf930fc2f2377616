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

func runServe(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet("serve", "serve [--addr 127.0.0.1:8080] [--users users.json]")
	addr := fs.String("addr", "127.0.0.1:8080", "`host:port` to listen on (port 0 picks a free one)")
	usersFile := fs.String("users", "", "JSON `file` of users to seed: [{\"email\",\"alternate_id\",\"password\",\"two_factor\",\"totp_secret\"}]")
	if code := parse(e, fs, args); code >= 0 {
		return code
	}
	users := defaultUsers()
	if *usersFile != "" {
		data, err := os.ReadFile(*usersFile)
		if err != nil {
			fmt.Fprintf(e.stderr, "userauth serve: %v\n", err)
			return exitFail
		}
		users = nil
		if err := json.Unmarshal(data, &users); err != nil {
			fmt.Fprintf(e.stderr, "userauth serve: %s: %v\n", *usersFile, err)
			return exitFail
		}
	}

	srv := userauthtest.NewUnstartedServer(userauthtest.WithMessageHook(func(m userauthtest.Message) {
		fmt.Fprintf(e.stdout, "outbox: %s to %s: %s\n", m.Kind, m.To, m.Text)
	}))
	for _, u := range users {
		if _, err := srv.AddUser(userauthtest.User{Email: u.Email, AlternateID: u.AlternateID, Password: u.Password,
			TwoFactor: u.TwoFactor, TOTPSecret: u.TOTPSecret}); err != nil {
			fmt.Fprintf(e.stderr, "userauth serve: %v\n", err)
			return exitFail
		}
	}
	if err := srv.StartAt(*addr); err != nil {
		fmt.Fprintf(e.stderr, "userauth serve: %v\n", err)
		return exitFail
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
	fmt.Fprintln(e.stdout, "ready; stop with Ctrl-C")
	<-ctx.Done()
	return exitOK
}
