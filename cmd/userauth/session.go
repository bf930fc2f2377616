package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tarilabs/userauth"
)

// sessionFlags are the flags of the commands that use the saved session.
type sessionFlags struct {
	tokenFile string
	force     bool
}

// addSessionFlags adds --token-file to fs, and --force when the command
// sends the session's tokens somewhere; forceHelp says what it does there.
func addSessionFlags(fs *flagSet, forceHelp string) *sessionFlags {
	s := &sessionFlags{}
	fs.StringVar(&s.tokenFile, "token-file", "", "the `file` that keeps the tokens (default: userauth/tokens.json in the user's config directory)")
	if forceHelp != "" {
		fs.BoolVar(&s.force, "force", false, forceHelp)
	}
	return s
}

// session is the saved session: the token file, what it holds and the API
// recorded beside it.
type session struct {
	path    string
	storage *userauth.FileStorage
	tok     *userauth.Token // nil when there is no session
	saved   string          // the recorded API, "" when none is
	force   bool
	files   *apiStorage // the storage of the last store made, nil before
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
	rec, err := storage.Load(ctx)
	if errors.Is(err, userauth.ErrCorruptTokenFile) {
		return nil, damagedFileError{path: storage.Path(), err: err}
	}
	if err != nil {
		return nil, err
	}
	sess := &session{path: storage.Path(), storage: storage, force: f.force}
	if rec != nil && rec.Token != nil {
		sess.tok = rec.Token
		if rec.API != "" {
			if sess.saved, err = normalizeURL(rec.API); err != nil {
				return nil, damagedFileError{path: storage.Path(), err: fmt.Errorf("its API: %w", err)}
			}
		}
	}
	if sess.tok != nil && sess.saved == "" { // written by a version before records
		if sess.saved, err = readAPIFile(apiPath(storage.Path())); err != nil {
			return nil, err
		}
	}
	return sess, nil
}

// damagedFileError is a token file that holds no readable session (torn
// by a crash, truncated, edited by hand). It says both ways out.
type damagedFileError struct {
	path string
	err  error
}

func (d damagedFileError) Error() string {
	return fmt.Sprintf("the token file %s is damaged (%s): userauth login replaces it (keeping the damaged file as %s), "+
		"userauth logout --local removes it", d.path, withoutPrefix(d.err), d.path+backupSuffix)
}

func (d damagedFileError) Unwrap() error { return d.err }

// backupSuffix names the copy of a damaged token file that login keeps.
const backupSuffix = ".bak"

// setAside moves a damaged token file to its backup, replacing an older
// backup, so that a login can start anew; it says so on stderr.
func (d damagedFileError) setAside(e *env) error {
	if err := os.Rename(d.path, d.path+backupSuffix); err != nil {
		return fmt.Errorf("setting the damaged token file aside: %w", err)
	}
	fmt.Fprintf(e.stderr, "the token file %s was damaged: kept it as %s, and logging in anew\n", d.path, d.path+backupSuffix)
	return nil
}

// apiMismatchError is a flag or variable naming another API than the one
// whose tokens the token file holds.
type apiMismatchError struct {
	path, saved, named, source, hint string
}

// Error names both APIs and the way out.
func (m apiMismatchError) Error() string {
	return fmt.Sprintf("the session in %s is for %s, but %s names %s: %s", m.path, m.saved, m.source, m.named, m.hint)
}

// errNoRecordedAPI is a token file with tokens but no record of their API.
var errNoRecordedAPI = errors.New("the token file does not say which API its tokens are for (an older userauth wrote it): " +
	"name the API with --base-url, --sandbox or " + envBaseURL + ", or log in again")

// api resolves the API a command that uses the session talks to:
// --base-url, --sandbox or USERAUTH_BASE_URL, else the session's API,
// else production. A named API other than the session's is refused
// without --force; hint says what --force would do. Tokens of unknown API
// are never sent to one the user did not name.
func (s *session) api(e *env, a *apiFlags, hint string) (string, error) {
	named, source, err := a.explicit(e)
	switch {
	case err != nil:
		return "", err
	case named != "" && s.tok != nil && s.saved != "" && named != s.saved && !s.force:
		return "", apiMismatchError{path: s.path, saved: s.saved, named: named, source: source, hint: hint}
	case named != "":
		return named, nil
	case s.tok != nil && s.saved != "":
		return s.saved, nil
	case s.tok != nil:
		return "", errNoRecordedAPI
	}
	return productionURL, nil
}

// storeFor resolves the API of a command that sends the session's tokens
// (see api; hint says what --force would do there), and returns the remote
// and a token store over the session for it.
func (s *session) storeFor(e *env, a *apiFlags, hint string) (*remote, *userauth.TokenStore, error) {
	api, err := s.api(e, a, hint)
	if err != nil {
		return nil, nil, err
	}
	r, err := a.remote(e, api)
	if err != nil {
		return nil, nil, err
	}
	store, err := s.store(r)
	if err != nil {
		return nil, nil, err
	}
	e.stores = append(e.stores, store)
	return r, store, nil
}

// store returns a token store over the session for r's API, without a
// 2FA handler: a pending step is the caller's to complete. Every save
// records r's API beside the tokens.
func (s *session) store(r *remote) (*userauth.TokenStore, error) {
	c, err := r.client()
	if err != nil {
		return nil, err
	}
	s.files = &apiStorage{FileStorage: s.storage, api: r.url}
	return userauth.NewTokenStore(c, s.files, userauth.WithRefreshTimeout(r.timeout))
}
