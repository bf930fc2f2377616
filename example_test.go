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
			io.WriteString(w, `{"error":"Invalid credentials"}`)
		case r.URL.Path == "/auth/2fa" && strings.Contains(string(body), `"123456"`):
			io.WriteString(w, `{"access_token":"full","refresh_token":"rt-2"}`)
		case r.URL.Path == "/auth/2fa":
			w.WriteHeader(http.StatusUnprocessableEntity)
			io.WriteString(w, `{"fields":{"code":[{"code":"invalid","message":"Code is not valid"}]}}`)
		case r.URL.Path == "/auth/token/refresh":
			io.WriteString(w, `{"access_token":"full-2","refresh_token":"rt-3"}`)
		case r.URL.Path == "/auth/magic_link":
			io.WriteString(w, `{"message":"Magic link sent","status":"Active"}`)
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
	fmt.Println(res.Message, "to an account that is", res.Status)
	// Output: Magic link sent to an account that is Active
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
		case errors.Is(err, userauth.ErrInvalidCredentials) && errors.As(err, &ce):
			fmt.Println("wrong credentials:", ce.Message)
		case errors.Is(err, userauth.ErrInvalidCode) && errors.As(err, &ce):
			fmt.Println("2FA code refused:", ce.Message, "- ask the user again")
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
	// 2FA code refused: Code is not valid - ask the user again
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
	resp, err := hc.Get(c.BaseURL().JoinPath("account").String())
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

// An http.Client for a partner backend's server-to-server calls, with an
// API key instead of a user's tokens. The key goes to the API's host only.
func ExampleClient_APIKeyClient() {
	srv := userauthtest.NewServer()
	defer srv.Close()
	srv.AddUser(userauthtest.User{Email: "partner@example.com", Password: "correct-horse"})
	key, _ := srv.AddAPIKey("partner@example.com") // made in the vendor's dashboard, in real life

	c, _ := userauth.NewClient(srv.URL)
	hc := c.APIKeyClient(key)
	resp, err := hc.Get(srv.URL + "/account")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	fmt.Println(resp.StatusCode, userauth.CheckResponse(resp))
	// Output: 200 <nil>
}

// Logout ends the session on the server: every token of the user stops
// working, not only the one sent.
func ExampleClient_Logout() {
	srv := userauthtest.NewServer()
	defer srv.Close()
	srv.AddUser(userauthtest.User{Email: "ann@example.com", Password: "correct-horse"})
	c, _ := userauth.NewClient(srv.URL)
	ctx := context.Background()
	tok, _ := c.Login(ctx, userauth.LoginRequest{Email: "ann@example.com", Password: "correct-horse"})

	fmt.Println(c.Logout(ctx, tok.AccessToken))
	_, err := c.RefreshToken(ctx, userauth.RefreshRequest{RefreshToken: tok.RefreshToken})
	var ce *userauth.ClientError
	fmt.Println(errors.As(err, &ce) && ce.StatusCode == http.StatusUnauthorized)
	// Output:
	// <nil>
	// true
}

// Without a TwoFactorHandler, a login that needs 2FA stops at the pending
// step; the partial token is never handed out, and CompleteTwoFactor
// finishes the login with the user's code.
func ExampleTokenStore_CompleteTwoFactor() {
	srv := userauthtest.NewServer()
	defer srv.Close()
	secret, _ := srv.AddUser(userauthtest.User{Email: "tom@example.com", Password: "battery-staple", TwoFactor: userauthtest.TwoFactorTOTP})
	c, _ := userauth.NewClient(srv.URL)
	store, _ := userauth.NewTokenStore(c, nil)
	ctx := context.Background()

	_, err := store.Login(ctx, userauth.LoginRequest{Email: "tom@example.com", Password: "battery-staple"})
	var tfa *userauth.TwoFactorRequiredError
	if errors.As(err, &tfa) {
		fmt.Println("code needed:", tfa.Method)
	}
	_, err = store.AccessToken(ctx)
	fmt.Println("until then:", errors.Is(err, userauth.ErrTwoFactorRequired))

	code, _ := srv.Code(secret) // the user types it from their authenticator app
	tok, err := store.CompleteTwoFactor(ctx, code)
	fmt.Println("complete:", err == nil && tok.Valid())
	// Output:
	// code needed: GoogleAuthenticator
	// until then: true
	// complete: true
}

// SetToken makes a pair obtained elsewhere (a registration answer, a
// migration) the store's session; the store renews it from then on.
func ExampleTokenStore_SetToken() {
	srv := userauthtest.NewServer()
	defer srv.Close()
	srv.AddUser(userauthtest.User{Email: "ann@example.com", Password: "correct-horse"})
	c, _ := userauth.NewClient(srv.URL)
	ctx := context.Background()
	pair, _ := c.Login(ctx, userauth.LoginRequest{Email: "ann@example.com", Password: "correct-horse"})

	store, _ := userauth.NewTokenStore(c, nil, userauth.WithClock(srv.Now))
	if _, err := store.SetToken(ctx, pair); err != nil {
		log.Fatal(err)
	}
	srv.Advance(16 * time.Minute)
	access, err := store.AccessToken(ctx)
	fmt.Println(access != pair.AccessToken, err)
	// Output: true <nil>
}

// Logout revokes the session on the server, then clears the storage. If
// the server cannot be reached, the storage is cleared all the same and
// the error says the tokens were not revoked.
func ExampleTokenStore_Logout() {
	srv := userauthtest.NewServer()
	srv.AddUser(userauthtest.User{Email: "ann@example.com", Password: "correct-horse"})
	c, _ := userauth.NewClient(srv.URL, userauth.WithoutRetries())
	store, _ := userauth.NewTokenStore(c, nil)
	ctx := context.Background()
	store.Login(ctx, userauth.LoginRequest{Email: "ann@example.com", Password: "correct-horse"})
	fmt.Println(store.Logout(ctx))

	store.Login(ctx, userauth.LoginRequest{Email: "ann@example.com", Password: "correct-horse"})
	srv.Close() // the server goes away
	err := store.Logout(ctx)
	fmt.Println("not revoked:", errors.Is(err, userauth.ErrNotRevoked))
	_, err = store.AccessToken(ctx)
	fmt.Println("logged out here:", errors.Is(err, userauth.ErrLoginRequired))
	// Output:
	// <nil>
	// not revoked: true
	// logged out here: true
}

// A service shuts its store down on its way out, after its HTTP server:
// a renewal under way saves its rotated pair first, and none starts after.
func ExampleTokenStore_Shutdown() {
	srv := userauthtest.NewServer()
	defer srv.Close()
	srv.AddUser(userauthtest.User{Email: "ann@example.com", Password: "correct-horse"})
	c, _ := userauth.NewClient(srv.URL)
	store, _ := userauth.NewTokenStore(c, nil)
	ctx := context.Background()
	store.Login(ctx, userauth.LoginRequest{Email: "ann@example.com", Password: "correct-horse"})

	// On SIGTERM, say:
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	fmt.Println(store.Shutdown(sctx))
	_, err := store.Refresh(ctx)
	fmt.Println(errors.Is(err, userauth.ErrStoreShutDown))
	// Output:
	// <nil>
	// true
}

// TokenSource adapts the store to libraries that take an
// oauth2.TokenSource. For requests to the API itself, prefer HTTPClient,
// which also renews once after a 401.
func ExampleTokenStore_TokenSource() {
	srv := userauthtest.NewServer()
	defer srv.Close()
	srv.AddUser(userauthtest.User{Email: "ann@example.com", Password: "correct-horse"})
	c, _ := userauth.NewClient(srv.URL)
	store, _ := userauth.NewTokenStore(c, nil)
	ctx := context.Background()
	store.Login(ctx, userauth.LoginRequest{Email: "ann@example.com", Password: "correct-horse"})

	tok, err := store.TokenSource(ctx).Token()
	fmt.Println(tok.TokenType, tok.Valid(), tok.RefreshToken == "", err)
	// Output: Bearer true true <nil>
}

// Transport wraps a RoundTripper of your own, for an http.Client you build
// yourself (here with a timeout covering the renewal and the repeat).
func ExampleTokenStore_Transport() {
	srv := userauthtest.NewServer()
	defer srv.Close()
	srv.AddUser(userauthtest.User{Email: "ann@example.com", Password: "correct-horse"})
	c, _ := userauth.NewClient(srv.URL)
	store, _ := userauth.NewTokenStore(c, nil)
	store.Login(context.Background(), userauth.LoginRequest{Email: "ann@example.com", Password: "correct-horse"})

	base := http.DefaultTransport.(*http.Transport).Clone() // your proxy, TLS, tracing...
	defer base.CloseIdleConnections()
	hc := &http.Client{Transport: store.Transport(base), Timeout: 10 * time.Second}
	srv.ExpireAccessTokens() // the server revokes the token: a 401, one renewal, one repeat
	resp, err := hc.Get(srv.URL + "/account")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode)
	// Output: 200
}

// A 424 means the 2FA grace period expired. Without a TwoFactorHandler the
// store's transport hands the answer back; CheckResponse tells it apart,
// and CompleteTwoFactor with a fresh code renews the grace period.
func ExampleCheckResponse() {
	srv := userauthtest.NewServer(userauthtest.WithAccessTTL(time.Hour))
	defer srv.Close()
	secret, _ := srv.AddUser(userauthtest.User{Email: "tom@example.com", Password: "battery-staple", TwoFactor: userauthtest.TwoFactorTOTP})
	c, _ := userauth.NewClient(srv.URL)
	store, _ := userauth.NewTokenStore(c, nil, userauth.WithClock(srv.Now))
	ctx := context.Background()
	store.Login(ctx, userauth.LoginRequest{Email: "tom@example.com", Password: "battery-staple"})
	code, _ := srv.Code(secret)
	store.CompleteTwoFactor(ctx, code)

	srv.Advance(16 * time.Minute) // past the grace period
	resp, err := store.HTTPClient().Get(srv.URL + "/account/sensitive")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	err = userauth.CheckResponse(resp)
	fmt.Println(resp.StatusCode, errors.Is(err, userauth.ErrTwoFactorExpired))

	srv.Advance(time.Minute) // a fresh code
	code, _ = srv.Code(secret)
	_, err = store.CompleteTwoFactor(ctx, code)
	fmt.Println("grace period renewed:", err == nil)
	// Output:
	// 424 true
	// grace period renewed: true
}

// WithFailClosed makes a store whose shared storage is down fail rather
// than renew alone (which risks spending a refresh token another replica
// spends too).
func ExampleWithFailClosed() {
	srv := userauthtest.NewServer()
	defer srv.Close()
	srv.AddUser(userauthtest.User{Email: "ann@example.com", Password: "correct-horse"})
	c, _ := userauth.NewClient(srv.URL)
	storage := &flakyStorage{TokenStorage: userauth.NewMemoryStorage()}
	store, _ := userauth.NewTokenStore(c, storage, userauth.WithFailClosed(), userauth.WithClock(srv.Now))
	ctx := context.Background()
	store.Login(ctx, userauth.LoginRequest{Email: "ann@example.com", Password: "correct-horse"})

	storage.down = true // the shared cache goes away
	srv.Advance(16 * time.Minute)
	_, err := store.AccessToken(ctx)
	fmt.Println(errors.Is(err, userauth.ErrStorageUnavailable), srv.Calls(userauthtest.PathRefresh))
	// Output: true 0
}

// flakyStorage is a shared storage that can go down, as a cache would.
type flakyStorage struct {
	userauth.TokenStorage
	down bool
}

func (f *flakyStorage) Load(ctx context.Context) (*userauth.Record, error) {
	if f.down {
		return nil, fmt.Errorf("%w: connection refused", userauth.ErrStorageUnavailable)
	}
	return f.TokenStorage.Load(ctx)
}

// A service account that holds its TOTP secret completes 2FA steps by
// itself, at login and whenever the API asks again: no person is needed.
func ExampleTOTPHandler() {
	srv := userauthtest.NewServer()
	defer srv.Close()
	secret, _ := srv.AddUser(userauthtest.User{Email: "billing-bot@example.com", Password: "s3rvice-pw", TwoFactor: userauthtest.TwoFactorTOTP})

	totp, err := userauth.TOTPHandler(secret) // the ga_secret the vendor issued, from your secret store
	if err != nil {
		log.Fatal(err)
	}
	client, _ := userauth.NewClient(srv.URL)
	store, _ := userauth.NewTokenStore(client, nil, userauth.WithTwoFactorHandler(totp))
	tok, err := store.Login(context.Background(), userauth.LoginRequest{Email: "billing-bot@example.com", Password: "s3rvice-pw"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("logged in, 2FA pending:", tok.Requires2FA != "")
	fmt.Println("codes checked by the server:", srv.Calls(userauthtest.PathTwoFactor))
	// Output:
	// logged in, 2FA pending: false
	// codes checked by the server: 1
}

// The account the session belongs to, and its 2FA state: whom a service
// is logged in as, or whether to show a user "2FA on".
func ExampleTokenStore_Account() {
	srv := userauthtest.NewServer()
	defer srv.Close()
	srv.AddUser(userauthtest.User{Email: "ann@example.com", Password: "correct-horse"})

	client, _ := userauth.NewClient(srv.URL)
	store, _ := userauth.NewTokenStore(client, nil)
	ctx := context.Background()
	if _, err := store.Login(ctx, userauth.LoginRequest{Email: "ann@example.com", Password: "correct-horse"}); err != nil {
		log.Fatal(err)
	}
	acc, err := store.Account(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(acc.User.Email, acc.Role, "2FA on:", acc.TwoFactorEnabled())
	// Output: ann@example.com User 2FA on: false
}

// API keys for a partner backend: created for the session's user with the
// scopes it needs, used in the X-Api-Key header, listed and deleted.
func ExampleTokenStore_CreateAPIKey() {
	srv := userauthtest.NewServer()
	defer srv.Close()
	srv.AddUser(userauthtest.User{Email: "ann@example.com", Password: "correct-horse"})
	client, _ := userauth.NewClient(srv.URL)
	store, _ := userauth.NewTokenStore(client, nil)
	ctx := context.Background()
	if _, err := store.Login(ctx, userauth.LoginRequest{Email: "ann@example.com", Password: "correct-horse"}); err != nil {
		log.Fatal(err)
	}

	key, err := store.CreateAPIKey(ctx, userauth.CreateAPIKeyRequest{Name: "partner-backend", Scopes: []userauth.Scope{userauth.ScopeUserShow}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created:", key.Name, key.Scopes, "printed with its key:", strings.Contains(fmt.Sprint(key), key.Key))
	resp, err := client.APIKeyClient(key.Key).Get(client.BaseURL().JoinPath("account").String())
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println("GET /account with the key:", resp.StatusCode)

	keys, _ := store.APIKeys(ctx)
	fmt.Println("keys:", len(keys))
	if _, err := store.DeleteAPIKey(ctx, key.Key); err != nil {
		log.Fatal(err)
	}
	keys, _ = store.APIKeys(ctx)
	fmt.Println("keys after delete:", len(keys))
	// Output:
	// created: partner-backend [user:show] printed with its key: false
	// GET /account with the key: 200
	// keys: 1
	// keys after delete: 0
}

// A magic link, once the user has it from the e-mail, becomes the store's
// session: it carries a refresh token that the store exchanges.
func ExampleTokenStore_CompleteMagicLink() {
	srv := userauthtest.NewServer()
	defer srv.Close()
	srv.AddUser(userauthtest.User{Email: "ann@example.com", Password: "correct-horse"})
	client, _ := userauth.NewClient(srv.URL)
	ctx := context.Background()
	if _, err := client.MagicLinkLogin(ctx, userauth.MagicLinkLoginRequest{Email: "ann@example.com"}); err != nil {
		log.Fatal(err)
	}
	link := srv.Outbox()[0].Text // what the user clicked, handed to your backend

	store, _ := userauth.NewTokenStore(client, nil)
	tok, err := store.CompleteMagicLink(ctx, link)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("session:", tok.Valid())
	// Output: session: true
}

// A service that holds its account's credentials never handles a login:
// the store logs in on first use and again whenever the session ends (a
// revocation, a logout elsewhere), once for all callers.
func ExampleWithCredentials() {
	srv := userauthtest.NewServer()
	defer srv.Close()
	srv.AddUser(userauthtest.User{Email: "billing-bot@example.com", Password: "s3rvice-pw"})

	client, _ := userauth.NewClient(srv.URL)
	store, _ := userauth.NewTokenStore(client, nil, userauth.WithClock(srv.Now), userauth.WithCredentials(
		func(ctx context.Context) (userauth.LoginRequest, error) {
			// Read them from your secret store each time: a rotated password is picked up.
			return userauth.LoginRequest{Email: "billing-bot@example.com", Password: "s3rvice-pw"}, nil
		}))
	ctx := context.Background()
	first, err := store.AccessToken(ctx) // no Login: the store logs in
	if err != nil {
		log.Fatal(err)
	}
	_ = client.Logout(ctx, first) // another client ends the session on the server,
	srv.Advance(time.Minute)      // a minute on (the store logs in by itself at most every 30 s)

	resp, err := store.HTTPClient().Get(client.BaseURL().JoinPath("account").String())
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println("GET /account:", resp.StatusCode, "after", srv.Calls(userauthtest.PathLogin), "logins")
	// Output: GET /account: 200 after 2 logins
}

// Turning 2FA on for the session's user: enable answers the new secret (a
// person scans QRCodeSVG; a service account keeps Secret for TOTPHandler)
// and backup codes; a code of the new secret commits it.
func ExampleTokenStore_Enable2FA() {
	srv := userauthtest.NewServer()
	defer srv.Close()
	srv.AddUser(userauthtest.User{Email: "ann@example.com", Password: "correct-horse"})
	client, _ := userauth.NewClient(srv.URL)
	store, _ := userauth.NewTokenStore(client, nil)
	ctx := context.Background()
	if _, err := store.Login(ctx, userauth.LoginRequest{Email: "ann@example.com", Password: "correct-horse"}); err != nil {
		log.Fatal(err)
	}

	setup, err := store.Enable2FA(ctx, userauth.Enable2FARequest{Provider: userauth.TwoFactorGoogleAuthenticator, Default: true})
	if err != nil {
		log.Fatal(err)
	}
	code, _ := srv.Code(setup.Secret) // what the user's app shows now
	if err := store.Confirm2FASetup(ctx, code); err != nil {
		log.Fatal(err)
	}
	acc, _ := store.Account(ctx)
	fmt.Println("2FA on:", acc.TwoFactorEnabled(), "backup codes:", len(setup.BackupCodes))
	// Output: 2FA on: true backup codes: 8
}
