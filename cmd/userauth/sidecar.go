package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"

	"github.com/tarilabs/userauth"
)

// apiFileSuffix names the file, beside the token file, in which versions
// before session records kept the API that issued the tokens. It is read
// for a token file of theirs, and removed by the first save.
const apiFileSuffix = ".api"

// apiRecord is the content of the API file: {"base_url": "https://a.y.at"}.
type apiRecord struct {
	BaseURL string `json:"base_url"`
}

// apiStorage is the CLI's userauth.FileStorage. A session's record names
// its API, which the CLI checks before it makes a store (see session.api):
// a store made for api reads the session as api's, so that --force sends
// the tokens there, and an older file without an API is read. It remembers
// what the file held before this process's first write, for putBack.
// Loading and locking are FileStorage's, so it is a userauth.Locker.
type apiStorage struct {
	*userauth.FileStorage
	api string // the normalised URL of the API the store talks to

	// What this process wrote, for putBack. Save runs under the file's
	// lock, from the store's goroutines; mu guards the fields.
	mu       sync.Mutex
	recorded bool
	replaced *userauth.Record // what the first write replaced
	wrote    *userauth.Record // the last record this process wrote
}

// apiPath is the path of the API file of the token file at tokenPath.
func apiPath(tokenPath string) string { return tokenPath + apiFileSuffix }

// Load reads the record, as api's when it holds a pair (see apiStorage).
func (s *apiStorage) Load(ctx context.Context) (*userauth.Record, error) {
	rec, err := s.FileStorage.Load(ctx)
	if err == nil && rec != nil && rec.Token != nil && s.api != "" {
		rec.API = s.api
	}
	return rec, err
}

// Save saves the record, then removes an older version's API file: the
// record names its API.
func (s *apiStorage) Save(ctx context.Context, r *userauth.Record) error {
	s.remember(ctx)
	if err := s.FileStorage.Save(ctx, r); err != nil {
		return err
	}
	s.mu.Lock()
	s.wrote = r
	s.mu.Unlock()
	return removeAPIFile(s.Path())
}

// remember notes, before the first write of this process, what the file
// holds: the session a failed login puts back.
func (s *apiStorage) remember(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.recorded {
		return
	}
	s.recorded = true
	s.replaced, _ = s.FileStorage.Load(ctx) // as it is, its API too; unreadable: nothing to put back
}

// putBack undoes the writes of a login that failed at its 2FA step: when
// the file still holds what this process left there (its pending step, or
// the session ended by a refused step), it puts back the session the first
// write replaced, or removes the file when there was none. Anything else
// was written by another process since (a renewal, a logout, a completed
// step), and stays.
func (s *apiStorage) putBack(ctx context.Context) error {
	unlock, err := s.Lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	s.mu.Lock()
	replaced, wrote := s.replaced, s.wrote
	s.mu.Unlock()
	cur, err := s.FileStorage.Load(ctx)
	switch {
	case err != nil || wrote == nil || cur == nil || cur.Generation != wrote.Generation:
		return err // unreadable, never written, or another process's since
	case cur.Phase != userauth.PhasePending2FA && cur.Phase != userauth.PhaseEnded:
		return nil // the step completed after all
	case replaced == nil || replaced.Token == nil:
		return s.FileStorage.Clear(ctx)
	}
	back := *replaced
	back.Generation = cur.Generation + 1
	return s.FileStorage.Save(ctx, &back)
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
