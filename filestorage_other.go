//go:build !unix

package userauth

import "io/fs"

// noBlockNoFollow is empty here: the OS has no such open flags. openRegular
// refuses a link with Lstat before opening and os.SameFile after.
const noBlockNoFollow = 0

// openRefusesLinks says that an open here follows a symbolic link: the
// opened file must be checked against the Lstat before it.
const openRefusesLinks = false

// checkPrivate checks nothing here: outside Unix, file modes are
// synthesised (on Windows from the read-only attribute, so every writable
// file looks 0666), and what keeps other users out is the file's access
// control list, which a new file inherits from its directory.
func checkPrivate(fs.FileMode, bool) error { return nil }
