package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// flagSet is one command's flags and its help. Each command makes its own,
// so its help lists only the flags it reads.
type flagSet struct {
	*flag.FlagSet
	synopsis string // the usage line, after "userauth "
	about    string // what the command does, printed after the usage line
}

// newFlagSet returns an empty flag set for the command name.
func newFlagSet(name, synopsis, about string) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse reports errors itself
	fs.Usage = func() {}
	return &flagSet{FlagSet: fs, synopsis: synopsis, about: about}
}

// usageError is a command line the command cannot run: exit status 2.
type usageError struct{ msg string }

// Error returns the message.
func (u usageError) Error() string { return u.msg }

// usagef returns a usageError.
func usagef(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}

// parse parses the command's arguments, which must all be flags. After
// --help it prints the help on stdout and returns flag.ErrHelp.
func (fs *flagSet) parse(e *env, args []string) error {
	for _, a := range args {
		if a == "--" {
			break
		}
		switch a {
		case "-h", "-help", "--help", "--h":
			fs.printUsage(e.stdout)
			return flag.ErrHelp
		}
	}
	if err := fs.Parse(args); err != nil {
		msg := dashDash(err.Error())
		if strings.HasSuffix(msg, "flag provided but not defined: --password") && fs.Lookup("password-stdin") != nil {
			msg += " (a password given as a flag shows in the process list and the shell history: " +
				"use --password-stdin, or let the prompt ask for it)"
		}
		return usageError{msg}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// dashDash spells the flag names in the flag package's messages the way
// the help does, with two dashes.
func dashDash(msg string) string {
	msg = strings.Replace(msg, ": -", ": --", 1)
	return strings.Replace(msg, "flag -", "flag --", 1)
}

// printUsage writes the command's help: usage line, description and
// flags, each flag as it is typed (--name VALUE).
func (fs *flagSet) printUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage: userauth %s\n\n%s\n", fs.synopsis, strings.TrimSpace(fs.about))
	var lines [][2]string
	width := 0
	fs.VisitAll(func(f *flag.Flag) {
		arg, help := flag.UnquoteUsage(f)
		left := "--" + f.Name
		if arg != "" {
			left += " " + strings.ToUpper(arg)
		}
		if !zeroDefault(f.DefValue) {
			help += " (default " + f.DefValue + ")"
		}
		lines = append(lines, [2]string{left, help})
		width = max(width, len(left))
	})
	if len(lines) == 0 {
		return
	}
	fmt.Fprintln(w, "\nFlags:")
	for _, l := range lines {
		fmt.Fprintf(w, "  %-*s  %s\n", width, l[0], l[1])
	}
}

// zeroDefault reports a default not worth showing.
func zeroDefault(v string) bool {
	switch v {
	case "", "false", "0", "0s":
		return true
	}
	return false
}
