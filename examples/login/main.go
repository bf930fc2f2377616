// Login signs a user in with a password using the plain Client, and shows
// what the answer holds and how each failure is told apart.
//
//	go run ./examples/login
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/tarilabs/userauth"
	"github.com/tarilabs/userauth/examples/internal/demo"
)

func main() { demo.Main("login", "", run) }

func run(ctx context.Context, api *demo.API) error {
	c, err := userauth.NewClient(api.BaseURL, userauth.WithUserAgent("examples-login/1.0"))
	if err != nil {
		return err
	}
	tok, err := c.Login(ctx, userauth.LoginRequest{Email: api.Email, Password: api.Password})
	if err != nil {
		return err
	}
	fmt.Println("login: ok;", tok) // tokens print redacted
	if tok.Requires2FA != "" {
		fmt.Println("login: a 2FA step must follow, see examples/twofactor")
	}

	_, err = c.Login(ctx, userauth.LoginRequest{Email: api.Email, Password: "wrong"})
	var ce *userauth.ClientError
	if !errors.As(err, &ce) || ce.StatusCode != http.StatusUnauthorized {
		return fmt.Errorf("wrong password: got %v, want a 401 *ClientError", err)
	}
	fmt.Printf("login: wrong password refused: status %d, message %q\n", ce.StatusCode, ce.Message)

	_, err = c.Login(ctx, userauth.LoginRequest{Email: api.Email})
	var ve *userauth.ValidationError
	if !errors.As(err, &ve) {
		return fmt.Errorf("missing password: got %v, want a *ValidationError", err)
	}
	fmt.Println("login: missing password caught before sending:", ve.Field, ve.Reason)
	return nil
}
