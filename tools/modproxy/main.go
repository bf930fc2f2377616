// Command modproxy writes a file-based Go module proxy (for GOPROXY=file://DIR)
// that serves modules from directories of a source tree at one version, as
// the go command would fetch them once that version is tagged. It is how the
// release rehearsal (scripts/rehearse-release.sh) shows what a user's `go get`
// would meet, before anything is tagged or pushed.
//
//	modproxy -out DIR -version vX.Y.Z MODULE_DIR...
//
// Each MODULE_DIR holds a go.mod; its module path is read from there. The zip
// is made by golang.org/x/mod/zip, which applies the go command's own rules
// (nested modules and vendor directories left out, file names and sizes
// checked), so a tree this accepts is a tree the go command accepts.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	modzip "golang.org/x/mod/zip"
)

func main() {
	out := flag.String("out", "", "directory to write the proxy to (created if missing)")
	version := flag.String("version", "", "the version to serve every module at, such as v0.1.0")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: modproxy -out DIR -version vX.Y.Z MODULE_DIR...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *out == "" || *version == "" || flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	for _, dir := range flag.Args() {
		path, err := publish(*out, dir, *version, time.Now())
		if err != nil {
			fmt.Fprintln(os.Stderr, "modproxy:", err)
			os.Exit(1)
		}
		fmt.Printf("%s@%s\n", path, *version)
	}
}

// publish adds the module in dir to the proxy at out, at version, and returns
// its module path.
func publish(out, dir, version string, at time.Time) (string, error) {
	if err := checkVersion(version); err != nil {
		return "", err
	}
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return "", err
	}
	path := modfile.ModulePath(gomod)
	if path == "" {
		return "", fmt.Errorf("%s: go.mod names no module", dir)
	}
	mv := module.Version{Path: path, Version: version}
	if err := module.Check(path, version); err != nil {
		return "", err
	}
	escaped, err := module.EscapePath(path)
	if err != nil {
		return "", err
	}
	vdir := filepath.Join(out, filepath.FromSlash(escaped), "@v")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		return "", err
	}
	zf, err := os.Create(filepath.Join(vdir, version+".zip"))
	if err != nil {
		return "", err
	}
	err = modzip.CreateFromDir(zf, mv, dir)
	if cerr := zf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("%s: %w", dir, err)
	}
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{version, at.UTC().Truncate(time.Second)})
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(vdir, version+".info"), info, 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(vdir, version+".mod"), gomod, 0o644); err != nil {
		return "", err
	}
	return path, addToList(filepath.Join(vdir, "list"), version)
}

// checkVersion accepts what a release tag can be: a canonical semantic
// version that is not a pseudo-version.
func checkVersion(v string) error {
	switch {
	case !semver.IsValid(v) || semver.Canonical(v) != v:
		return fmt.Errorf("version %q is not a canonical semantic version such as v0.1.0", v)
	case module.IsPseudoVersion(v):
		return fmt.Errorf("version %q is a pseudo-version, which no release tag can be", v)
	}
	return nil
}

// addToList records version in the proxy's version list, once.
func addToList(list, version string) error {
	b, err := os.ReadFile(list)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, line := range strings.Fields(string(b)) {
		if line == version {
			return nil
		}
	}
	f, err := os.OpenFile(list, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(f, version); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
