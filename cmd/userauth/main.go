// Command userauth signs in to the User Authentication API from a shell,
// keeps the tokens in a file, and runs the SDK's fake API server. It works
// like `gh auth` and `gcloud auth`.
//
//	userauth login --email E | --alternate-id A [--password-stdin] [--code C] [--keep-pending]
//	userauth login --code C            finish a 2FA step kept with --keep-pending
//	userauth status [--json]           who is logged in, to which API, until when
//	userauth token [--json]            print a valid access token, renewing it when needed
//	userauth logout [--local]          revoke the tokens on the server and forget them
//	userauth magic-link --email E | --user-id U [--redirect PATH]
//	userauth serve [--addr 127.0.0.1:8080] [--users users.json]
//	userauth version                   also: userauth --version
//
// `curl -H "Authorization: Bearer $(userauth token)" ...` works.
//
// # Which API
//
// Production is https://a.y.at (userauth.DefaultBaseURL); the sandbox is
// https://a.yat.fyi (userauth.SandboxBaseURL). A command picks the first
// of: --base-url, --sandbox, the USERAUTH_BASE_URL variable, the API of the
// saved session, production. URLs are compared by scheme, host and path,
// normalised (case, default port, trailing slash). When the flag or the
// variable names another API than the saved session's, the command refuses
// (exit 1, naming both) unless --force: then login forgets the old session
// here first and logs in to the named API, while token and logout send the
// saved tokens to the named API (and a renewal then records that API).
// magic-link uses no session: flag, variable or production.
//
// # Files
//
// The tokens live in --token-file (default: userauth/tokens.json in the
// user's configuration directory), written by userauth.FileStorage: mode
// 0600, atomic writes, an advisory lock in <file>.lock. The API the tokens
// belong to lives beside them in <file>.api, {"base_url": "https://..."},
// mode 0600, written atomically before every save of the tokens and removed
// after they are cleared. A token file without it (written by an older
// userauth) is used only with an explicit --base-url, --sandbox or
// USERAUTH_BASE_URL.
//
// # Waiting
//
// --timeout (default 30s) bounds each wait for the API: for login, the
// password step and the 2FA step each; the time taken to type at a prompt
// does not count. When stderr is a terminal, one status line ("waiting for
// <API> ...") shows while a command waits or retries, and is cleared at the
// end; pipes and files never see it.
//
// # JSON
//
// status --json prints {"logged_in", "api", "subject", "email",
// "expires_at", "expired", "two_factor_pending", "token_file"}; token
// --json prints {"access_token", "expires_at"}. Times are RFC 3339 in UTC,
// "" when unknown; two_factor_pending is the pending step's method, or "".
// These names are stable.
//
// # Exit status
//
// 0 done; 1 failed (a one-line message on stderr names the cause; status:
// no complete session); 2 usage error; 130 cancelled by Ctrl-C (143 by
// SIGTERM), after "cancelled" on stderr. serve ends with 0 on Ctrl-C, its
// normal way to stop.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tarilabs/userauth"
	"golang.org/x/term"
)

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
	// exitCancelled is the status after SIGINT (128 + 2); other signals
	// give 128 + their number.
	exitCancelled = 130
)

// env is what a command may touch, so tests can run commands in-process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// stdinIsTerminal reports whether stdin is a terminal, and
	// readPassword reads a line from it without echo, giving up when ctx
	// ends.
	stdinIsTerminal func() bool
	readPassword    func(ctx context.Context) (string, error)
	// stderrIsTerminal reports whether stderr is a terminal, where a
	// status line may show while a command waits.
	stderrIsTerminal func() bool
	// stores are the token stores the command made: run shuts them down
	// when it returns (see shutdownStores).
	stores []*userauth.TokenStore
}

// shutdownWait bounds how long the program waits, on its way out, for a
// renewal under way to save its pair (see shutdownStores).
const shutdownWait = 30 * time.Second

// shutdownStores waits, shutdownWait at most, for a renewal or 2FA step of
// the command's stores to save its pair. A command cancelled by SIGINT or
// SIGTERM returns while its renewal goes on: exiting then would leave the
// spent refresh token in the file, and the next run would present it
// again, which the server takes for theft and ends the session.
func (e *env) shutdownStores() {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownWait)
	defer cancel()
	for _, s := range e.stores {
		_ = s.Shutdown(ctx) // an error is ctx's: the wait is over
	}
}

// command is one subcommand: its name, its one-line summary and what it
// runs. run returns nil when done, or an error that exitStatus turns into
// the exit status and the message.
type command struct {
	name, summary string
	run           func(ctx context.Context, e *env, args []string) error
}

// commands lists the subcommands, in the order the help shows them.
func commands() []command {
	return []command{
		{"login", "log in with a password and keep the tokens", runLogin},
		{"status", "show who is logged in, to which API, until when (--check asks the API)", runStatus},
		{"token", "print a valid access token, renewing it when needed", runToken},
		{"logout", "revoke the tokens on the server and forget them", runLogout},
		{"magic-link", "e-mail a login link", runMagicLink},
		{"serve", "run the fake API server, for trying things out", runServe},
		{"totp", "print the current 2FA code of a TOTP secret (for serve's users)", runTOTP},
		{"version", "print the version of this program", runVersion},
	}
}

// main runs the command line, cancelling its context on SIGINT or SIGTERM.
// A second signal kills the program the default way.
func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-sigs
		signal.Stop(sigs)
		cancel(signalError{sig})
	}()
	os.Exit(run(ctx, osEnv(), os.Args[1:]))
}

// signalError is the cause of a context cancelled by a signal.
type signalError struct{ sig os.Signal }

// Error names the signal.
func (s signalError) Error() string { return "received " + s.sig.String() }

// run runs the command line args and returns the exit status.
func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		usage(e.stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(e.stdout)
		return exitOK
	case "-version", "--version":
		args = append([]string{"version"}, args[1:]...)
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(ctx, e, args[1:])
			e.shutdownStores()
			return exitStatus(ctx, e, c.name, err)
		}
	}
	fmt.Fprintf(e.stderr, "userauth: unknown command %q\n\n", args[0])
	usage(e.stderr)
	return exitUsage
}

// exitStatus prints what err says, if anything, and returns the exit
// status for it.
func exitStatus(ctx context.Context, e *env, name string, err error) int {
	var (
		ue usageError
		xs exitError
	)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(e.stderr, "userauth %s: %s\nRun \"userauth %s --help\" for usage.\n", name, ue.msg, name)
		return exitUsage
	case ctx.Err() != nil:
		fmt.Fprintf(e.stderr, "userauth %s: cancelled\n", name)
		return cancelledStatus(ctx)
	case errors.As(err, &xs):
		return int(xs)
	}
	fmt.Fprintf(e.stderr, "userauth %s: %s\n", name, printable(explain(err)))
	return exitFail
}

// cancelledStatus is 128 plus the number of the signal that ended ctx,
// exitCancelled when no signal did.
func cancelledStatus(ctx context.Context) int {
	var se signalError
	if errors.As(context.Cause(ctx), &se) {
		if n, ok := se.sig.(syscall.Signal); ok {
			return 128 + int(n)
		}
	}
	return exitCancelled
}

// exitError ends a command that has already said all it had to, with
// this exit status.
type exitError int

// Error names the status.
func (x exitError) Error() string { return fmt.Sprintf("exit status %d", int(x)) }

// usage prints the program's help.
func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: userauth <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, `
The API: --base-url, else --sandbox (%s, the sandbox), else
$USERAUTH_BASE_URL, else the API of the saved session, else %s
(production). A command refuses to send a session's tokens to another API
than the one that issued them, unless --force.

Exit status: 0 done, 1 failed, 2 usage error, 130 cancelled (Ctrl-C).

Run "userauth <command> --help" for a command's flags, "userauth --version"
for the version.
`, sandboxURL, productionURL)
}

// osEnv is the env of the real program.
func osEnv() *env {
	in, errFD := int(os.Stdin.Fd()), int(os.Stderr.Fd())
	return &env{
		stdin:            os.Stdin,
		stdout:           os.Stdout,
		stderr:           os.Stderr,
		getenv:           os.Getenv,
		stdinIsTerminal:  func() bool { return term.IsTerminal(in) },
		stderrIsTerminal: func() bool { return term.IsTerminal(errFD) },
		readPassword:     func(ctx context.Context) (string, error) { return readTerminalPassword(ctx, in) },
	}
}
