package userauth_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tarilabs/userauth"
	"github.com/tarilabs/userauth/userauthtest"
)

// TestMagicLinkTriedAgainAfterAFailedExchange: the exchange of a link
// fails without the server acting on it (500): the link can be completed
// again, and a second call never answers with the session another login
// made.
func TestMagicLinkTriedAgainAfterAFailedExchange(t *testing.T) {
	t.Parallel()
	e := newAtkEnv(t)
	ctx := context.Background()
	s := e.annStore(t, nil)
	annTok, err := s.AccessToken(ctx)
	require.NoError(t, err)
	_, err = e.client.MagicLinkLogin(ctx, userauth.MagicLinkLoginRequest{Email: atkTom.Email})
	require.NoError(t, err)
	out := e.srv.Outbox()
	link := out[len(out)-1].Text
	e.srv.Fail(userauthtest.PathRefresh, 1, userauthtest.Fault{Status: http.StatusInternalServerError})
	_, err = s.CompleteMagicLink(ctx, link)
	require.Error(t, err)
	tok, err := s.CompleteMagicLink(ctx, link)
	var tfa *userauth.TwoFactorRequiredError
	require.True(t, err == nil || errors.As(err, &tfa), "the link, never acted on, is completed the second time: %v", err)
	if tok != nil {
		assert.NotEqual(t, annTok, tok.AccessToken, "answered with ann's session for tom's link")
	}
	assert.Equal(t, 2, e.srv.Calls(userauthtest.PathRefresh))
}
