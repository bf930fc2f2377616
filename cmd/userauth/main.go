// Command userauth signs in to the User Authentication API from a shell,
// keeps the tokens in a file, and runs the SDK's fake API server.
//
//	userauth serve [--addr 127.0.0.1:8080] [--users users.json]
//	userauth login --email E | --alternate-id A
//	userauth token
//	userauth magic-link --email E | --user-id U
//	userauth logout
//
// Every command but serve takes --base-url (or USERAUTH_BASE_URL) and
// --token-file (default: userauth/tokens.json in the user's config
// directory). `curl -H "Authorization: Bearer $(userauth token)" ...` works.
//
// Exit status: 0 done, 1 failed (a one-line message names the cause), 2
// usage error.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// env is what a command may touch, so tests can run commands in-process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// isTerminal reports whether stdin is a terminal, and readPassword
	// reads from it without echo.
	isTerminal   func() bool
	readPassword func() (string, error)
}

type command struct {
	name, summary string
	run           func(ctx context.Context, e *env, args []string) int
}

func commands() []command {
	return []command{
		{"serve", "run the fake API server", runServe},
		{"login", "log in and keep the tokens", runLogin},
		{"token", "print a valid access token, refreshing it when needed", runToken},
		{"magic-link", "e-mail a login link", runMagicLink},
		{"logout", "forget the kept tokens", runLogout},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, osEnv(), os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		usage(e.stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(e.stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, e, args[1:])
		}
	}
	fmt.Fprintf(e.stderr, "userauth: unknown command %q\n\n", args[0])
	usage(e.stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: userauth <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, `Run "userauth <command> --help" for a command's flags.`)
}

// parse parses a command's flags. It returns -1 to go on, or the exit
// status: 0 after --help, 2 on a usage error.
func parse(e *env, fs *flag.FlagSet, args []string) int {
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" || a == "--h" {
			fs.SetOutput(e.stdout)
			fs.Usage()
			return exitOK
		}
	}
	fs.SetOutput(e.stderr)
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "userauth %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return exitUsage
	}
	return -1
}

func newFlagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: userauth %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}
