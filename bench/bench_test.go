// Package bench measures the SDK against its peers, side by side in one
// run: a hand-written net/http client (raw, the practical limit), a client
// generated from api/openapi.yaml (oapi), and golang.org/x/oauth2 for the
// token path. Run ./run.sh for the full comparison; CI runs each benchmark
// once so they never rot.
package bench

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/tarilabs/userauth"
	"github.com/tarilabs/userauth/bench/oapi"
	"github.com/tarilabs/userauth/bench/raw"
	"github.com/tarilabs/userauth/userauthtest"
)

// A realistic answer: an HS256 JWT of the size the API issues.
const (
	accessJWT  = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyIyZmEiOiJub25lIiwiZXhwIjo0MTAyNDQ0ODAwLCJmYW0iOiI3YjJlOWQxYzRhNWYzZTYwIiwiaWF0IjoxNzY0MTY2NDAwLCJqdGkiOiIzZjFhOWMyZTdiNGQ4ZTYwIiwic2VxIjo0Miwic3ViIjoiMGY4ZmFkNWItZDljYi00NjlmLWExNjUtNzA4Njc3Mjg5NTBlIn0.2vQmXrJ9m8Jm0f3y9oQ9ZxkYzHq3rT1mN8sV5uW7aBc"
	tokenJSON  = `{"access_token":"` + accessJWT + `","refresh_token":"c2a7f0e4b91d4f6a8e3b5d7c9a1f2e4b6d8c0a2e4f6b8d0c2e4a6b8d0f2e4c6a8","has_password":true}`
	email      = "ann@example.com"
	password   = "correct-horse-battery-staple"
	refreshTok = "c2a7f0e4b91d4f6a8e3b5d7c9a1f2e4b6d8c0a2e4f6b8d0c2e4a6b8d0f2e4c6a8"
)

// fixedAPI answers the four endpoints with fixed JSON, and GET /account for
// a bearer token.
func fixedAPI(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/auth/token", "/auth/token/refresh", "/auth/2fa":
			_, _ = io.WriteString(w, tokenJSON)
		case "/auth/magic_link":
			_, _ = io.WriteString(w, `{"message":"Magic link sent"}`)
		case "/account":
			if r.Header.Get("Authorization") != "Bearer "+accessJWT {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			_, _ = io.WriteString(w, `{"id":"0f8fad5b-d9cb-469f-a165-70867728950e","email":"ann@example.com"}`)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	b.Cleanup(srv.Close)
	return srv
}

// Each peer gets its own transport, cloned from the default, so that no
// peer warms another's connections.
func newHTTPClient() *http.Client {
	return &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
}

func BenchmarkLogin(b *testing.B) {
	srv := fixedAPI(b)
	benchLogin(b, srv.URL, newHTTPClient)
}

// benchLogin runs Login through each peer against the API at baseURL, each
// peer with an HTTP client of its own from newHC.
func benchLogin(b *testing.B, baseURL string, newHC func() *http.Client) {
	ctx := context.Background()
	b.Run("raw", func(b *testing.B) {
		c := &raw.Client{BaseURL: baseURL, HTTP: newHC()}
		loop(b, func() error { _, err := c.Login(ctx, email, password); return err })
	})
	b.Run("oapi", func(b *testing.B) {
		c, err := oapi.NewClientWithResponses(baseURL, oapi.WithHTTPClient(newHC()))
		if err != nil {
			b.Fatal(err)
		}
		e := email
		loop(b, func() error {
			resp, err := c.LoginWithResponse(ctx, oapi.LoginJSONRequestBody{Email: &e, Password: password})
			if err == nil && resp.JSON200 == nil {
				b.Fatalf("oapi: got status %d", resp.StatusCode())
			}
			return err
		})
	})
	b.Run("userauth", func(b *testing.B) {
		c, err := userauth.NewClient(baseURL, userauth.WithHTTPClient(newHC()))
		if err != nil {
			b.Fatal(err)
		}
		loop(b, func() error {
			_, err := c.Login(ctx, userauth.LoginRequest{Email: email, Password: password})
			return err
		})
	})
}

func BenchmarkRefreshToken(b *testing.B) {
	srv := fixedAPI(b)
	ctx := context.Background()
	b.Run("raw", func(b *testing.B) {
		c := &raw.Client{BaseURL: srv.URL, HTTP: newHTTPClient()}
		loop(b, func() error { _, err := c.RefreshToken(ctx, refreshTok); return err })
	})
	b.Run("oapi", func(b *testing.B) {
		c, err := oapi.NewClientWithResponses(srv.URL, oapi.WithHTTPClient(newHTTPClient()))
		if err != nil {
			b.Fatal(err)
		}
		loop(b, func() error {
			resp, err := c.RefreshTokenWithResponse(ctx, oapi.RefreshTokenJSONRequestBody{RefreshToken: refreshTok})
			if err == nil && resp.JSON200 == nil {
				b.Fatalf("oapi: got status %d", resp.StatusCode())
			}
			return err
		})
	})
	b.Run("userauth", func(b *testing.B) {
		c, err := userauth.NewClient(srv.URL, userauth.WithHTTPClient(newHTTPClient()))
		if err != nil {
			b.Fatal(err)
		}
		loop(b, func() error {
			_, err := c.RefreshToken(ctx, userauth.RefreshRequest{RefreshToken: refreshTok})
			return err
		})
	})
}

func loop(b *testing.B, call func() error) {
	if err := call(); err != nil { // warm the connection
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := call(); err != nil {
			b.Fatal(err)
		}
	}
}

// freshStore is a TokenStore holding a token valid for an hour.
func freshStore(b *testing.B, baseURL string, hc *http.Client) *userauth.TokenStore {
	var opts []userauth.Option
	if hc != nil {
		opts = append(opts, userauth.WithHTTPClient(hc))
	}
	c, err := userauth.NewClient(baseURL, opts...)
	if err != nil {
		b.Fatal(err)
	}
	storage := userauth.NewMemoryStorage()
	tok := &userauth.Token{AccessToken: accessJWT, RefreshToken: refreshTok, Expiry: time.Now().Add(time.Hour)}
	if err := storage.Save(context.Background(), &userauth.Record{Generation: 1, Paired: 1, Phase: userauth.PhaseActive, Token: tok}); err != nil {
		b.Fatal(err)
	}
	s, err := userauth.NewTokenStore(c, storage)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.AccessToken(context.Background()); err != nil {
		b.Fatal(err)
	}
	return s
}

func BenchmarkAccessTokenParallel(b *testing.B) {
	b.Run("userauth", func(b *testing.B) {
		s := freshStore(b, "http://127.0.0.1:1", nil)
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.AccessToken(ctx); err != nil {
					b.Error(err)
				}
			}
		})
	})
	b.Run("oauth2", func(b *testing.B) {
		ts := oauth2.ReuseTokenSource(nil, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: accessJWT, Expiry: time.Now().Add(time.Hour)}))
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := ts.Token(); err != nil {
					b.Error(err)
				}
			}
		})
	})
}

// static sets a fixed bearer header on a clone of each request: the least
// an authenticating transport can do.
type static struct{ base http.RoundTripper }

func (s static) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+accessJWT)
	return s.base.RoundTrip(r)
}

func BenchmarkTransport(b *testing.B) {
	srv := fixedAPI(b)
	get := func(b *testing.B, rt http.RoundTripper) {
		hc := &http.Client{Transport: rt}
		loop(b, func() error {
			resp, err := hc.Get(srv.URL + "/account")
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("got %d, want 200", resp.StatusCode)
			}
			return nil
		})
	}
	b.Run("static", func(b *testing.B) { get(b, static{newHTTPClient().Transport}) })
	b.Run("oauth2", func(b *testing.B) {
		src := oauth2.ReuseTokenSource(nil, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: accessJWT, Expiry: time.Now().Add(time.Hour)}))
		get(b, &oauth2.Transport{Source: src, Base: newHTTPClient().Transport})
	})
	b.Run("userauth", func(b *testing.B) {
		hc := newHTTPClient()
		get(b, freshStore(b, srv.URL, hc).Transport(hc.Transport))
	})
}

// BenchmarkRefreshStorm lets 1,000 goroutines ask for a token the moment it
// expires, against the fake API, and reports how many refreshes the server
// saw per storm: it must be 1.
func BenchmarkRefreshStorm(b *testing.B) {
	srv := userauthtest.NewServer()
	b.Cleanup(srv.Close)
	if _, err := srv.AddUser(userauthtest.User{Email: email, Password: password}); err != nil {
		b.Fatal(err)
	}
	c, err := userauth.NewClient(srv.URL, userauth.WithHTTPClient(srv.Client()))
	if err != nil {
		b.Fatal(err)
	}
	s, err := userauth.NewTokenStore(c, nil, userauth.WithClock(srv.Now))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Login(ctx, userauth.LoginRequest{Email: email, Password: password}); err != nil {
		b.Fatal(err)
	}
	const storm = 1000
	before := srv.Calls(userauthtest.PathRefresh)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		srv.Advance(16 * time.Minute) // the token expires
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range storm {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if _, err := s.AccessToken(ctx); err != nil {
					b.Error(err)
				}
			}()
		}
		close(start)
		wg.Wait()
	}
	b.StopTimer()
	refreshes := srv.Calls(userauthtest.PathRefresh) - before
	b.ReportMetric(float64(refreshes)/float64(b.N), "refreshes/op")
	if refreshes != b.N {
		b.Fatalf("got %d refreshes for %d storms, want one each", refreshes, b.N)
	}
}

// canned answers every request in memory with tokenJSON, after reading the
// request body, as a server would: with no network in the way, the
// benchmark is the client's own cost.
type canned struct{}

func (canned) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	return &http.Response{
		StatusCode:    http.StatusOK,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(strings.NewReader(tokenJSON)),
		ContentLength: int64(len(tokenJSON)),
		Request:       req,
	}, nil
}

// BenchmarkLoginOverhead is BenchmarkLogin with the network taken out: each
// peer's transport answers from memory, so what is left is what the client
// itself costs per call (encoding, request, retries, decoding).
func BenchmarkLoginOverhead(b *testing.B) {
	benchLogin(b, "http://127.0.0.1:8080", func() *http.Client { return &http.Client{Transport: canned{}} })
}

// BenchmarkAccessTokenLatency has 1,000 goroutines call AccessToken at
// once, each timing its own call, and reports the 99th percentile of
// those times: "fresh" with a fresh token, "renewing" at the moment the
// token is due and its renewal is on its way (the fake's refresh delayed
// 50 ms), and "blocking" the same with WithBlockingRefresh, where callers
// wait for the renewal. One op is one round of 1,000 calls.
func BenchmarkAccessTokenLatency(b *testing.B) {
	for _, tc := range []struct {
		name     string
		due      bool
		blocking bool
	}{{"fresh", false, false}, {"renewing", true, false}, {"blocking", true, true}} {
		b.Run(tc.name, func(b *testing.B) {
			srv := userauthtest.NewServer()
			b.Cleanup(srv.Close)
			if _, err := srv.AddUser(userauthtest.User{Email: email, Password: password}); err != nil {
				b.Fatal(err)
			}
			opts := []userauth.StoreOption{userauth.WithClock(srv.Now)}
			if tc.blocking {
				opts = append(opts, userauth.WithBlockingRefresh())
			}
			s := loggedIn(b, srv, opts...)
			var lat []time.Duration
			b.ResetTimer()
			for range b.N {
				var before string
				if tc.due {
					before, _ = s.AccessToken(context.Background())
					srv.Advance(15*time.Minute - 10*time.Second) // due, not expired
					srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Delay: 50 * time.Millisecond})
				}
				lat = append(lat, storm(b, s, 1000)...)
				if tc.due {
					waitRenewed(b, s, before)
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
		})
	}
}

// loggedIn is a store logged in to srv.
func loggedIn(b *testing.B, srv *userauthtest.Server, opts ...userauth.StoreOption) *userauth.TokenStore {
	c, err := userauth.NewClient(srv.URL)
	if err != nil {
		b.Fatal(err)
	}
	s, err := userauth.NewTokenStore(c, nil, opts...)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.Login(context.Background(), userauth.LoginRequest{Email: email, Password: password}); err != nil {
		b.Fatal(err)
	}
	return s
}

// storm has n goroutines call AccessToken at the same moment, and returns
// how long each call took.
func storm(b *testing.B, s *userauth.TokenStore, n int) []time.Duration {
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			t0 := time.Now()
			if _, err := s.AccessToken(context.Background()); err != nil {
				b.Error(err)
			}
			lat[i] = time.Since(t0)
		}()
	}
	close(start)
	wg.Wait()
	return lat
}

// waitRenewed waits, outside the timed calls, until the store hands out
// another token than before.
func waitRenewed(b *testing.B, s *userauth.TokenStore, before string) {
	b.StopTimer()
	defer b.StartTimer()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if tok, err := s.AccessToken(context.Background()); err == nil && tok != before {
			return
		}
	}
	b.Fatal("the token was not renewed within 10s")
}
