// Service is the shape of a backend service: one TokenStore, persisted to
// a file, shared by many goroutines that call the API at once, across
// several expiries of the access token. However many goroutines ask, each
// expiry costs one refresh.
//
//	go run ./examples/service
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tarilabs/userauth"
	"github.com/tarilabs/userauth/examples/internal/demo"
	"github.com/tarilabs/userauth/userauthtest"
)

const (
	workers = 50
	rounds  = 3
)

func main() { demo.Main("service", userauthtest.TwoFactorTOTP, run) }

func run(ctx context.Context, api *demo.API) error {
	if api.Fake == nil {
		return fmt.Errorf("this example moves the fake server's clock; run it without USERAUTH_BASE_URL")
	}

	dir, err := os.MkdirTemp("", "userauth-service")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	storage, err := userauth.NewFileStorage(filepath.Join(dir, "tokens.json"))
	if err != nil {
		return err
	}
	client, err := userauth.NewClient(api.BaseURL)
	if err != nil {
		return err
	}
	store, err := userauth.NewTokenStore(client, storage,
		userauth.WithTwoFactorHandler(api.Code), // the service's way to get a code
		userauth.WithClock(api.Fake.Now))
	if err != nil {
		return err
	}
	if _, err := store.Login(ctx, userauth.LoginRequest{Email: api.Email, Password: api.Password}); err != nil {
		return err
	}
	fmt.Println("service: logged in; tokens kept in", storage.Path())

	hc := store.HTTPClient()
	var ok, failed atomic.Int64
	for round := 1; round <= rounds; round++ {
		api.Fake.Advance(16 * time.Minute) // the access token expires
		callAtOnce(hc, api.BaseURL+"/account", &ok, &failed)
		fmt.Printf("service: round %d: token expired, %d concurrent calls, refreshes so far: %d\n",
			round, workers, api.Fake.Calls(userauthtest.PathRefresh))
	}
	refreshes := api.Fake.Calls(userauthtest.PathRefresh)
	fmt.Printf("service: %d calls ok, %d failed, %d refreshes for %d expiries, %d refresh tokens reused\n",
		ok.Load(), failed.Load(), refreshes, rounds, api.Fake.ReuseDetected())
	if failed.Load() != 0 || refreshes != rounds {
		return fmt.Errorf("want every call ok and one refresh per expiry")
	}
	return nil
}

// callAtOnce has every worker GET url at the same moment, counting the
// answers that are 200 and the others.
func callAtOnce(hc *http.Client, url string, ok, failed *atomic.Int64) {
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := hc.Get(url)
			if err != nil {
				failed.Add(1)
				return
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				ok.Add(1)
			} else {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
}
