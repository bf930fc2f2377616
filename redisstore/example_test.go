package redisstore_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tarilabs/userauth"
	"github.com/tarilabs/userauth/redisstore"
	"github.com/tarilabs/userauth/userauthtest"
)

// Several replicas of a service act as one user through one Redis key:
// each has its own Redis client and TokenStore, and when the token
// expires they renew it once between them, under the Redis lock.
func Example() {
	srv := userauthtest.NewServer() // the API; a real service uses userauth.DefaultBaseURL
	defer srv.Close()
	srv.AddUser(userauthtest.User{Email: "svc@example.com", Password: "correct-horse"})
	client, _ := userauth.NewClient(srv.URL)
	key := make([]byte, 32) // from a secret manager in a real service
	rand.Read(key)
	session := fmt.Sprintf("example-%d", time.Now().UnixNano())

	replica := func() *userauth.TokenStore {
		rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR")})
		storage, err := redisstore.New(rdb, session, redisstore.WithEncryptionKey(key), redisstore.WithTokenTTL(time.Hour))
		if err != nil {
			log.Fatal(err)
		}
		store, err := userauth.NewTokenStore(client, storage, userauth.WithClock(srv.Now))
		if err != nil {
			log.Fatal(err)
		}
		return store
	}
	ctx := context.Background()
	a, b := replica(), replica()
	if _, err := a.Login(ctx, userauth.LoginRequest{Email: "svc@example.com", Password: "correct-horse"}); err != nil {
		log.Fatal(err)
	}
	srv.Advance(16 * time.Minute) // the access token expires for both
	ta, _ := a.AccessToken(ctx)
	tb, _ := b.AccessToken(ctx)
	fmt.Println("same token:", ta == tb, "refreshes:", srv.Calls(userauthtest.PathRefresh))
	_ = a.Logout(ctx)
	// Output: same token: true refreshes: 1
}

// New names the Redis key of the session; WithEncryptionKey keeps the
// tokens sealed in it.
func ExampleNew() {
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR")})
	defer rdb.Close()
	key := make([]byte, 32)
	rand.Read(key)
	storage, err := redisstore.New(rdb, "billing-service",
		redisstore.WithEncryptionKey(key),
		redisstore.WithTokenTTL(30*24*time.Hour), // drop an abandoned session
		redisstore.WithLockWait(10*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	_ = storage.Clear(ctx) // a clean start, for the example
	// A TokenStore over the storage writes the session's records; here,
	// one by hand.
	rec := &userauth.Record{Generation: 1, Paired: 1, Phase: userauth.PhaseActive,
		Token: &userauth.Token{AccessToken: "at", RefreshToken: "rt"}}
	if err := storage.Save(ctx, rec); err != nil {
		log.Fatal(err)
	}
	raw, _ := rdb.Get(ctx, storage.Key()).Result()
	got, _ := storage.Load(ctx)
	fmt.Println(storage.Key(), "sealed:", !strings.Contains(raw, `"at"`), "loaded:", got.Token.AccessToken, "generation:", got.Generation)
	_ = storage.Clear(ctx)
	// Output: userauth:billing-service sealed: true loaded: at generation: 1
}

// When Redis cannot be reached, the storage's errors match
// userauth.ErrStorageUnavailable, and a TokenStore carries on with the
// token it holds (or fails, with userauth.WithFailClosed).
func ExampleUnavailableError() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer rdb.Close()
	storage, _ := redisstore.New(rdb, "example")
	_, err := storage.Load(context.Background())
	var ue *redisstore.UnavailableError
	fmt.Println(errors.Is(err, userauth.ErrStorageUnavailable), errors.As(err, &ue), ue.Op)
	// Output: true true load
}
