package userauth

import (
	"context"
	"crypto/sha256"
	"errors"
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
	if err := s.made(); err != nil {
		return nil, err
	}
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
	return tokenOf(s.detached(ctx, func(ctx, ask context.Context) (*snapshot, error) {
		// A link is spent once: asked again (its caller gave up while the
		// exchange went on, say), the store answers with the session the
		// link made rather than present the spent token, which the server
		// would take for theft.
		sum := sha256.Sum256([]byte(rt))
		if sum == s.lastLink.sum {
			if sn := s.snap.Load(); sn.paired() == s.lastLink.paired && sn.rec.complete() != nil {
				return sn, nil
			}
			return nil, &ValidationError{Field: "link", Reason: "was used already: ask for a new one"}
		}
		sent := s.cfg.now()
		resp, err := s.client.RefreshToken(ctx, RefreshRequest{RefreshToken: rt})
		if err != nil {
			var ae *APIError
			if !errors.As(err, &ae) || ae.StatusCode/100 == 2 {
				// No refusal came back: the server may have spent the link
				// (a 2xx cut short, an answer never received). Presented
				// again, it would look like theft.
				s.lastLink = spentLink{sum: sum}
			}
			return nil, err // refused: the link may be tried again
		}
		s.lastLink = spentLink{sum: sum}
		sn, err := s.transact(ctx, ask, goal{kind: goalAdopt, resp: resp, sent: sent})
		if sn != nil {
			s.lastLink.paired = sn.paired()
		}
		return sn, err
	}))
}

// spentLink is a magic link exchanged: the digest of its refresh token, and
// the pair it made (0 until it made one).
type spentLink struct {
	sum    [sha256.Size]byte
	paired uint64
}
