package userauth

import (
	"context"
	"net/url"
)

// CompleteMagicLink makes the login a magic link stands for the store's
// session. The API's magic links carry a refresh token (the link the user
// got by e-mail after MagicLinkLogin, ...?refresh_token=...); it is
// exchanged at POST /auth/token/refresh for a pair, which the store then
// holds as after Login: saved, a pending 2FA step completed by the store's
// TwoFactorHandler if it has one. The exchange spends the link: like a
// renewal, it runs on a context of its own, so a caller that gives up
// while the answer is on its way does not lose the session.
//
// The link is a secret: an error never shows it. A link without a refresh
// token is a *ValidationError; one already used or expired, the API's
// refusal (a *ClientError, status 401), and the store's session, if it
// had one, is left as it was.
func (s *TokenStore) CompleteMagicLink(ctx context.Context, link string) (*Token, error) {
	if ctx == nil {
		return nil, errNilContext
	}
	u, err := url.Parse(link)
	if err != nil {
		return nil, &ValidationError{Field: "link", Reason: "is not a URL"} // url's error quotes the link
	}
	rt := u.Query().Get("refresh_token")
	if rt == "" {
		return nil, &ValidationError{Field: "link", Reason: "holds no refresh_token: not a magic link of this API"}
	}
	return s.detached(ctx, func(ctx, ask context.Context) (*Token, bool, error) {
		sent := s.now()
		resp, err := s.client.RefreshToken(ctx, RefreshRequest{RefreshToken: rt})
		if err != nil {
			return nil, false, err
		}
		return s.adoptLocked(ctx, ask, s.tokenFromAnswer(resp, sent))
	})
}
