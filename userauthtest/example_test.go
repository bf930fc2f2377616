package userauthtest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"
	"time"

	"github.com/tarilabs/userauth"
	"github.com/tarilabs/userauth/userauthtest"
)

// accountEmail is the code under test: a piece of a service that calls the
// API with the SDK's token store.
func accountEmail(ctx context.Context, store *userauth.TokenStore, baseURL string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/account", nil)
	if err != nil {
		return "", err
	}
	resp, err := store.HTTPClient().Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if err := userauth.CheckResponse(resp); err != nil {
		return "", err
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	_, rest, _ := strings.Cut(string(body), `"email":"`)
	email, _, _ := strings.Cut(rest, `"`)
	return email, nil
}

// A test of a service that uses the SDK: point the service's Client at the
// fake, and give its token store the fake's clock, so that moving the
// fake's clock (Advance) expires tokens on both sides. In a test, register
// srv.Close with t.Cleanup.
func Example() {
	srv := userauthtest.NewServer()
	defer srv.Close()
	srv.AddUser(userauthtest.User{Email: "ann@example.com", Password: "correct-horse"})

	client, _ := userauth.NewClient(srv.URL)
	store, _ := userauth.NewTokenStore(client, nil, userauth.WithClock(srv.Now))
	ctx := context.Background()
	if _, err := store.Login(ctx, userauth.LoginRequest{Email: "ann@example.com", Password: "correct-horse"}); err != nil {
		log.Fatal(err)
	}

	email, err := accountEmail(ctx, store, srv.URL)
	fmt.Println(email, err)
	srv.Advance(16 * time.Minute) // the access token expires
	email, err = accountEmail(ctx, store, srv.URL)
	fmt.Println(email, err, "after", srv.Calls(userauthtest.PathRefresh), "refresh")
	// Output:
	// ann@example.com <nil>
	// ann@example.com <nil> after 1 refresh
}

// A user with 2FA: the login answers partial tokens, and the fake computes
// the user's current TOTP code by its own clock.
func Example_twoFactor() {
	srv := userauthtest.NewServer()
	defer srv.Close()
	secret, _ := srv.AddUser(userauthtest.User{Email: "tom@example.com", Password: "battery-staple", TwoFactor: userauthtest.TwoFactorTOTP})

	client, _ := userauth.NewClient(srv.URL)
	ctx := context.Background()
	partial, err := client.Login(ctx, userauth.LoginRequest{Email: "tom@example.com", Password: "battery-staple"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("asks for:", partial.Requires2FA)
	_, err = client.TwoFactorAuthentication(ctx, userauth.Confirm2FA{Code: "000000", RefreshToken: partial.RefreshToken})
	fmt.Println("wrong code:", errors.Is(err, userauth.ErrInvalidCode))
	code, _ := srv.Code(secret)
	full, err := client.TwoFactorAuthentication(ctx, userauth.Confirm2FA{Code: code, RefreshToken: partial.RefreshToken})
	fmt.Println("complete:", err == nil && full.Requires2FA == "")
	// Output:
	// asks for: GoogleAuthenticator
	// wrong code: true
	// complete: true
}

// Faults: the next calls of a path fail as a broken or hostile server
// would. Here the refresh answers 503 twice with Retry-After, which the
// client waits for and retries, then succeeds.
func ExampleServer_Fail() {
	srv := userauthtest.NewServer()
	defer srv.Close()
	srv.AddUser(userauthtest.User{Email: "ann@example.com", Password: "correct-horse"})
	client, _ := userauth.NewClient(srv.URL, userauth.WithRetry(3, time.Millisecond, 10*time.Millisecond))
	ctx := context.Background()
	tok, _ := client.Login(ctx, userauth.LoginRequest{Email: "ann@example.com", Password: "correct-horse"})

	srv.Fail(userauthtest.PathRefresh, 2, userauthtest.Fault{Status: 503, RetryAfter: "0"})
	_, err := client.RefreshToken(ctx, userauth.RefreshRequest{RefreshToken: tok.RefreshToken})
	fmt.Println(err, "after", srv.Calls(userauthtest.PathRefresh), "attempts")

	srv.Fail(userauthtest.PathLogin, 1, userauthtest.Fault{Status: 401, Body: `{"error":"Invalid credentials"}`})
	_, err = client.Login(ctx, userauth.LoginRequest{Email: "ann@example.com", Password: "correct-horse"})
	fmt.Println(errors.Is(err, userauth.ErrInvalidCredentials))
	// Output:
	// <nil> after 3 attempts
	// true
}

// Advance moves the fake's clock: tokens and the 2FA grace period expire
// as if the time had passed. A token store decides expiry by its own
// clock, so give it WithClock(srv.Now); without it, the store keeps the
// tokens the fake now sees as expired, and its requests meet a 401 (and,
// past the grace period, a 424) before it renews.
func ExampleServer_Advance() {
	srv := userauthtest.NewServer(userauthtest.WithAccessTTL(time.Minute))
	defer srv.Close()
	srv.AddUser(userauthtest.User{Email: "ann@example.com", Password: "correct-horse"})
	client, _ := userauth.NewClient(srv.URL)
	store, _ := userauth.NewTokenStore(client, nil, userauth.WithClock(srv.Now))
	ctx := context.Background()
	before, _ := store.Login(ctx, userauth.LoginRequest{Email: "ann@example.com", Password: "correct-horse"})

	srv.Advance(2 * time.Minute)
	after, _ := store.Token(ctx)
	fmt.Println("renewed:", after.AccessToken != before.AccessToken)
	// Output: renewed: true
}
