// Twofactor does the 2FA flow by hand with the plain Client: login, the
// requires_2fa answer, a wrong code, the right code, then a refresh that
// rotates both tokens. TokenStore does all of this by itself; this shows
// what happens on the wire.
//
//	go run ./examples/twofactor
package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/tarilabs/userauth"
	"github.com/tarilabs/userauth/examples/internal/demo"
	"github.com/tarilabs/userauth/userauthtest"
)

func main() { demo.Main("twofactor", userauthtest.TwoFactorTOTP, run) }

func run(ctx context.Context, api *demo.API) error {
	c, err := userauth.NewClient(api.BaseURL)
	if err != nil {
		return err
	}
	partial, err := c.Login(ctx, userauth.LoginRequest{Email: api.Email, Password: api.Password})
	if err != nil {
		return err
	}
	if partial.Requires2FA == "" {
		fmt.Println("twofactor: this user has no 2FA; nothing to show")
		return nil
	}
	fmt.Println("twofactor: login answered requires_2fa =", partial.Requires2FA)

	if api.Fake != nil {
		_, err = c.TwoFactorAuthentication(ctx, userauth.Confirm2FA{Code: "000000", RefreshToken: partial.RefreshToken})
		var ce *userauth.ClientError
		if !errors.As(err, &ce) {
			return fmt.Errorf("wrong code: got %v, want a *ClientError", err)
		}
		fmt.Printf("twofactor: wrong code refused: status %d, field errors %v\n", ce.StatusCode, ce.Fields)
	}

	code, err := api.Code(ctx, partial.Requires2FA)
	if err != nil {
		return err
	}
	full, err := c.TwoFactorAuthentication(ctx, userauth.Confirm2FA{Code: code, RefreshToken: partial.RefreshToken})
	if err != nil {
		return err
	}
	fmt.Println("twofactor: code accepted; complete tokens:", full.Requires2FA == "")

	next, err := c.RefreshToken(ctx, userauth.RefreshRequest{RefreshToken: full.RefreshToken})
	if err != nil {
		return err
	}
	fmt.Println("twofactor: refreshed; refresh token rotated:", next.RefreshToken != full.RefreshToken)
	return nil
}
