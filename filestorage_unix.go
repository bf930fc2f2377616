//go:build unix

package userauth

import (
	"fmt"
	"io/fs"
)

// checkPrivate refuses a token file that users other than its owner can
// read, unless allowWide (WithInsecureFileMode). Unix modes say who can.
func checkPrivate(mode fs.FileMode, allowWide bool) error {
	if perm := mode.Perm(); perm&0o077 != 0 && !allowWide {
		return &sentinelError{ErrTokenFileExposed, fmt.Sprintf("mode %#o, want 0600", perm)}
	}
	return nil
}
