package userauth_test

// Shutdown: a service on its way out waits for the renewal under way, so
// that the rotated pair is saved before the process exits, and starts no
// new one.

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tarilabs/userauth"
	"github.com/tarilabs/userauth/userauthtest"
)

// gateRefresh holds every refresh request until open is closed, and tells
// arrived when one is held.
type gateRefresh struct {
	base    http.RoundTripper
	arrived chan struct{}
	open    chan struct{}
}

func (g gateRefresh) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Path, userauthtest.PathRefresh) {
		g.arrived <- struct{}{}
		<-g.open
	}
	return g.base.RoundTrip(req)
}

func TestShutdownWaitsForTheRenewalToSaveItsPair(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	gate := gateRefresh{base: e.srv.Client().Transport, arrived: make(chan struct{}, 1), open: make(chan struct{})}
	c, err := userauth.NewClient(e.srv.URL, userauth.WithHTTPClient(&http.Client{Transport: gate}))
	require.NoError(t, err)
	storage := userauth.NewMemoryStorage()
	s, err := userauth.NewTokenStore(c, storage, userauth.WithClock(e.srv.Now))
	require.NoError(t, err)
	ctx := context.Background()
	first, err := s.Login(ctx, atkAnn)
	require.NoError(t, err)

	// A caller starts a renewal and gives up on it, as a command does on
	// SIGTERM; the renewal goes on.
	callerCtx, cancel := context.WithCancel(ctx)
	refreshed := make(chan error, 1)
	go func() { _, err := s.Refresh(callerCtx); refreshed <- err }()
	<-gate.arrived
	cancel()
	assert.ErrorIs(t, <-refreshed, context.Canceled)

	// Shutdown waits for it, as long as its context allows.
	short, stop := context.WithTimeout(ctx, 20*time.Millisecond)
	defer stop()
	assert.ErrorIs(t, s.Shutdown(short), context.DeadlineExceeded)

	done := make(chan error, 1)
	go func() { done <- s.Shutdown(ctx) }()
	close(gate.open)
	require.NoError(t, <-done)

	saved, err := loadPair(ctx, storage)
	require.NoError(t, err)
	require.NotNil(t, saved)
	assert.NotEqual(t, first.RefreshToken, saved.RefreshToken, "the rotated pair is saved before Shutdown returns")
	assert.Zero(t, e.srv.ReuseDetected())
}

func TestShutdownRefusesNewWorkButServesAFreshToken(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	s := e.annStore(t, nil)
	ctx := context.Background()
	before, err := s.AccessToken(ctx)
	require.NoError(t, err)
	require.NoError(t, s.Shutdown(ctx))
	require.NoError(t, s.Shutdown(ctx), "a second Shutdown returns at once")

	got, err := s.AccessToken(ctx)
	require.NoError(t, err)
	assert.Equal(t, before, got, "a fresh token is still handed out")

	calls := e.srv.AllCalls()
	_, err = s.Refresh(ctx)
	assert.ErrorIs(t, err, userauth.ErrStoreShutDown)
	_, err = s.Login(ctx, atkAnn)
	assert.ErrorIs(t, err, userauth.ErrStoreShutDown)
	assert.ErrorIs(t, s.Logout(ctx), userauth.ErrStoreShutDown)
	e.srv.Advance(time.Hour) // expired: a renewal would be needed
	_, err = s.AccessToken(ctx)
	assert.ErrorIs(t, err, userauth.ErrStoreShutDown)
	assert.Equal(t, calls, e.srv.AllCalls(), "nothing reached the API after Shutdown")
}
