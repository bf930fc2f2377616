package userauth

import (
	"log/slog"
	"net/url"
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
	words []string              // the short secrets' forms, folded (see fold)
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
		short := utf8.RuneCountInString(fold(s, false)) < minRun
		q := strconv.Quote(s)
		for _, f := range []string{s, jsonEscape(s), asciiJSON(s), q[1 : len(q)-1], url.QueryEscape(s), url.PathEscape(s)} {
			e.max = max(e.max, len(f))
			if short {
				e.words = append(e.words, fold(f, true))
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
	folded := fold(text, true)
	for _, w := range e.words {
		for i := 0; ; i++ {
			j := strings.Index(folded[i:], w)
			if j < 0 {
				break
			}
			i += j
			before, _ := utf8.DecodeLastRuneInString(folded[:i])
			after, _ := utf8.DecodeRuneInString(folded[i+len(w):])
			if !isAlnum(before) && !isAlnum(after) {
				return true
			}
		}
	}
	return false
}

// runs calls f with each run of minRun of the letters and digits of s,
// folded, until f returns true.
func runs(s string, f func(run [minRun]rune) bool) bool {
	r := []rune(fold(s, false))
	for i := 0; i+minRun <= len(r); i++ {
		if f([minRun]rune(r[i : i+minRun])) {
			return true
		}
	}
	return false
}

// withhold is s, or the marker when s echoes a secret, whole or as shown
// cut to maxMessageLen (a cut can make a word of a short secret).
func (e *echo) withhold(s string) string { return e.show(s, s, maxMessageLen) }

// text is a piece of server text as the SDK shows it in an error: cleaned
// and cut to limit, or the marker.
func (e *echo) text(s string, limit int) string { return e.show(s, clean(s, limit), limit) }

// show is shown, or the marker when s, shown or shown cut to limit echoes
// a secret.
func (e *echo) show(s, shown string, limit int) string {
	if e.in(s) || e.in(shown) || e.in(clean(s, limit)) {
		return withheld
	}
	return shown
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
