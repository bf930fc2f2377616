//go:build !unix

package userauth

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// modesAreReal says that file modes are synthesised here (on Windows from
// the read-only attribute), so tests do not check them.
const modesAreReal = false

// On Windows every writable file looks 0666: a mode check would refuse
// every token file, so Load makes none.
func TestFileStorageLoadsDespiteSynthesisedModes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, err := NewFileStorage(filepath.Join(t.TempDir(), "tokens.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := savePair(ctx, f, &Token{AccessToken: "a", RefreshToken: "r"}); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(f.Path())
	if err != nil {
		t.Fatal(err)
	}
	tok, err := loadPair(ctx, f)
	if errors.Is(err, ErrTokenFileExposed) {
		t.Fatalf("Load of a file whose synthesised mode is %v: got %v, want the token", info.Mode(), err)
	}
	if err != nil || tok == nil || tok.AccessToken != "a" {
		t.Fatalf("got %v, %v, want the saved token", tok, err)
	}
}
