package userauth

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tarilabs/userauth/userauthtest"
)

// lastMagicLink asks the fake for a magic link for req and returns it.
func lastMagicLink(t *testing.T, srv *userauthtest.Server, c *Client, email string) string {
	t.Helper()
	_, err := c.MagicLinkLogin(context.Background(), MagicLinkLoginRequest{Email: email})
	require.NoError(t, err)
	out := srv.Outbox()
	require.NotEmpty(t, out)
	return out[len(out)-1].Text
}

// TestAMagicLinkBecomesASession: the link the user got by e-mail, given to
// CompleteMagicLink, is a session, 2FA included when the store has a
// handler.
func TestAMagicLinkBecomesASession(t *testing.T) {
	t.Parallel()
	srv, c, secret := fakeAPI(t)
	ctx := context.Background()
	h, err := TOTPHandler(secret)
	require.NoError(t, err)
	for _, who := range []LoginRequest{ann, tom} {
		store := mustStore(t, c, nil, WithClock(srv.Now), WithTwoFactorHandler(h))
		tok, err := store.CompleteMagicLink(ctx, lastMagicLink(t, srv, c, who.Email))
		require.NoError(t, err, who.Email)
		assert.Empty(t, tok.Requires2FA, who.Email)
		acc, err := store.Account(ctx)
		require.NoError(t, err)
		assert.Equal(t, who.Email, acc.User.Email)
	}
}

// TestAMagicLinkWorksOnce: a link used again is refused, and the error does
// not show the link or its token; a link without a token is refused before
// anything is sent.
func TestAMagicLinkWorksOnce(t *testing.T) {
	t.Parallel()
	srv, c, _ := fakeAPI(t)
	ctx := context.Background()
	link := lastMagicLink(t, srv, c, ann.Email)
	u, err := url.Parse(link)
	require.NoError(t, err)
	rt := u.Query().Get("refresh_token")

	first := mustStore(t, c, nil, WithClock(srv.Now))
	_, err = first.CompleteMagicLink(ctx, link)
	require.NoError(t, err)
	second := mustStore(t, c, nil, WithClock(srv.Now))
	_, err = second.CompleteMagicLink(ctx, link)
	var ce *ClientError
	require.ErrorAs(t, err, &ce)
	for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
		assert.NotContains(t, s, rt)
	}

	calls := srv.Calls(userauthtest.PathRefresh)
	for _, bad := range []string{"", "https://a.y.at/magic_link?token=x", "::not a url %zz", srv.URL + "/magic_link"} {
		_, err := second.CompleteMagicLink(ctx, bad)
		var ve *ValidationError
		require.ErrorAs(t, err, &ve, "%q", bad)
		if bad != "" {
			assert.NotContains(t, err.Error(), bad)
		}
	}
	assert.Equal(t, calls, srv.Calls(userauthtest.PathRefresh), "nothing sent")
}

// TestAMagicLinkAskedAgainAfterGivingUpKeepsTheSession: the caller gives up
// while the exchange goes on; asked again, the store answers with the
// session the link made, never presenting the spent token.
func TestAMagicLinkAskedAgainAfterGivingUpKeepsTheSession(t *testing.T) {
	t.Parallel()
	srv, c, _ := fakeAPI(t)
	store := mustStore(t, c, nil, WithClock(srv.Now))
	link := lastMagicLink(t, srv, c, ann.Email)
	srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Hold: 300 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, err := store.CompleteMagicLink(ctx, link)
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	tok, err := store.CompleteMagicLink(context.Background(), link)
	require.NoError(t, err)
	assert.True(t, tok.Valid())
	assert.Zero(t, srv.ReuseDetected())
	acc, err := store.Account(context.Background())
	require.NoError(t, err)
	assert.Equal(t, ann.Email, acc.User.Email)
}
