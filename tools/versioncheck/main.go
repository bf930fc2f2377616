// Command versioncheck says whether VERSION can be the next release of the
// modules named by -module, as the go command and RELEASING.md's policy see
// it: a canonical semantic version, not a pseudo-version, allowed by each
// module path's major version suffix, after -last (the latest release tag,
// if any), and, when -breaking (CHANGELOG.md declares a breaking change), a
// new minor version while at v0.
//
//	versioncheck -module PATH [-module PATH...] [-last vX.Y.Z] [-breaking] VERSION
//	versioncheck -next -last vX.Y.Z     prints the next patch version
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

type modules []string

func (m *modules) String() string     { return strings.Join(*m, ",") }
func (m *modules) Set(s string) error { *m = append(*m, s); return nil }

func main() {
	var mods modules
	flag.Var(&mods, "module", "a module path the version is for (repeat)")
	last := flag.String("last", "", "the latest release tag, if any")
	breaking := flag.Bool("breaking", false, "the release declares a breaking change")
	next := flag.Bool("next", false, "print the patch version after -last, and check nothing")
	flag.Parse()
	if *next {
		v, err := nextPatch(*last)
		if err != nil {
			fmt.Fprintln(os.Stderr, "versioncheck:", err)
			os.Exit(1)
		}
		fmt.Println(v)
		return
	}
	if flag.NArg() != 1 || len(mods) == 0 {
		fmt.Fprintln(os.Stderr, "usage: versioncheck -module PATH... [-last vX.Y.Z] [-breaking] VERSION")
		os.Exit(2)
	}
	if err := check(flag.Arg(0), mods, *last, *breaking); err != nil {
		fmt.Fprintln(os.Stderr, "versioncheck:", err)
		os.Exit(1)
	}
}

// check reports why v cannot be the next release, or nil.
func check(v string, mods []string, last string, breaking bool) error {
	switch {
	case !semver.IsValid(v) || semver.Canonical(v) != v:
		return fmt.Errorf("%q is not a canonical semantic version such as v0.1.0", v)
	case module.IsPseudoVersion(v):
		return fmt.Errorf("%s has the shape of a pseudo-version, which no release tag may have", v)
	}
	for _, m := range mods {
		if err := module.Check(m, v); err != nil {
			return err
		}
	}
	if last == "" {
		return nil
	}
	if semver.Compare(v, last) <= 0 {
		return fmt.Errorf("%s is not after the latest release, %s", v, last)
	}
	if breaking && semver.Major(v) == "v0" && semver.MajorMinor(v) == semver.MajorMinor(last) {
		return fmt.Errorf("CHANGELOG.md declares a breaking change: at v0 that is a new minor version, not %s after %s", v, last)
	}
	if breaking && semver.Major(v) != "v0" {
		return errors.New("CHANGELOG.md declares a breaking change: past v0 that needs a new major version's module path")
	}
	return nil
}

// nextPatch is the patch version after last's release: v1.2.4 after
// v1.2.3, and v1.2.3 after its pre-release v1.2.3-rc.1.
func nextPatch(last string) (string, error) {
	if !semver.IsValid(last) {
		return "", fmt.Errorf("%q is not a version", last)
	}
	core, _, _ := strings.Cut(strings.TrimPrefix(semver.Canonical(last), "v"), "-")
	var major, minor, patch int
	if _, err := fmt.Sscanf(core, "%d.%d.%d", &major, &minor, &patch); err != nil {
		return "", err
	}
	if semver.Prerelease(last) == "" {
		patch++
	}
	return fmt.Sprintf("v%d.%d.%d", major, minor, patch), nil
}
