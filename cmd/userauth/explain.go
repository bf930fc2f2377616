package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tarilabs/userauth"
)

// maxShown bounds the text printed in one message.
const maxShown = 1024

// explain says in one line what went wrong, naming the cause the user can
// act on.
func explain(err error) string {
	var (
		to  timeoutError
		api *userauth.APIError
		tfr *userauth.TwoFactorRequiredError
		se  *userauth.ServerError
		te  *userauth.TransportError
	)
	switch {
	case errors.As(err, &to):
		return to.Error()
	case errors.Is(err, userauth.ErrInvalidCredentials):
		return "wrong email, alternate ID or password"
	case errors.Is(err, userauth.ErrInvalidCode) && errors.As(err, &api) && api.Message != "":
		return "2FA code refused: " + printable(api.Message) + codeHint
	case errors.Is(err, userauth.ErrInvalidCode):
		return "2FA code refused" + codeHint
	case errors.As(err, &tfr):
		return "a 2FA step (" + tfr.Method.String() + ") is pending: finish it with userauth login --code CODE"
	case errors.Is(err, userauth.ErrLoginRequired):
		return "not logged in (or the session ended): run userauth login"
	case errors.As(err, &se):
		return "server error: " + withoutPrefix(err)
	case errors.As(err, &te) && isCertificateError(err):
		return "the server's TLS certificate is not trusted here: " + withoutPrefix(err) +
			" (to trust a private CA, set SSL_CERT_FILE to its certificate)"
	case errors.As(err, &te):
		return "server unreachable: " + withoutPrefix(err)
	}
	return withoutPrefix(err)
}

// codeHint is said with a refused 2FA code.
const codeHint = " (a code works once and changes every 30 s: wait for the next one)"

// withoutPrefix is err's text without the SDK's "userauth: ", which the
// command's own prefix makes redundant.
func withoutPrefix(err error) string {
	return strings.TrimPrefix(err.Error(), "userauth: ")
}

// isCertificateError reports a TLS certificate the client does not trust.
func isCertificateError(err error) bool {
	var (
		unknown  x509.UnknownAuthorityError
		invalid  x509.CertificateInvalidError
		hostname x509.HostnameError
		verify   *tls.CertificateVerificationError
	)
	return errors.As(err, &unknown) || errors.As(err, &invalid) || errors.As(err, &hostname) || errors.As(err, &verify)
}

// printable returns server-supplied text fit for a terminal: one line,
// control and bidirectional-control characters replaced by U+FFFD, at
// most maxShown bytes.
func printable(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return utf8.RuneError
		}
		return r
	}, s)
	if len(s) > maxShown {
		cut := maxShown
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}
