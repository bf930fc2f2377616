package repocheck

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReliabilityNamesRealTests keeps RELIABILITY.md honest: every test it
// cites exists.
func TestReliabilityNamesRealTests(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join(root, "RELIABILITY.md"))
	require.NoError(t, err)
	var sources strings.Builder
	for _, pattern := range []string{"*_test.go", "*/*_test.go", "cmd/*/*_test.go"} {
		files, err := filepath.Glob(filepath.Join(root, pattern))
		require.NoError(t, err)
		for _, f := range files {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			sources.Write(b)
		}
	}
	cited := regexp.MustCompile("`(?:[a-z]+\\.)?((?:Test|Fuzz)[A-Za-z0-9_]+)`").FindAllStringSubmatch(string(doc), -1)
	require.NotEmpty(t, cited)
	for _, m := range cited {
		assert.Contains(t, sources.String(), "func "+m[1]+"(", "RELIABILITY.md cites %s, which does not exist", m[1])
	}
}
