//go:build unix

package userauth

import (
	"fmt"
	"io/fs"
	"syscall"
)

// noBlockNoFollow makes an open return at once on a named pipe or device
// (whose open would otherwise wait for the other end) and fail on a
// symbolic link.
const noBlockNoFollow = syscall.O_NONBLOCK | syscall.O_NOFOLLOW

// openRefusesLinks says that noBlockNoFollow makes an open fail on a
// symbolic link.
const openRefusesLinks = true

// checkPrivate refuses a token file that users other than its owner can
// read, write or run, unless allowWide (WithInsecureFileMode). Unix modes
// say who can.
func checkPrivate(mode fs.FileMode, allowWide bool) error {
	if perm := mode.Perm(); perm&0o077 != 0 && !allowWide {
		return &sentinelError{ErrTokenFileExposed, fmt.Sprintf("mode %#o, want 0600", perm)}
	}
	return nil
}
