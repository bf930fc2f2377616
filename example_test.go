package userauth_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tarilabs/userauth"
	"github.com/tarilabs/userauth/userauthtest"
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
	// https://a.y.at/
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
		tok, err = c.TwoFactorAuthentication(ctx, userauth.Confirm2FA{Code: "123 456", RefreshToken: tok.RefreshToken})
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
	_, err = c.TwoFactorAuthentication(ctx, userauth.Confirm2FA{Code: "000000", RefreshToken: "rt-1"})
	explain(err)
	// Output:
	// fix the input: password is required
	// wrong credentials: Invalid credentials
	// rejected field code: Code is not valid
}

// A TokenStore logs in once and then hands out fresh tokens for ever after;
// with a TwoFactorHandler it completes 2FA steps by itself.
func ExampleTokenStore_Login() {
	srv := userauthtest.NewServer()
	defer srv.Close()
	secret, _ := srv.AddUser(userauthtest.User{Email: "ann@example.com", Password: "correct horse", TwoFactor: userauthtest.TwoFactorTOTP})

	c, _ := userauth.NewClient(srv.URL)
	handler := func(ctx context.Context, method userauth.TwoFactorMethod) (string, error) {
		// A real service would ask the user; the fake server knows the code.
		fmt.Println("2FA code asked for:", method)
		return srv.Code(secret)
	}
	store, err := userauth.NewTokenStore(c, nil, userauth.WithTwoFactorHandler(handler))
	if err != nil {
		log.Fatal(err)
	}

	tok, err := store.Login(context.Background(), userauth.LoginRequest{Email: "ann@example.com", Password: "correct horse"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("complete:", tok.Valid())
	// Output:
	// 2FA code asked for: GoogleAuthenticator
	// complete: true
}

// HTTPClient authenticates every request to the API, refreshing the token
// before it expires and once after a 401.
func ExampleTokenStore_HTTPClient() {
	srv := userauthtest.NewServer()
	defer srv.Close()
	srv.AddUser(userauthtest.User{Email: "ann@example.com", Password: "correct horse"})

	c, _ := userauth.NewClient(srv.URL)
	store, err := userauth.NewTokenStore(c, nil)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := store.Login(context.Background(), userauth.LoginRequest{Email: "ann@example.com", Password: "correct horse"}); err != nil {
		log.Fatal(err)
	}

	hc := store.HTTPClient()
	srv.ExpireAccessTokens() // the server revokes the token: the next call meets a 401
	resp, err := hc.Get(srv.URL + "/account")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	fmt.Println(resp.StatusCode, "after", srv.Calls("/auth/token/refresh"), "refresh")
	// Output: 200 after 1 refresh
}

// A FileStorage keeps the session across restarts, and lets several
// processes share it: they take a file lock to refresh, so only one spends
// the rotating refresh token.
func ExampleNewFileStorage() {
	srv := userauthtest.NewServer()
	defer srv.Close()
	srv.AddUser(userauthtest.User{Email: "ann@example.com", Password: "correct horse"})
	dir, _ := os.MkdirTemp("", "userauth-example")
	defer os.RemoveAll(dir)

	storage, err := userauth.NewFileStorage(filepath.Join(dir, "tokens.json"))
	if err != nil {
		log.Fatal(err)
	}
	c, _ := userauth.NewClient(srv.URL)
	ctx := context.Background()
	store, err := userauth.NewTokenStore(c, storage)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := store.Login(ctx, userauth.LoginRequest{Email: "ann@example.com", Password: "correct horse"}); err != nil {
		log.Fatal(err)
	}

	// Later, another process (or this one after a restart):
	restarted, err := userauth.NewTokenStore(c, storage)
	if err != nil {
		log.Fatal(err)
	}
	access, err := restarted.AccessToken(ctx)
	fmt.Println(access != "", err)
	// Output: true <nil>
}
