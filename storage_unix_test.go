//go:build unix

package userauth

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// modesAreReal says that file modes say who can read a file, so tests
// check the modes FileStorage creates.
const modesAreReal = true

func TestFileStorageRefusesExposedFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, err := NewFileStorage(filepath.Join(t.TempDir(), "tokens.json"))
	require.NoError(t, err)
	require.NoError(t, savePair(ctx, f, &Token{AccessToken: "a", RefreshToken: "r"}))
	require.NoError(t, os.Chmod(f.Path(), 0o644))
	_, err = loadPair(ctx, f)
	assert.ErrorIs(t, err, ErrTokenFileExposed)
	assert.Contains(t, err.Error(), "0644")

	told, err := NewFileStorage(f.Path(), WithInsecureFileMode())
	require.NoError(t, err)
	tok, err := loadPair(ctx, told)
	require.NoError(t, err, "unless told to")
	assert.Equal(t, "a", tok.AccessToken)
}

// A symbolic link planted at the token path would hand Load another file,
// and let Save write wherever it points. Symbolic links need no privilege
// on Unix, so this test runs there.
func TestFileStorageDoesNotFollowSymlinks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	elsewhere, err := NewFileStorage(filepath.Join(t.TempDir(), "target.json"))
	require.NoError(t, err)
	require.NoError(t, savePair(ctx, elsewhere, &Token{AccessToken: "theirs", RefreshToken: "r"}))
	targetBefore, err := os.ReadFile(elsewhere.Path())
	require.NoError(t, err)

	f, err := NewFileStorage(filepath.Join(t.TempDir(), "tokens.json"))
	require.NoError(t, err)
	require.NoError(t, os.Symlink(elsewhere.Path(), f.Path()))
	tok, err := loadPair(ctx, f)
	if err == nil || tok != nil {
		t.Fatalf("Load through a symbolic link: got %v, %v, want no token and an error", tok, err)
	}
	checkNamesOnce(t, err, "userauth: loading tokens from "+f.Path()+": ")

	require.NoError(t, savePair(ctx, f, &Token{AccessToken: "ours", RefreshToken: "r"}))
	info, err := os.Lstat(f.Path())
	require.NoError(t, err)
	if !info.Mode().IsRegular() {
		t.Errorf("token path after Save: got mode %v, want a regular file replacing the link", info.Mode())
	}
	if got, _ := os.ReadFile(elsewhere.Path()); !bytes.Equal(got, targetBefore) {
		t.Errorf("link target after Save: got %q, want it unchanged %q", got, targetBefore)
	}
	if got, err := loadPair(ctx, f); err != nil || got == nil || got.AccessToken != "ours" {
		t.Errorf("Load after Save: got %v, %v, want the token saved", got, err)
	}

	require.NoError(t, os.Remove(f.Path()))
	require.NoError(t, os.Symlink(elsewhere.Path(), f.Path()))
	require.NoError(t, f.Clear(ctx))
	if _, err := os.Lstat(f.Path()); !os.IsNotExist(err) {
		t.Errorf("token path after Clear: got Lstat error %v, want the link removed", err)
	}
	if got, _ := os.ReadFile(elsewhere.Path()); !bytes.Equal(got, targetBefore) {
		t.Errorf("link target after Clear: got %q, want it unchanged %q", got, targetBefore)
	}
}

func TestFileStorageLockRefusesSymlink(t *testing.T) {
	t.Parallel()
	target := filepath.Join(t.TempDir(), "elsewhere.lock")
	require.NoError(t, os.WriteFile(target, nil, 0o600))
	f, err := NewFileStorage(filepath.Join(t.TempDir(), "tokens.json"))
	require.NoError(t, err)
	require.NoError(t, os.Symlink(target, f.Path()+".lock"))
	unlock, err := f.Lock(context.Background())
	if err == nil {
		unlock()
		t.Fatal("Lock through a symbolic link: got the lock, want an error")
	}
	checkNamesOnce(t, err, "userauth: locking "+f.Path()+".lock: ")
}
