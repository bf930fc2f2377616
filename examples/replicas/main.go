// Replicas runs several replicas of a service that act as the same user,
// each with its own TokenStore, sharing one session through Redis (when
// REDIS_ADDR is set) or through a token file. At every expiry of the access
// token they all ask at once, and the shared lock makes one of them
// refresh while the others adopt its result.
//
//	REDIS_ADDR=127.0.0.1:6379 go run ./examples/replicas
//
// It is a module of its own, like redisstore, so that the SDK's module
// never depends on a Redis client.
package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tarilabs/userauth"
	"github.com/tarilabs/userauth/redisstore"
	"github.com/tarilabs/userauth/userauthtest"
)

const (
	replicas = 6
	rounds   = 3
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "replicas:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := userauthtest.NewServer()
	defer srv.Close()
	if _, err := srv.AddUser(userauthtest.User{Email: "ann@example.com", Password: "correct-horse"}); err != nil {
		return err
	}
	fmt.Println("replicas: fake API at", srv.URL)

	newStorage, cleanup, err := sharedStorage()
	if err != nil {
		return err
	}
	defer cleanup()

	client, err := userauth.NewClient(srv.URL)
	if err != nil {
		return err
	}
	stores := make([]*userauth.TokenStore, replicas)
	for i := range stores {
		storage, closeFn, err := newStorage()
		if err != nil {
			return err
		}
		defer closeFn()
		if stores[i], err = userauth.NewTokenStore(client, storage, userauth.WithClock(srv.Now)); err != nil {
			return err
		}
		// On the way out (deferred calls run last first), each replica
		// lets a renewal under way save its pair before its storage closes.
		defer stores[i].Shutdown(context.Background())
	}
	if _, err := stores[0].Login(ctx, userauth.LoginRequest{Email: "ann@example.com", Password: "correct-horse"}); err != nil {
		return err
	}
	fmt.Printf("replicas: replica 1 logged in; %d replicas share the session\n", replicas)

	for round := 1; round <= rounds; round++ {
		srv.Advance(16 * time.Minute) // the access token expires for everyone
		if err := askAtOnce(ctx, stores); err != nil {
			return err
		}
		fmt.Printf("replicas: round %d: token expired, all %d replicas asked at once, refreshes so far %d\n",
			round, replicas, srv.Calls(userauthtest.PathRefresh))
	}
	fmt.Printf("replicas: %d refreshes for %d expiries, %d refresh tokens reused\n",
		srv.Calls(userauthtest.PathRefresh), rounds, srv.ReuseDetected())
	if srv.Calls(userauthtest.PathRefresh) != rounds || srv.ReuseDetected() != 0 {
		return fmt.Errorf("want one refresh per expiry and no reuse")
	}
	return nil
}

// sharedStorage returns how each replica opens the place the session is
// shared in, each with a connection of its own: Redis at REDIS_ADDR, or a
// token file.
func sharedStorage() (newStorage func() (userauth.TokenStorage, func(), error), cleanup func(), err error) {
	if addr := os.Getenv("REDIS_ADDR"); addr != "" {
		key := make([]byte, 32) // tokens in a shared cache are secrets: encrypt them
		if _, err := rand.Read(key); err != nil {
			return nil, nil, err
		}
		session := fmt.Sprintf("replicas-example-%d", time.Now().UnixNano())
		fmt.Println("replicas: sharing the session through Redis at", addr)
		return func() (userauth.TokenStorage, func(), error) {
			rdb := redis.NewClient(&redis.Options{Addr: addr})
			s, err := redisstore.New(rdb, session, redisstore.WithEncryptionKey(key), redisstore.WithTokenTTL(time.Hour))
			if err != nil {
				rdb.Close()
				return nil, nil, err
			}
			return s, func() { s.Clear(context.Background()); rdb.Close() }, nil
		}, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "userauth-replicas")
	if err != nil {
		return nil, nil, err
	}
	path := filepath.Join(dir, "tokens.json")
	fmt.Println("replicas: REDIS_ADDR not set; sharing the session through a token file")
	return func() (userauth.TokenStorage, func(), error) {
		s, err := userauth.NewFileStorage(path)
		return s, func() {}, err
	}, func() { os.RemoveAll(dir) }, nil
}

// askAtOnce has every replica ask for a token at the same moment, and
// checks they all end with the same one.
func askAtOnce(ctx context.Context, stores []*userauth.TokenStore) error {
	tokens := make([]string, len(stores))
	errs := make([]error, len(stores))
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tokens[i], errs[i] = s.AccessToken(ctx)
		}()
	}
	wg.Wait()
	for i := range stores {
		if errs[i] != nil {
			return fmt.Errorf("replica %d: %w", i+1, errs[i])
		}
		if tokens[i] != tokens[0] {
			return fmt.Errorf("replica %d holds another token", i+1)
		}
	}
	return nil
}
