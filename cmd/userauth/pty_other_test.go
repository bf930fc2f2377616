//go:build !linux

package main

import (
	"errors"
	"os"
)

// openPTY is only written for Linux; the tests that need it skip elsewhere.
func openPTY() (master, slave *os.File, err error) {
	return nil, nil, errors.New("pseudo-terminals are only opened on Linux in these tests")
}
