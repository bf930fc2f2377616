// Apikey calls the API as a partner backend does, server to server, with an
// API key in the X-Api-Key header instead of a user's tokens. The key goes
// to the API's own host only: a request to any other host leaves without
// it.
//
//	go run ./examples/apikey
//
// Without USERAUTH_BASE_URL it runs against the SDK's fake server,
// in-process, with a key the fake made. With it, set USERAUTH_API_KEY (a
// key made in the vendor's dashboard) and, optionally, USERAUTH_API_PATH
// (default /account) to the endpoint to call.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/tarilabs/userauth"
	"github.com/tarilabs/userauth/userauthtest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "apikey:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	base, key, path := os.Getenv("USERAUTH_BASE_URL"), os.Getenv("USERAUTH_API_KEY"), os.Getenv("USERAUTH_API_PATH")
	if path == "" {
		path = "/account"
	}
	if base == "" {
		srv := userauthtest.NewServer()
		defer srv.Close()
		if _, err := srv.AddUser(userauthtest.User{Email: "partner@example.com", Password: "correct-horse"}); err != nil {
			return err
		}
		var err error
		if key, err = srv.AddAPIKey("partner@example.com"); err != nil {
			return err
		}
		base = srv.URL
		fmt.Println("apikey: using the fake API at", base, "(set USERAUTH_BASE_URL and USERAUTH_API_KEY to use a real one)")
	} else if key == "" {
		return errors.New("with USERAUTH_BASE_URL, set USERAUTH_API_KEY too")
	}

	c, err := userauth.NewClient(base)
	if err != nil {
		return err
	}
	hc := c.APIKeyClient(key)
	body, err := get(ctx, hc, strings.TrimSuffix(base, "/")+path)
	if err != nil {
		return err
	}
	fmt.Printf("apikey: GET %s with the key: 200 %s\n", path, body)

	// Another host never sees the key, even through the same client.
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "X-Api-Key seen: %q", r.Header.Get("X-Api-Key"))
	}))
	defer other.Close()
	seen, err := get(ctx, hc, other.URL)
	if err != nil {
		return err
	}
	fmt.Println("apikey: another host:", seen)
	return nil
}

// get fetches url through hc and returns the start of its body, or the
// typed error of a non-2xx answer.
func get(ctx context.Context, hc *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if err := userauth.CheckResponse(resp); err != nil {
		return "", err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 512))
	return strings.TrimSpace(string(body)), err
}
