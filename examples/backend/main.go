// Backend is a backend service in a page, to copy: it calls the API as its
// own service account, unattended. The session lives in a token file
// (restarts keep it), 2FA steps are answered from the account's TOTP
// secret, the store logs in again by itself when the session ends, /healthz
// says whether the session works, and SIGINT or SIGTERM shut it down
// gracefully.
//
//	go run ./examples/backend                     # against an in-process fake API
//	USERAUTH_BASE_URL=https://a.yat.fyi BACKEND_EMAIL=... BACKEND_PASSWORD=... \
//	BACKEND_TOTP_SECRET=... go run ./examples/backend
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/tarilabs/userauth"
	"github.com/tarilabs/userauth/userauthtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv("BACKEND_ADDR")); err != nil {
		log.Fatal("backend: ", err)
	}
}

// config is the service account: the API, its credentials and TOTP secret.
type config struct {
	baseURL, email, password, totpSecret, tokenFile string
}

// configFromEnv reads the account from the environment; without
// USERAUTH_BASE_URL it starts a fake API with such an account, so that the
// example runs as it is. stop shuts the fake down.
func configFromEnv() (cfg config, stop func(), err error) {
	cfg = config{os.Getenv("USERAUTH_BASE_URL"), os.Getenv("BACKEND_EMAIL"), os.Getenv("BACKEND_PASSWORD"),
		os.Getenv("BACKEND_TOTP_SECRET"), os.Getenv("BACKEND_TOKEN_FILE")}
	stop = func() {}
	if cfg.baseURL == "" {
		srv := userauthtest.NewServer()
		dir, err := os.MkdirTemp("", "backend-example")
		if err != nil {
			return cfg, stop, err
		}
		stop = func() { srv.Close(); os.RemoveAll(dir) }
		cfg.baseURL, cfg.email, cfg.password, cfg.tokenFile = srv.URL, "billing-bot@example.com", "s3rvice-pw", filepath.Join(dir, "tokens.json")
		cfg.totpSecret, err = srv.AddUser(userauthtest.User{Email: cfg.email, Password: cfg.password, TwoFactor: userauthtest.TwoFactorTOTP})
		return cfg, stop, err
	}
	if cfg.tokenFile == "" {
		dir, err := os.UserConfigDir()
		if err != nil {
			return cfg, stop, err
		}
		cfg.tokenFile = filepath.Join(dir, "backend-example", "tokens.json")
	}
	return cfg, stop, nil
}

// newStore is the service's session: a token file, the account's
// credentials for logging in again, its TOTP secret for 2FA steps; extra
// options after those (a test gives the fake's clock).
func newStore(cfg config, extra ...userauth.StoreOption) (*userauth.TokenStore, error) {
	client, err := userauth.NewClient(cfg.baseURL)
	if err != nil {
		return nil, err
	}
	storage, err := userauth.NewFileStorage(cfg.tokenFile)
	if err != nil {
		return nil, err
	}
	opts := []userauth.StoreOption{userauth.WithCredentials(func(context.Context) (userauth.LoginRequest, error) {
		return userauth.LoginRequest{Email: cfg.email, Password: cfg.password}, nil
	})}
	if cfg.totpSecret != "" {
		totp, err := userauth.TOTPHandler(cfg.totpSecret)
		if err != nil {
			return nil, err
		}
		opts = append(opts, userauth.WithTwoFactorHandler(totp))
	}
	return userauth.NewTokenStore(client, storage, append(opts, extra...)...)
}

// handler is the service: /healthz reports the session, /whoami calls the
// API as the service account.
func handler(store *userauth.TokenStore) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		tok, err := store.Token(r.Context())
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"session": "down", "error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"session": "ok", "expires_at": tok.Expiry})
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		acc, err := store.Account(r.Context())
		if err != nil {
			writeJSON(w, http.StatusBadGateway, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"email": acc.User.Email, "two_factor": acc.TwoFactorEnabled()})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// run serves on addr (a free loopback port when empty) until ctx ends, then
// shuts down gracefully, giving requests in flight ten seconds. Against the
// fake API it calls its own endpoints once and stops, as a demonstration.
func run(ctx context.Context, addr string) error {
	cfg, stopFake, err := configFromEnv()
	if err != nil {
		return err
	}
	defer stopFake()
	store, err := newStore(cfg)
	if err != nil {
		return err
	}
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler(store), ReadHeaderTimeout: 5 * time.Second}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-ctx.Done()
		sctx, cancelShutdown := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancelShutdown()
		_ = srv.Shutdown(sctx)
		// Then the store: a renewal under way saves its rotated pair
		// before the process exits, so the next start does not present
		// a spent refresh token.
		_ = store.Shutdown(sctx)
	}()
	fmt.Printf("backend: serving http://%s for the API at %s, session in %s\n", ln.Addr(), cfg.baseURL, cfg.tokenFile)
	if os.Getenv("USERAUTH_BASE_URL") == "" {
		go func() { defer cancel(); demonstrate("http://" + ln.Addr().String()) }()
	}
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	fmt.Println("backend: shut down")
	return nil
}

// demonstrate calls the service's endpoints once and prints the answers.
func demonstrate(base string) {
	for _, path := range []string{"/healthz", "/whoami"} {
		resp, err := http.Get(base + path)
		if err != nil {
			fmt.Println("backend:", path, err)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("backend: GET %s: %d %s", path, resp.StatusCode, body)
	}
}
