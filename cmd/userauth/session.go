package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tarilabs/userauth"
)

// sessionFlags are the flags of the commands that use the saved session.
type sessionFlags struct {
	tokenFile string
}

// addSessionFlags adds --token-file to fs.
func addSessionFlags(fs *flagSet) *sessionFlags {
	s := &sessionFlags{}
	fs.StringVar(&s.tokenFile, "token-file", "", "the `file` that keeps the tokens (default: userauth/tokens.json in the user's config directory)")
	return s
}

// session is the saved session: the token file and what it holds.
type session struct {
	path    string
	storage *userauth.FileStorage
	tok     *userauth.Token // nil when there is no session
}

// openSession reads the session kept in the token file.
func openSession(ctx context.Context, f *sessionFlags) (*session, error) {
	path := f.tokenFile
	if path == "" {
		dir, err := os.UserConfigDir()
		if err != nil {
			return nil, fmt.Errorf("no --token-file, and no config directory: %w", err)
		}
		path = filepath.Join(dir, "userauth", "tokens.json")
	}
	storage, err := userauth.NewFileStorage(path)
	if err != nil {
		return nil, err
	}
	tok, err := storage.Load(ctx)
	if err != nil {
		return nil, err
	}
	return &session{path: storage.Path(), storage: storage, tok: tok}, nil
}

// api resolves the API a command that uses the session talks to:
// --base-url, --sandbox or USERAUTH_BASE_URL, else production.
func (s *session) api(e *env, a *apiFlags) (string, error) {
	named, _, err := a.explicit(e)
	switch {
	case err != nil:
		return "", err
	case named != "":
		return named, nil
	}
	return productionURL, nil
}

// store returns a token store over the session for r's API, without a
// 2FA handler: a pending step is the caller's to complete.
func (s *session) store(r *remote) (*userauth.TokenStore, error) {
	c, err := r.client()
	if err != nil {
		return nil, err
	}
	return userauth.NewTokenStore(c, s.storage)
}
