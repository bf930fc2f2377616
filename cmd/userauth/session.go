package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"

	"github.com/tarilabs/userauth"
)

// sessionFlags are the flags of every command that talks to the API.
type sessionFlags struct {
	baseURL   *string
	tokenFile *string
}

func addSessionFlags(fs *flag.FlagSet, e *env) sessionFlags {
	def := e.getenv("USERAUTH_BASE_URL")
	if def == "" {
		def = userauth.DefaultBaseURL
	}
	return sessionFlags{
		baseURL:   fs.String("base-url", def, "API base `URL` (env USERAUTH_BASE_URL)"),
		tokenFile: fs.String("token-file", "", "token `file` (default: userauth/tokens.json in the user config directory)"),
	}
}

// store opens the token store over the token file.
func (f sessionFlags) store(e *env, opts ...userauth.StoreOption) (*userauth.TokenStore, error) {
	c, err := userauth.NewClient(*f.baseURL, userauth.WithUserAgent("userauth-cli"))
	if err != nil {
		return nil, err
	}
	path := *f.tokenFile
	if path == "" {
		dir, err := os.UserConfigDir()
		if err != nil {
			return nil, fmt.Errorf("no --token-file and no config directory: %w", err)
		}
		path = filepath.Join(dir, "userauth", "tokens.json")
	}
	storage, err := userauth.NewFileStorage(path)
	if err != nil {
		return nil, err
	}
	return userauth.NewTokenStore(c, storage, opts...)
}

// fail prints a one-line message naming the cause of err and returns the
// failure status.
func fail(e *env, cmd string, err error) int {
	fmt.Fprintf(e.stderr, "userauth %s: %s\n", cmd, explain(err))
	return exitFail
}

func explain(err error) string {
	var (
		ce *userauth.ClientError
		se *userauth.ServerError
		te *userauth.TransportError
		ve *userauth.ValidationError
	)
	switch {
	case errors.Is(err, userauth.ErrTwoFactorRequired):
		return "2FA needed: run userauth login again and enter the code"
	case errors.Is(err, userauth.ErrLoginRequired):
		return "not logged in (or the session ended): run userauth login"
	case errors.As(err, &ce) && ce.Path != "" && strings.HasSuffix(ce.Path, "/auth/token") && ce.StatusCode == http.StatusUnauthorized:
		return "wrong email, alternate ID or password"
	case errors.As(err, &ce) && strings.HasSuffix(ce.Path, "/auth/2fa"):
		return "2FA code refused: " + err.Error()
	case errors.As(err, &se):
		return "server error: " + err.Error()
	case errors.As(err, &te):
		return "server unreachable: " + err.Error()
	case errors.As(err, &ve):
		return err.Error()
	}
	return err.Error()
}

// lineReader reads answers line by line; one per run, so that a password
// and a code piped in one after the other are both found.
type lineReader struct{ r *bufio.Reader }

func (l *lineReader) line() (string, error) {
	s, err := l.r.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && s != "") {
		if errors.Is(err, io.EOF) {
			return "", errors.New("no input")
		}
		return "", err
	}
	return strings.TrimRight(s, "\r\n"), nil
}

func runLogin(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet("login", "login --email E | --alternate-id A [--base-url URL] [--token-file F]")
	email := fs.String("email", "", "the user's e-mail `address`")
	altID := fs.String("alternate-id", "", "the user's partner-assigned `ID`")
	sf := addSessionFlags(fs, e)
	if code := parse(e, fs, args); code >= 0 {
		return code
	}
	if (*email == "") == (*altID == "") {
		fmt.Fprintln(e.stderr, "userauth login: give exactly one of --email and --alternate-id")
		return exitUsage
	}
	in := &lineReader{r: bufio.NewReader(e.stdin)}
	password, err := readSecret(e, in, "Password: ")
	if err != nil {
		return fail(e, "login", fmt.Errorf("reading the password: %w", err))
	}
	handler := func(ctx context.Context, method userauth.TwoFactorMethod) (string, error) {
		fmt.Fprintf(e.stderr, "2FA code (%s): ", method)
		code, err := in.line()
		if err != nil {
			return "", fmt.Errorf("reading the 2FA code: %w", err)
		}
		return code, nil
	}
	store, err := sf.store(e, userauth.WithTwoFactorHandler(handler))
	if err != nil {
		return fail(e, "login", err)
	}
	if _, err := store.Login(ctx, userauth.LoginRequest{Email: *email, AlternateID: *altID, Password: password}); err != nil {
		return fail(e, "login", err)
	}
	fmt.Fprintln(e.stdout, "logged in")
	return exitOK
}

// readSecret reads a password without echo from a terminal, or a line from
// piped input.
func readSecret(e *env, in *lineReader, prompt string) (string, error) {
	if e.isTerminal() {
		fmt.Fprint(e.stderr, prompt)
		s, err := e.readPassword()
		fmt.Fprintln(e.stderr)
		return s, err
	}
	return in.line()
}

func runToken(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet("token", "token [--base-url URL] [--token-file F]")
	sf := addSessionFlags(fs, e)
	if code := parse(e, fs, args); code >= 0 {
		return code
	}
	store, err := sf.store(e)
	if err != nil {
		return fail(e, "token", err)
	}
	access, err := store.AccessToken(ctx)
	if err != nil {
		return fail(e, "token", err)
	}
	fmt.Fprintln(e.stdout, access)
	return exitOK
}

func runMagicLink(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet("magic-link", "magic-link --email E | --user-id U [--redirect PATH] [--base-url URL]")
	email := fs.String("email", "", "the user's e-mail `address`")
	userID := fs.String("user-id", "", "the user's `UUID`")
	redirect := fs.String("redirect", "", "`path` to land on after the link")
	sf := addSessionFlags(fs, e)
	if code := parse(e, fs, args); code >= 0 {
		return code
	}
	if (*email == "") == (*userID == "") {
		fmt.Fprintln(e.stderr, "userauth magic-link: give exactly one of --email and --user-id")
		return exitUsage
	}
	c, err := userauth.NewClient(*sf.baseURL, userauth.WithUserAgent("userauth-cli"))
	if err != nil {
		return fail(e, "magic-link", err)
	}
	res, err := c.MagicLinkLogin(ctx, userauth.MagicLinkLoginRequest{Email: *email, UserID: *userID, Redirect: *redirect})
	if err != nil {
		return fail(e, "magic-link", err)
	}
	fmt.Fprintln(e.stdout, res.Message)
	return exitOK
}

func runLogout(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet("logout", "logout [--token-file F]")
	sf := addSessionFlags(fs, e)
	if code := parse(e, fs, args); code >= 0 {
		return code
	}
	store, err := sf.store(e)
	if err != nil {
		return fail(e, "logout", err)
	}
	if err := store.Logout(ctx); err != nil {
		return fail(e, "logout", err)
	}
	fmt.Fprintln(e.stdout, "logged out")
	return exitOK
}

func osEnv() *env {
	fd := int(os.Stdin.Fd())
	return &env{
		stdin:      os.Stdin,
		stdout:     os.Stdout,
		stderr:     os.Stderr,
		getenv:     os.Getenv,
		isTerminal: func() bool { return term.IsTerminal(fd) },
		readPassword: func() (string, error) {
			b, err := term.ReadPassword(fd)
			return string(b), err
		},
	}
}
