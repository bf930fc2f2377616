package userauth

import (
	"context"
	"net/http"
	"testing"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// unsendableAccessTokens are access tokens no Authorization header can
// carry: presented, each would fail in the transport before the server saw
// the request, so no 401 would ever come to renew it.
var unsendableAccessTokens = map[string]string{
	"CR LF":     "eyJ.a\r\nX-Injected: 1",
	"LF":        "eyJ.a\nb",
	"NUL":       "eyJ.a\x00b",
	"tab":       "eyJ.a\tb",
	"DEL":       "eyJ.a\x7fb",
	"escape":    "eyJ.a\x1b[31m",
	"only a CR": "\r",
}

func TestAnUnsendableAccessTokenFromTheServerIsADecodeError(t *testing.T) {
	t.Parallel()
	for name, access := range unsendableAccessTokens {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, mt := newMock(t)
			mt.RegisterResponder(http.MethodPost, testBase+"/auth/token/refresh",
				httpmock.NewJsonResponderOrPanic(200, map[string]string{"access_token": access, "refresh_token": "r2"}))
			got, err := c.RefreshToken(context.Background(), RefreshRequest{RefreshToken: "rt"})
			assert.Nil(t, got)
			var de *DecodeError
			require.ErrorAs(t, err, &de)
			assert.ErrorIs(t, err, ErrUnsendableToken)
			assert.NotContains(t, err.Error(), access, "the token is a secret")
		})
	}
}

func TestAnUnsendableAccessTokenIsRefusedBySetToken(t *testing.T) {
	t.Parallel()
	for name, access := range unsendableAccessTokens {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, _ := newMock(t)
			storage := NewMemoryStorage()
			s, err := NewTokenStore(c, storage)
			require.NoError(t, err)
			got, err := s.SetToken(context.Background(), &TokenResponse{AccessToken: access, RefreshToken: "r"})
			assert.Nil(t, got)
			var ve *ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, "access_token", ve.Field)
			assert.ErrorIs(t, err, ErrUnsendableToken)
			assert.NotContains(t, err.Error(), access)
			kept, err := storage.Load(context.Background())
			require.NoError(t, err)
			assert.Nil(t, kept, "nothing was saved")
		})
	}
}

func TestEverySendableAccessTokenIsAccepted(t *testing.T) {
	t.Parallel()
	for _, access := range []string{"a", "eyJhbGciOiJIUzI1NiJ9.e30.x-_~+/=", "opaque token with spaces", "ünïcode"} {
		assert.True(t, validHeaderValue(access), "%q", access)
	}
}
