package userauth

import (
	"encoding/json"
	"log/slog"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Secrets stay out of what the SDK prints by two rules. A value of the SDK's
// holding a secret formats it as [redacted]. The SDK's own words are never
// altered; a piece of text from the server is shown cleaned unless it
// carries a sign of a secret of the call, and then is withheld whole (a
// marker inside it would tell where the secret stood). A sign is, for a
// secret of minRun or more letters and digits, any run of minRun of them in
// any case among the text's letters and digits; for a shorter one, the
// secret as a whole word; the secret taken raw, JSON-escaped, Go-quoted or
// URL-escaped. This stops accidental echoes, whole or cut; a server that
// transforms a secret (hex, reversed) holds it already.

const (
	redacted = "[redacted]"                                    // a secret value of the SDK's
	withheld = "[withheld: it echoed a secret of the request]" // a piece of server text
	minRun   = 8                                               // letters and digits that betray a secret
)

// secret formats a secret value; empty stays visibly empty.
func secret(s string) string {
	if s == "" {
		return `""`
	}
	return redacted
}

func secretAttr(key, s string) slog.Attr { return slog.String(key, secret(s)) }

// echo is what betrays the secrets of one call in the server's text.
type echo struct {
	runs  map[[minRun]rune]bool // every run of minRun of the long secrets' forms (see runs)
	words []*regexp.Regexp      // the short secrets' forms as whole words
	max   int                   // the length of the longest form
}

// echoOf prepares the signs of secrets; nil when there is none.
func echoOf(secrets []string) *echo {
	var e *echo
	for _, s := range secrets {
		if s == "" {
			continue
		}
		if e == nil {
			e = &echo{runs: map[[minRun]rune]bool{}}
		}
		short := utf8.RuneCountInString(alnum(s)) < minRun
		q, a := strconv.Quote(s), strconv.QuoteToASCII(s) // a: as Python's json writes non-ASCII
		for _, f := range []string{s, jsonEscape(s), q[1 : len(q)-1], a[1 : len(a)-1], url.QueryEscape(s), url.PathEscape(s)} {
			e.max = max(e.max, len(f))
			if short {
				e.words = append(e.words, regexp.MustCompile(`(?i)(^|[^\pL\pN])`+regexp.QuoteMeta(f)+`($|[^\pL\pN])`))
			} else {
				runs(f, func(run [minRun]rune) bool { e.runs[run] = true; return false })
			}
		}
	}
	return e
}

// in reports whether text carries a sign of a secret.
func (e *echo) in(text string) bool {
	if e == nil || text == "" {
		return false
	}
	if len(e.runs) > 0 && runs(text, func(run [minRun]rune) bool { return e.runs[run] }) {
		return true
	}
	for _, w := range e.words {
		if w.MatchString(text) {
			return true
		}
	}
	return false
}

// runs calls f with each run of minRun of the letters and digits of s (see
// alnum), until f returns true.
func runs(s string, f func(run [minRun]rune) bool) bool {
	r := []rune(alnum(s))
	for i := 0; i+minRun <= len(r); i++ {
		if f([minRun]rune(r[i : i+minRun])) {
			return true
		}
	}
	return false
}

// withhold is s, or the marker when s echoes a secret.
func (e *echo) withhold(s string) string {
	if e.in(s) {
		return withheld
	}
	return s
}

// text is a piece of server text as the SDK may show it in an error.
func (e *echo) text(s string, limit int) string { return clean(e.withhold(s), limit) }

// alnum is s in lower case with all but its letters and digits left out.
func alnum(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToLower(r)
		}
		return -1
	}, s)
}

// jsonEscape is s as encoding/json writes it inside a string.
func jsonEscape(s string) string {
	b, _ := json.Marshal(s) // a string always encodes
	return string(b[1 : len(b)-1])
}

// clean makes server text safe for one line of an error, a log or a
// terminal: control characters (C0, DEL, C1) and the bidi overrides that
// disguise text become U+FFFD, runs of white space one space, and the text
// is cut to at most limit bytes (plus "...").
func clean(s string, limit int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == 0x061C || r == 0x200E || r == 0x200F || (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) {
			return utf8.RuneError
		}
		return r
	}, strings.Join(strings.Fields(s), " "))
	if len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}
