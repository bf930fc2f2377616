package userauth

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tarilabs/userauth/userauthtest"
)

// TestAnAPIKeyIsCreatedUsedListedAndDeleted: the whole life of a key,
// against the fake: created with its scopes and expiry, used through
// APIKeyClient, listed, deleted, then refused.
func TestAnAPIKeyIsCreatedUsedListedAndDeleted(t *testing.T) {
	t.Parallel()
	e := newStoreEnv(t, nil, nil)
	ctx := context.Background()
	_, err := e.store.Login(ctx, ann)
	require.NoError(t, err)
	expires := e.srv.Now().Add(24 * time.Hour).Truncate(time.Second).UTC()
	k, err := e.store.CreateAPIKey(ctx, CreateAPIKeyRequest{Name: "billing", Scopes: []Scope{ScopeUserShow}, ExpiresAt: expires})
	require.NoError(t, err)
	assert.NotEmpty(t, k.Key)
	assert.Equal(t, "billing", k.Name)
	assert.Equal(t, []Scope{ScopeUserShow}, k.Scopes)
	assert.True(t, k.ExpiresAt.Equal(expires), "expires_at %v, want %v", k.ExpiresAt, expires)

	status := func() int {
		resp, err := e.client.APIKeyClient(k.Key).Get(e.client.BaseURL().JoinPath("account").String())
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusOK, status(), "the new key works")

	keys, err := e.store.APIKeys(ctx)
	require.NoError(t, err)
	require.Len(t, keys, 1)
	assert.Equal(t, k.Key, keys[0].Key)

	gone, err := e.store.DeleteAPIKey(ctx, k.Key)
	require.NoError(t, err)
	assert.Equal(t, "billing", gone.Name)
	assert.Equal(t, http.StatusUnauthorized, status(), "a deleted key is refused")
	keys, err = e.store.APIKeys(ctx)
	require.NoError(t, err)
	assert.Empty(t, keys)
}

// TestCreateAPIKeyIsCheckedBeforeItIsSent: bad input is a
// *ValidationError and nothing reaches the server.
func TestCreateAPIKeyIsCheckedBeforeItIsSent(t *testing.T) {
	t.Parallel()
	e := newStoreEnv(t, nil, nil)
	ctx := context.Background()
	_, err := e.store.Login(ctx, ann)
	require.NoError(t, err)
	for _, req := range []CreateAPIKeyRequest{
		{},
		{Name: "x", Scopes: []Scope{""}},
		{Name: "x", ExpiresAt: time.Unix(1, 0)},
	} {
		_, err := e.store.CreateAPIKey(ctx, req)
		var ve *ValidationError
		assert.ErrorAs(t, err, &ve, "%+v", req)
	}
	_, err = e.store.DeleteAPIKey(ctx, "")
	var ve *ValidationError
	assert.ErrorAs(t, err, &ve)
	assert.Zero(t, e.srv.Calls(userauthtest.PathAPIKeys))
}

// TestCreateAPIKeyIsSentOnceButAfterA401: creating is not safe to repeat:
// a 503 is the caller's; a 401 (the server acted on nothing) renews the
// tokens and the key is created once.
func TestCreateAPIKeyIsSentOnceButAfterA401(t *testing.T) {
	t.Parallel()
	e := newStoreEnv(t, nil, nil)
	ctx := context.Background()
	_, err := e.store.Login(ctx, ann)
	require.NoError(t, err)

	e.srv.Fail(userauthtest.PathAPIKeys, 1, userauthtest.Fault{Status: 503, RetryAfter: "0"})
	_, err = e.store.CreateAPIKey(ctx, CreateAPIKeyRequest{Name: "once"})
	var se *ServerError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 1, e.srv.Calls(userauthtest.PathAPIKeys))

	e.srv.ExpireAccessTokens()
	_, err = e.store.CreateAPIKey(ctx, CreateAPIKeyRequest{Name: "after 401"})
	require.NoError(t, err)
	keys, err := e.store.APIKeys(ctx)
	require.NoError(t, err)
	assert.Len(t, keys, 1, "one key made")
}

// TestDeleteAPIKeyNeverShowsItsID: the id may be the key itself, so an
// error names the route, never the id.
func TestDeleteAPIKeyNeverShowsItsID(t *testing.T) {
	t.Parallel()
	e := newStoreEnv(t, nil, nil)
	ctx := context.Background()
	_, err := e.store.Login(ctx, ann)
	require.NoError(t, err)
	const id = "key-0123456789abcdef/with a slash"
	_, err = e.store.DeleteAPIKey(ctx, id)
	var ce *ClientError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, http.StatusNotFound, ce.StatusCode)
	for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
		assert.NotContains(t, s, "0123456789abcdef")
	}
	assert.Contains(t, err.Error(), "/api_keys/{id}")
}

// TestAnAPIKeyFormatsWithoutItsKey: %v, %+v, %#v and slog never show the
// key; unknown scopes decode as they are.
func TestAnAPIKeyFormatsWithoutItsKey(t *testing.T) {
	t.Parallel()
	var k APIKey
	require.NoError(t, json.Unmarshal([]byte(`{"api_key":"key-SECRET-0123","name":"n","scopes":["emoji::transfer","newThing"],"created_at":"2026-01-02T03:04:05Z"}`), &k))
	assert.Equal(t, []Scope{"emoji::transfer", "newThing"}, k.Scopes)
	assert.True(t, k.ExpiresAt.IsZero())
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("key", "k", k)
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%+v", k), fmt.Sprintf("%#v", k), fmt.Sprint(&k), logs.String()} {
		assert.NotContains(t, s, "SECRET")
		assert.Contains(t, s, redacted)
	}
}

// TestDeleteAPIKeyNeverShowsItsIDWhenNoAnswerCame: with no session, or a
// dropped connection, the error names the route, not the URL with the id;
// and a dot segment is no id.
func TestDeleteAPIKeyNeverShowsItsIDWhenNoAnswerCame(t *testing.T) {
	t.Parallel()
	srv, c, _ := fakeAPI(t)
	store := mustStore(t, c, nil, WithClock(srv.Now))
	const id = "key-SUPERSECRETKEYVALUE123456"
	_, err := store.DeleteAPIKey(context.Background(), id)
	assert.ErrorIs(t, err, ErrLoginRequired)
	assert.NotContains(t, err.Error(), "SUPERSECRET")
	for _, dot := range []string{".", ".."} {
		_, err := store.DeleteAPIKey(context.Background(), dot)
		var ve *ValidationError
		assert.ErrorAs(t, err, &ve, dot)
	}
}

// TestAnAPIKeyAnswerWithABadTimeNeverShowsTheKey: encoding/json's time
// error quotes the value; the SDK's does not.
func TestAnAPIKeyAnswerWithABadTimeNeverShowsTheKey(t *testing.T) {
	t.Parallel()
	var k APIKey
	err := apiKeyAnswer{&k}.decode([]byte(`{"api_key":"key-SECRET-1","name":"n","scopes":[],"created_at":"key-SECRET-1"}`), nil, nil)
	require.Error(t, err)
	assert.NotContains(t, jsonCause(err).Error(), "SECRET")
}
