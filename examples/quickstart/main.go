// Quickstart walks the whole life of a session, one line per step: login,
// the 2FA step, an authenticated call, the access token expiring, the
// automatic refresh, and logout (revoked on the server).
//
//	go run ./examples/quickstart
//
// Without USERAUTH_BASE_URL it runs against the SDK's fake server,
// in-process. With it (and USERAUTH_EMAIL, USERAUTH_PASSWORD) it runs
// against that API, https://a.yat.fyi for the vendor's sandbox, and asks
// for the 2FA code on stdin.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tarilabs/userauth"
	"github.com/tarilabs/userauth/examples/internal/demo"
	"github.com/tarilabs/userauth/userauthtest"
)

func main() { demo.Main("quickstart", userauthtest.TwoFactorTOTP, run) }

func run(ctx context.Context, api *demo.API) error {
	client, err := userauth.NewClient(api.BaseURL)
	if err != nil {
		return err
	}
	var clock func() time.Time = time.Now
	if api.Fake != nil {
		clock = api.Fake.Now // so that moving the fake's clock expires tokens here too
	}
	store, err := userauth.NewTokenStore(client, nil, userauth.WithClock(clock))
	if err != nil {
		return err
	}
	if err := login(ctx, store, api); err != nil {
		return err
	}

	// 3. An authenticated call: the account the session belongs to.
	acc, err := store.Account(ctx)
	if err != nil {
		return fmt.Errorf("GET /account: %w", err)
	}
	step("GET /account: 200, %s, role %s, 2FA on: %v", acc.User.Email, acc.Role, acc.User.TwoFactorAuth)

	hc := store.HTTPClient() // any other API call, through the store's http.Client
	if err := expireAndRenew(ctx, store, api, hc); err != nil {
		return err
	}

	// 6. Logout: the server revokes the session, the store forgets it and
	// then asks for a login.
	if err := store.Logout(ctx); err != nil {
		return err
	}
	if _, err := store.AccessToken(ctx); !errors.Is(err, userauth.ErrLoginRequired) {
		return fmt.Errorf("after logout: got %v, want ErrLoginRequired", err)
	}
	step("logout: session revoked on the server, tokens cleared; the next call needs a login")
	step("done")
	return nil
}

func step(format string, args ...any) { fmt.Printf("quickstart: "+format+"\n", args...) }

// login is steps 1 and 2: the password, then the 2FA code the answer asks
// for.
func login(ctx context.Context, store *userauth.TokenStore, api *demo.API) error {
	// 1. Login. The user has 2FA, so the answer holds only partial tokens.
	_, err := store.Login(ctx, userauth.LoginRequest{Email: api.Email, Password: api.Password})
	var tfa *userauth.TwoFactorRequiredError
	switch {
	case errors.As(err, &tfa):
		step("login: %s accepted; the server asks for 2FA (%s), partial token withheld", api.Email, tfa.Method)
	case err != nil:
		return fmt.Errorf("login: %w", err)
	default:
		step("login: %s accepted, no 2FA step needed", api.Email)
		return nil
	}
	// 2. The 2FA step, with the code from the user's authenticator app.
	code, err := api.Code(ctx, tfa.Method)
	if err != nil {
		return err
	}
	tok, err := store.CompleteTwoFactor(ctx, code)
	if err != nil {
		return fmt.Errorf("2FA: %w", err)
	}
	step("2FA: code accepted; complete tokens stored, access token valid until %s", tok.Expiry.UTC().Format("15:04:05 UTC"))
	return nil
}

// expireAndRenew is steps 4 and 5: the access token expires, and the next
// call renews it by itself first.
func expireAndRenew(ctx context.Context, store *userauth.TokenStore, api *demo.API, hc *http.Client) error {
	before, err := store.Token(ctx)
	if err != nil {
		return err
	}
	if api.Fake != nil {
		api.Fake.Advance(16 * time.Minute)
		step("access token expires (the fake's clock moved 16 minutes on)")
	} else {
		if _, err := store.Refresh(ctx); err != nil {
			return fmt.Errorf("refresh: %w", err)
		}
		step("a real API's clock cannot be moved: refreshed by hand instead")
	}
	if err := getAccount(hc, api.BaseURL); err != nil {
		return err
	}
	after, err := store.Token(ctx)
	if err != nil {
		return err
	}
	if after.AccessToken == before.AccessToken || after.RefreshToken == before.RefreshToken {
		return errors.New("the tokens were not renewed")
	}
	if api.Fake != nil {
		step("GET /account: 200 after %d automatic refresh; both tokens rotated", api.Fake.Calls(userauthtest.PathRefresh))
	} else {
		step("GET /account: 200 with the renewed tokens")
	}
	return nil
}

// getAccount makes an authenticated GET /account through hc, the store's
// http.Client, as any other call of the API would go.
func getAccount(hc *http.Client, base string) error {
	resp, err := hc.Get(strings.TrimSuffix(base, "/") + "/account")
	if err != nil {
		return fmt.Errorf("GET /account: %w", err)
	}
	defer resp.Body.Close()
	return userauth.CheckResponse(resp)
}
