package main

import (
	"context"
	"fmt"
	"runtime/debug"
)

// versionAbout is version's help.
const versionAbout = `
Print the version of this program: the module version it was built from
("(devel)" when built from a checkout without version control stamping),
and the version control revision when the build recorded one. Also
"userauth --version".`

// runVersion prints the version.
func runVersion(_ context.Context, e *env, args []string) error {
	fs := newFlagSet("version", "version", versionAbout)
	if err := fs.parse(e, args); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "userauth "+version())
	return nil
}

// version is the module version of the build, with the VCS revision
// (and ", modified" for a build of uncommitted changes) when known.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev != "" {
		v += " (revision " + rev
		if modified == "true" {
			v += ", modified"
		}
		v += ")"
	}
	return v
}
