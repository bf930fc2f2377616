//go:build unix

package userauth

import (
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
	ctx := context.Background()
	f, err := NewFileStorage(filepath.Join(t.TempDir(), "tokens.json"))
	require.NoError(t, err)
	require.NoError(t, f.Save(ctx, &Token{AccessToken: "a", RefreshToken: "r"}))
	require.NoError(t, os.Chmod(f.Path(), 0o644))
	_, err = f.Load(ctx)
	assert.ErrorIs(t, err, ErrTokenFileExposed)
	assert.Contains(t, err.Error(), "0644")

	told, err := NewFileStorage(f.Path(), WithInsecureFileMode())
	require.NoError(t, err)
	tok, err := told.Load(ctx)
	require.NoError(t, err, "unless told to")
	assert.Equal(t, "a", tok.AccessToken)
}
