package userauth_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/tarilabs/userauth"
)

// fakeAPI stands in for the real service in these examples: it knows one
// user, ann@example.com with password "correct horse", who has 2FA on.
func fakeAPI() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/auth/token" && strings.Contains(string(body), `"correct horse"`):
			io.WriteString(w, `{"access_token":"partial","refresh_token":"rt-1","requires_2fa":"GoogleAuthenticator"}`)
		case r.URL.Path == "/auth/token":
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":{"code":"401","reason":"Invalid credentials"}}`)
		case r.URL.Path == "/auth/2fa" && strings.Contains(string(body), `"123456"`):
			io.WriteString(w, `{"access_token":"full","refresh_token":"rt-2"}`)
		case r.URL.Path == "/auth/2fa":
			w.WriteHeader(http.StatusUnprocessableEntity)
			io.WriteString(w, `{"fields":{"code":[{"code":"invalid","message":"Code is not valid"}]}}`)
		case r.URL.Path == "/auth/token/refresh":
			io.WriteString(w, `{"access_token":"full-2","refresh_token":"rt-3"}`)
		case r.URL.Path == "/auth/magic_link":
			io.WriteString(w, `{"message":"Magic link sent"}`)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
}

func ExampleNewClient() {
	// Production: "" means DefaultBaseURL. Options are validated.
	c, err := userauth.NewClient("",
		userauth.WithRetry(5, 200*time.Millisecond, 10*time.Second),
		userauth.WithTimeout(10*time.Second),
		userauth.WithUserAgent("billing-service/1.4"),
	)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.BaseURL())

	// Plain http:// is refused for anything but loopback.
	_, err = userauth.NewClient("http://api.example.com")
	fmt.Println(err)
	// Output:
	// https://api.y.at/
	// userauth: invalid base URL: http:// is only allowed to loopback hosts; use https:// or WithInsecureHTTP
}

func ExampleClient_Login() {
	srv := fakeAPI()
	defer srv.Close()
	c, err := userauth.NewClient(srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	tok, err := c.Login(context.Background(), userauth.LoginRequest{
		Email:    "ann@example.com",
		Password: "correct horse",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("2FA needed:", tok.Requires2FA)
	fmt.Println(tok) // secrets never print
	// Output:
	// 2FA needed: GoogleAuthenticator
	// userauth.TokenResponse{AccessToken:[redacted], RefreshToken:[redacted], Requires2FA:"GoogleAuthenticator", HasPassword:nil}
}

func ExampleClient_TwoFactorAuthentication() {
	srv := fakeAPI()
	defer srv.Close()
	c, _ := userauth.NewClient(srv.URL)
	ctx := context.Background()

	tok, err := c.Login(ctx, userauth.LoginRequest{Email: "ann@example.com", Password: "correct horse"})
	if err != nil {
		log.Fatal(err)
	}
	if tok.Requires2FA != "" {
		// Ask the user for the code of their authenticator app; spaces are fine.
		tok, err = c.TwoFactorAuthentication(ctx, userauth.Confirm2Fa{Code: "123 456", RefreshToken: tok.RefreshToken})
		if err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("complete:", tok.Requires2FA == "")
	// Output: complete: true
}

func ExampleClient_RefreshToken() {
	srv := fakeAPI()
	defer srv.Close()
	c, _ := userauth.NewClient(srv.URL)
	tok, err := c.RefreshToken(context.Background(), userauth.RefreshRequest{RefreshToken: "rt-2"})
	if err != nil {
		log.Fatal(err)
	}
	// Refresh tokens rotate: store the new one, the old one is spent.
	fmt.Println("new refresh token:", tok.RefreshToken != "rt-2")
	// Output: new refresh token: true
}

func ExampleClient_MagicLinkLogin() {
	srv := fakeAPI()
	defer srv.Close()
	c, _ := userauth.NewClient(srv.URL)
	res, err := c.MagicLinkLogin(context.Background(), userauth.MagicLinkLoginRequest{Email: "ann@example.com"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Message)
	// Output: Magic link sent
}

// Handle each kind of error with errors.As; never match error strings.
func Example_errorHandling() {
	srv := fakeAPI()
	defer srv.Close()
	c, _ := userauth.NewClient(srv.URL)
	ctx := context.Background()

	explain := func(err error) {
		var (
			ve *userauth.ValidationError
			ce *userauth.ClientError
			se *userauth.ServerError
			te *userauth.TransportError
		)
		switch {
		case errors.As(err, &ve):
			fmt.Println("fix the input:", ve.Field, ve.Reason)
		case errors.As(err, &ce) && ce.StatusCode == http.StatusUnauthorized:
			fmt.Println("wrong credentials:", ce.Message)
		case errors.As(err, &ce) && len(ce.Fields) > 0:
			fmt.Println("rejected field code:", ce.Fields["code"][0].Message)
		case errors.As(err, &se):
			fmt.Println("server trouble, status", se.StatusCode)
		case errors.Is(err, context.DeadlineExceeded):
			fmt.Println("timed out")
		case errors.As(err, &te):
			fmt.Println("network trouble after", te.Attempts, "attempts")
		}
	}

	_, err := c.Login(ctx, userauth.LoginRequest{Email: "ann@example.com"})
	explain(err)
	_, err = c.Login(ctx, userauth.LoginRequest{Email: "ann@example.com", Password: "wrong"})
	explain(err)
	_, err = c.TwoFactorAuthentication(ctx, userauth.Confirm2Fa{Code: "000000", RefreshToken: "rt-1"})
	explain(err)
	// Output:
	// fix the input: password is required
	// wrong credentials: Invalid credentials
	// rejected field code: Code is not valid
}
