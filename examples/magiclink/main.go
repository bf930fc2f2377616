// Magiclink asks the API to e-mail a user a login link. Completing that
// login happens in the user's browser, outside the API.
//
//	go run ./examples/magiclink
package main

import (
	"context"
	"fmt"

	"github.com/tarilabs/userauth"
	"github.com/tarilabs/userauth/examples/internal/demo"
)

func main() { demo.Main("magiclink", "", run) }

func run(ctx context.Context, api *demo.API) error {
	c, err := userauth.NewClient(api.BaseURL)
	if err != nil {
		return err
	}
	res, err := c.MagicLinkLogin(ctx, userauth.MagicLinkLoginRequest{Email: api.Email, Redirect: "/dashboard"})
	if err != nil {
		return err
	}
	fmt.Printf("magiclink: server says %q; the account is %s\n", res.Message, statusOrUnknown(res.Status))
	if api.Fake != nil {
		for _, m := range api.Fake.Outbox() {
			fmt.Printf("magiclink: e-mail to %s: %s (then %s)\n", m.To, m.Text, m.Redirect)
		}
	}
	return nil
}

// statusOrUnknown names the account status, which servers of the seed's
// API version do not send. String replaces any control characters.
func statusOrUnknown(s userauth.MagicLinkStatus) string {
	if s == "" {
		return "of unknown status (the server did not say)"
	}
	return s.String()
}
