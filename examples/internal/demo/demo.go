// Package demo gives the example programs an API to talk to: the SDK's
// fake server, started in-process with demo users, or the real API named by
// USERAUTH_BASE_URL with the credentials in USERAUTH_EMAIL and
// USERAUTH_PASSWORD.
package demo

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/tarilabs/userauth"
	"github.com/tarilabs/userauth/userauthtest"
)

// API is where an example sends its requests.
type API struct {
	// BaseURL is the API's base URL.
	BaseURL string
	// Fake is the in-process fake server, or nil against a real API.
	Fake *userauthtest.Server
	// Email and Password are the demo user's credentials.
	Email, Password string

	secret string // the fake user's TOTP secret
	stdin  *bufio.Reader
}

// Start returns the API to use. With USERAUTH_BASE_URL unset it starts the
// fake server with one user, whose 2FA method is twoFactor ("",
// userauthtest.TwoFactorTOTP or userauthtest.TwoFactorSMS).
func Start(twoFactor string) (*API, error) {
	if base := os.Getenv("USERAUTH_BASE_URL"); base != "" {
		email, password := os.Getenv("USERAUTH_EMAIL"), os.Getenv("USERAUTH_PASSWORD")
		if email == "" || password == "" {
			return nil, errors.New("with USERAUTH_BASE_URL, set USERAUTH_EMAIL and USERAUTH_PASSWORD too")
		}
		return &API{BaseURL: base, Email: email, Password: password, stdin: bufio.NewReader(os.Stdin)}, nil
	}
	srv := userauthtest.NewServer()
	email := map[string]string{"": "ann@example.com", userauthtest.TwoFactorTOTP: "tom@example.com", userauthtest.TwoFactorSMS: "sam@example.com"}[twoFactor]
	secret, err := srv.AddUser(userauthtest.User{Email: email, Password: "correct-horse", TwoFactor: twoFactor})
	if err != nil {
		srv.Close()
		return nil, err
	}
	return &API{BaseURL: srv.URL, Fake: srv, Email: email, Password: "correct-horse", secret: secret}, nil
}

// Close stops the fake server, if any.
func (a *API) Close() {
	if a.Fake != nil {
		a.Fake.Close()
	}
}

// Where describes the API for the first line of an example's output.
func (a *API) Where() string {
	if a.Fake != nil {
		return "fake API at " + a.BaseURL + " (set USERAUTH_BASE_URL to use a real one)"
	}
	return "API at " + a.BaseURL
}

// Code is a userauth.TwoFactorHandler: the fake's current code, or the
// user's answer on stdin against a real API.
func (a *API) Code(_ context.Context, method userauth.TwoFactorMethod) (string, error) {
	if a.Fake != nil {
		if method == userauth.TwoFactorSMS {
			return a.Fake.LastSMSCode(a.Email), nil
		}
		return a.Fake.Code(a.secret)
	}
	fmt.Fprintf(os.Stderr, "2FA code (%s): ", method)
	line, err := a.stdin.ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("reading the 2FA code: %w", err)
	}
	return strings.TrimSpace(line), nil
}

// Main runs the example called name: it starts the API (see Start), says
// where it is, and runs fn with a one-minute context. An error from fn is
// printed and makes the program exit with status 1.
func Main(name, twoFactor string, fn func(ctx context.Context, api *API) error) {
	if err := run(name, twoFactor, fn); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

func run(name, twoFactor string, fn func(ctx context.Context, api *API) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	api, err := Start(twoFactor)
	if err != nil {
		return err
	}
	defer api.Close()
	fmt.Printf("%s: using the %s\n", name, api.Where())
	return fn(ctx, api)
}
