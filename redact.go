package userauth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file keeps secrets and hostile text out of what the SDK prints:
// the redaction of secret values in formatted output, the scrubbing of
// secrets that a server echoes back in an error, and the cleaning of the
// text a server sends before it reaches an error string, a log line or a
// terminal.

// redacted stands in for a secret in formatted output.
const redacted = "[redacted]"

// secret formats a secret value for output: empty stays visibly empty, any
// other value becomes a fixed marker that tells nothing about it.
func secret(s string) string {
	if s == "" {
		return `""`
	}
	return redacted
}

func secretAttr(key, s string) slog.Attr {
	if s == "" {
		return slog.String(key, "")
	}
	return slog.String(key, redacted)
}

// secretForms returns every form the secrets can take in a body a server
// sends back: as they are, JSON-escaped with and without HTML escaping,
// with \u escapes in either case and with escaped slashes, all non-ASCII
// escaped (as Python writes JSON), Go-quoted (as net/http quotes what it
// cannot parse), URL-encoded as a query, a path or a JavaScript URI
// component, HTML-escaped, and base64-encoded (padded or not, standard or
// URL alphabet).
// Longer forms come first, so that scrubbing one never leaves a piece of
// another. Forms it does not list are caught by holdsSecret instead.
func secretForms(secrets []string) []string {
	var forms []string
	add := func(f string) {
		if f != "" && !slices.Contains(forms, f) {
			forms = append(forms, f)
		}
	}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		add(s)
		for _, j := range []string{jsonEscape(s, true), jsonEscape(s, false), asciiJSON(s)} {
			add(j)
			add(upperEscapes(j))
			add(strings.ReplaceAll(j, "/", `\/`))
		}
		for _, q := range []string{strconv.Quote(s), strconv.QuoteToASCII(s)} {
			add(q[1 : len(q)-1])
		}
		component := strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
		for _, u := range []string{url.QueryEscape(s), url.PathEscape(s), component} {
			add(u)
			add(strings.ToLower(u))
		}
		add(html.EscapeString(s))
		for _, enc := range base64Encodings {
			add(enc.EncodeToString([]byte(s)))
		}
	}
	slices.SortStableFunc(forms, func(a, b string) int { return len(b) - len(a) })
	return forms
}

// jsonEscape is s as encoding/json writes it inside a string, with or
// without its HTML escaping of <, > and &.
func jsonEscape(s string, escapeHTML bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	_ = enc.Encode(s) // a string always encodes
	out := strings.TrimSuffix(b.String(), "\n")
	return out[1 : len(out)-1]
}

// asciiJSON is s JSON-escaped with every non-ASCII character written as a
// \u escape (surrogate pairs beyond the BMP), as Python's json module does.
func asciiJSON(s string) string {
	var b strings.Builder
	for _, r := range jsonEscape(s, false) {
		switch {
		case r < utf8.RuneSelf:
			b.WriteRune(r)
		case r > 0xFFFF:
			r -= 0x10000
			fmt.Fprintf(&b, `\u%04x\u%04x`, 0xD800+(r>>10), 0xDC00+(r&0x3FF))
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

// upperEscapes writes the hex digits of the \u escapes in s in upper case.
func upperEscapes(s string) string {
	parts := strings.Split(s, `\u`)
	for i := 1; i < len(parts); i++ {
		if len(parts[i]) >= 4 {
			parts[i] = strings.ToUpper(parts[i][:4]) + parts[i][4:]
		}
	}
	return strings.Join(parts, `\u`)
}

// scrub replaces every form in b with the redaction marker. It copies b
// only when there is something to replace.
func scrub(b []byte, forms []string) []byte {
	for _, f := range forms {
		if bytes.Contains(b, []byte(f)) {
			b = bytes.ReplaceAll(b, []byte(f), []byte(redacted))
		}
	}
	return b
}

// scrubString replaces the secrets in text decoded from a body.
func scrubString(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, redacted)
		}
	}
	return s
}

// scrubHeader returns h, or, when a secret shows in it, a copy of it with
// the forms scrubbed from its values (a value still holding a secret
// redacted whole), and without the headers whose name holds one.
func scrubHeader(h http.Header, forms, secrets []string) http.Header {
	if len(forms) == 0 {
		return h
	}
	var out http.Header
	for k, vs := range h {
		for i, v := range vs {
			sv := string(scrub([]byte(v), forms))
			if holdsSecret(sv, secrets) {
				sv = redacted
			}
			if sv != v {
				out = cloneOnce(out, h)
				out[k][i] = sv
			}
		}
		if holdsSecret(k, secrets) || nameHolds(k, forms) {
			out = cloneOnce(out, h)
			delete(out, k)
		}
	}
	if out == nil {
		return h
	}
	return out
}

func cloneOnce(out, h http.Header) http.Header {
	if out == nil {
		return h.Clone()
	}
	return out
}

// nameHolds reports a header name that holds a form of a secret, in any
// case (net/http writes header names in its canonical case).
func nameHolds(name string, forms []string) bool {
	lower := strings.ToLower(name)
	for _, f := range forms {
		if strings.Contains(lower, strings.ToLower(f)) {
			return true
		}
	}
	return false
}

// redactText makes text decoded from a server's answer safe to show: the
// secrets replaced; the whole text redacted when a secret still shows in
// any view of it a reader may have (see holdsSecret); then cleaned, cut to
// limit.
func redactText(s string, secrets []string, limit int) string {
	s = scrubString(s, secrets)
	if holdsSecret(s, secrets) {
		return redacted
	}
	return clean(s, limit)
}

// holdsSecret reports whether a secret shows in s as a reader may read it
// (see secretViews and showsSecret).
func holdsSecret(s string, secrets []string) bool {
	if s == "" || len(secrets) == 0 {
		return false
	}
	views := secretViews(s)
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		for _, v := range views {
			if showsSecret(v, sec) {
				return true
			}
		}
	}
	return false
}

// secretViews is s as a reader may read it: as it is; with its escapes
// undone, in whatever style or case the server wrote them (JSON, twice for
// JSON inside a JSON string; HTML; URL, with and without + as a space,
// twice for a URL inside a URL, bytes that are not UTF-8 read as Latin-1;
// the \x and \u{...} escapes of other languages); and each of those without
// the invisible format characters (soft hyphens, zero-width spaces) a
// reader does not see.
func secretViews(s string) []string {
	u := unescapeURL(s, true)
	views := []string{
		s, unescapeJSON(s), unescapeJSON(unescapeJSON(s)), html.UnescapeString(s),
		unescapeURL(s, false), u, unescapeURL(u, true), latin1(u), unescapeOther(s),
	}
	for _, v := range views { // range reads the slice once: appended views are not revisited
		if w := dropFormatChars(v); w != v {
			views = append(views, w)
		}
	}
	return views
}

// showsSecret reports whether sec shows in v: as it is, with its runs of
// white space made one space (as clean makes them), or base64-encoded,
// even across line breaks (as MIME writes it).
func showsSecret(v, sec string) bool {
	if strings.Contains(v, sec) {
		return true
	}
	if w := oneSpaced(sec); w != "" && strings.Contains(oneSpaced(v), w) {
		return true
	}
	compact := strings.Join(strings.Fields(v), "")
	for _, enc := range base64Encodings {
		if b := enc.EncodeToString([]byte(sec)); strings.Contains(v, b) || strings.Contains(compact, b) {
			return true
		}
	}
	return false
}

// base64Encodings are the base64 forms a server may echo a secret in.
var base64Encodings = []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding}

// oneSpaced is s with every run of white space made one space, and none
// at either end.
func oneSpaced(s string) string { return strings.Join(strings.Fields(s), " ") }

// latin1 reads s as Latin-1 when it is not UTF-8 (a URL escape of a
// Latin-1 byte, as JavaScript's escape writes one).
func latin1(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	r := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		r[i] = rune(s[i])
	}
	return string(r)
}

// otherEscapes matches the \xHH escapes of Python and C and the \u{...}
// escapes of JavaScript, Swift and Rust.
var otherEscapes = regexp.MustCompile(`\\x[0-9a-fA-F]{2}|\\u\{[0-9a-fA-F]{1,6}\}`)

// unescapeOther undoes the escapes otherEscapes matches, each as the code
// point it names.
func unescapeOther(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	return otherEscapes.ReplaceAllStringFunc(s, func(e string) string {
		hex := strings.Trim(e[2:], "{}")
		v, err := strconv.ParseUint(hex, 16, 32)
		if err != nil || !utf8.ValidRune(rune(v)) {
			return e
		}
		return string(rune(v))
	})
}

// dropFormatChars removes the invisible format characters (Unicode Cf)
// from s.
func dropFormatChars(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, s)
}

// unescapeURL undoes the %XX escapes in s (and + as a space, when plus),
// leaving a % that starts no escape as it is: url.PathUnescape refuses the
// whole text for one.
func unescapeURL(s string, plus bool) string {
	if !strings.Contains(s, "%") && (!plus || !strings.Contains(s, "+")) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			v, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			b.WriteByte(byte(v))
			i += 2
		case c == '+' && plus:
			b.WriteByte(' ')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// jsonEscapes matches the escapes of a JSON string: \uXXXX in either case
// (surrogate pairs included) and the one-character ones.
var jsonEscapes = regexp.MustCompile(`(\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2})|\\u[0-9a-fA-F]{4}|\\["\\/bfnrt]`)

// unescapeJSON undoes the JSON string escapes found anywhere in s, as a
// server of any language may write them.
func unescapeJSON(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	return jsonEscapes.ReplaceAllStringFunc(s, func(e string) string {
		var out string
		if json.Unmarshal([]byte(`"`+e+`"`), &out) != nil {
			return e
		}
		return out
	})
}

// cleanedError is a cause whose text showed a secret or control
// characters: its Error is the safe text; Unwrap still gives the cause,
// for errors.Is and errors.As.
type cleanedError struct {
	msg string
	err error
}

func (e *cleanedError) Error() string { return e.msg }
func (e *cleanedError) Unwrap() error { return e.err }

// sanitizeCause returns err, or err behind a safe text when its own text
// shows a secret (net/http quotes what it could not parse of an answer)
// or control characters (a certificate's names, say).
func sanitizeCause(err error, forms, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	safe := redactText(string(scrub([]byte(msg), forms)), secrets, len(msg))
	if safe == msg {
		return err
	}
	return &cleanedError{msg: safe, err: err}
}

// clean makes server text safe to put in one line of an error string, a
// log line or a terminal: control characters (C0, DEL, C1) and the
// bidirectional overrides that can disguise text are replaced by U+FFFD,
// runs of white space become one space, and the text is cut to at most
// limit bytes (plus "...").
func clean(s string, limit int) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || isBidiControl(r) {
			return utf8.RuneError
		}
		return r
	}, s)
	if len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}

// isBidiControl reports the invisible characters that reorder text.
func isBidiControl(r rune) bool {
	return r == 0x061C || r == 0x200E || r == 0x200F || (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069)
}
