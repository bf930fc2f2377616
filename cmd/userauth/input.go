package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/term"

	"github.com/tarilabs/userauth"
)

// errNoInput is stdin ending before the line asked for.
var errNoInput = errors.New("no input")

// errEmptyAnswer is an empty line where an answer was asked for.
var errEmptyAnswer = errors.New("empty answer")

// input reads the user's answers from stdin, line by line, so that a
// password and a code piped one after the other are both found.
type input struct {
	e *env
	r *bufio.Reader
}

// newInput returns the reader of e's stdin.
func newInput(e *env) *input { return &input{e: e, r: bufio.NewReader(e.stdin)} }

// password reads the password. With fromStdin (--password-stdin) it is
// the first line of stdin, never prompted for (on a terminal, read without
// echo); otherwise a terminal prompts for it without echo, and piped
// stdin's first line is read.
func (in *input) password(ctx context.Context, fromStdin bool) (string, error) {
	if !in.e.stdinIsTerminal() {
		return in.line(ctx)
	}
	if !fromStdin {
		fmt.Fprint(in.e.stderr, "Password: ")
		defer fmt.Fprintln(in.e.stderr)
	}
	return in.e.readPassword(ctx)
}

// code reads a 2FA code: prompted for on a terminal, else the next line of
// stdin. An empty answer is errEmptyAnswer; stdin ended, errNoInput. A
// prompt given up on (Ctrl-C) gets its line ended, so that what follows
// starts a line of its own.
func (in *input) code(ctx context.Context, method userauth.TwoFactorMethod) (string, error) {
	prompted := in.e.stdinIsTerminal()
	if prompted {
		fmt.Fprintf(in.e.stderr, "2FA code (%s): ", method)
	}
	s, err := in.line(ctx)
	switch {
	case err != nil && prompted && ctx.Err() != nil:
		fmt.Fprintln(in.e.stderr)
	case err == nil && strings.TrimSpace(s) == "":
		return "", errEmptyAnswer
	}
	return s, err
}

// line reads the next line of stdin, without its line ending, giving up
// when ctx ends. The last line may lack a newline; no line at all is
// errNoInput.
func (in *input) line(ctx context.Context) (string, error) {
	type result struct {
		s   string
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := in.r.ReadString('\n')
		if errors.Is(err, io.EOF) && s != "" {
			err = nil
		} else if errors.Is(err, io.EOF) {
			err = errNoInput
		}
		done <- result{strings.TrimRight(s, "\r\n"), err}
	}()
	select {
	case r := <-done:
		return r.s, r.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// readTerminalPassword reads a line from the terminal fd without echo.
// When ctx ends first it gives up, putting the terminal back as it was.
func readTerminalPassword(ctx context.Context, fd int) (string, error) {
	state, err := term.GetState(fd)
	if err != nil {
		return "", err
	}
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := term.ReadPassword(fd)
		done <- result{b, err}
	}()
	select {
	case r := <-done:
		return string(r.b), r.err
	case <-ctx.Done():
		_ = term.Restore(fd, state)
		return "", ctx.Err()
	}
}
