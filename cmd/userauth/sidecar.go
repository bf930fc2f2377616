package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/tarilabs/userauth"
)

// apiFileSuffix names the file, beside the token file, that records which
// API issued the tokens.
const apiFileSuffix = ".api"

// apiRecord is the content of the API file: {"base_url": "https://a.y.at"}.
type apiRecord struct {
	BaseURL string `json:"base_url"`
}

// apiStorage is a userauth.FileStorage that keeps, with every save of the
// tokens, the API they belong to in the file <token file>.api. Loading and
// locking are FileStorage's own, so it is a userauth.Locker as FileStorage
// is; the TokenStore holds that lock across Save and Clear, so other
// userauth processes see the two files change together.
type apiStorage struct {
	*userauth.FileStorage
	api string // the normalised URL of the API the tokens come from

	// What this process wrote, for putBack. Save and Clear run under the
	// file's lock, from the store's goroutines; mu guards the fields.
	mu          sync.Mutex
	recorded    bool
	replaced    *userauth.Token // what the first write replaced
	replacedAPI string          // and its API, "" when none was recorded
	wrote       *userauth.Token // what the file holds after the last write, nil after a Clear
}

// apiPath is the path of the API file of the token file at tokenPath.
func apiPath(tokenPath string) string { return tokenPath + apiFileSuffix }

// Save records the API, then saves the tokens. Were the program to stop
// between the two, the old tokens would stay with the new API's name; a
// save of a session's tokens never changes its API but after --force.
func (s *apiStorage) Save(ctx context.Context, t *userauth.Token) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.record(ctx)
	if err := writeAPIFile(apiPath(s.Path()), s.api); err != nil {
		return err
	}
	if err := s.FileStorage.Save(ctx, t); err != nil {
		return err
	}
	s.mu.Lock()
	s.wrote = t
	s.mu.Unlock()
	return nil
}

// Clear removes the tokens, then the API file.
func (s *apiStorage) Clear(ctx context.Context) error {
	s.record(ctx)
	if err := s.FileStorage.Clear(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	s.wrote = nil
	s.mu.Unlock()
	return removeAPIFile(s.Path())
}

// record notes, before the first write of this process, what the file
// holds: the session a failed login puts back.
func (s *apiStorage) record(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.recorded {
		return
	}
	s.recorded = true
	s.replaced, _ = s.FileStorage.Load(ctx) // unreadable: nothing to put back
	s.replacedAPI, _ = readAPIFile(apiPath(s.Path()))
}

// putBack undoes the writes of a login that failed at its 2FA step: when
// the file still holds what this process left there (its pending step,
// or nothing after a refused step), it puts back the session the first
// write replaced, or leaves the file empty when there was none. Anything
// else was written by another process since (a renewal, a logout, a
// completed step), and stays.
func (s *apiStorage) putBack(ctx context.Context) error {
	unlock, err := s.Lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	s.mu.Lock()
	recorded, replaced, api, wrote := s.recorded, s.replaced, s.replacedAPI, s.wrote
	s.mu.Unlock()
	cur, err := s.FileStorage.Load(ctx)
	if err != nil || !recorded {
		return err // unreadable, or never written
	}
	cleared := wrote == nil && cur == nil // by a refused step
	pending := wrote != nil && cur != nil && cur.RefreshToken == wrote.RefreshToken && cur.Requires2FA != ""
	if !cleared && !pending {
		return nil // another process's, or the step completed after all
	}
	if replaced == nil {
		return s.Clear(ctx)
	}
	if api == "" { // an older file: no API recorded
		if err := removeAPIFile(s.Path()); err != nil {
			return err
		}
	} else if err := writeAPIFile(apiPath(s.Path()), api); err != nil {
		return err
	}
	return s.FileStorage.Save(ctx, replaced)
}

// removeAPIFile removes the API file of the token file at tokenPath.
func removeAPIFile(tokenPath string) error {
	if err := os.Remove(apiPath(tokenPath)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("userauth: removing %s: %w", apiPath(tokenPath), err)
	}
	return nil
}

// readAPIFile returns the API recorded at path, "" when there is no file.
func readAPIFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	var rec apiRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	api, err := normalizeURL(rec.BaseURL)
	if err != nil {
		return "", fmt.Errorf("reading %s: base_url: %w", path, err)
	}
	return api, nil
}

// writeAPIFile records api at path atomically, readable by its owner
// only: a temporary file in the same directory, synced, renamed over the
// old one.
func writeAPIFile(path, api string) (err error) {
	data, err := json.Marshal(apiRecord{BaseURL: api})
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp") // mode 0600
	if err != nil {
		return fmt.Errorf("userauth: saving %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
			err = fmt.Errorf("userauth: saving %s: %w", path, err)
		}
	}()
	_, err = tmp.Write(append(data, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	return err
}
