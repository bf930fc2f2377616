package userauth_test

import (
	"context"

	"github.com/tarilabs/userauth"
)

// loadPair is the pair storage holds; nil when it holds none (empty,
// ended, logged out).
func loadPair(ctx context.Context, storage userauth.TokenStorage) (*userauth.Token, error) {
	rec, err := storage.Load(ctx)
	if err != nil || rec == nil || rec.Phase == userauth.PhaseEnded || rec.Phase == userauth.PhaseLoggedOut {
		return nil, err
	}
	return rec.Token, nil
}
