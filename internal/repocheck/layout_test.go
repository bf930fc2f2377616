package repocheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// root is the top of the repository.
const root = "../.."

// The limits that keep the code readable: a reader sees a function in one
// screen and a file's purpose from its name.
const (
	maxFileLines = 500
	maxFuncLines = 60
)

// TestLayout holds every hand-written, non-test Go file of the repository
// to maxFileLines, and every function in it to maxFuncLines.
func TestLayout(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(fset, path, src, parser.ParseComments)
		if err != nil {
			return err
		}
		if ast.IsGenerated(f) {
			return nil
		}
		lines := fset.Position(f.End()).Line
		assert.LessOrEqual(t, lines, maxFileLines, "%s: got %d lines, want at most %d", path, lines, maxFileLines)
		for _, decl := range f.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok && fn.Body != nil {
				n := fset.Position(fn.End()).Line - fset.Position(fn.Pos()).Line + 1
				assert.LessOrEqual(t, n, maxFuncLines, "%s: func %s: got %d lines, want at most %d", path, fn.Name.Name, n, maxFuncLines)
			}
		}
		return nil
	})
	require.NoError(t, err)
}
