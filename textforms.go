package userauth

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// The forms a secret takes in text, for redact.go: folded for matching in
// any case, and escaped as JSON encoders write it.

// fold is s with each letter in one case, as case-insensitive matching
// sees it (ß as SS, Turkish ı and İ as I), without what is not a letter or
// digit unless all. Bytes that are not UTF-8 stay U+FFFD: nothing panics.
func fold(s string, all bool) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case !all && !isAlnum(r):
		case r < utf8.RuneSelf: // the common case, as the loop below would fold it
			if 'a' <= r && r <= 'z' {
				r -= 'a' - 'A'
			}
			b.WriteByte(byte(r))
		case r == 'ß' || r == 'ẞ':
			b.WriteString("SS")
		case r == 'ı' || r == 'İ':
			b.WriteByte('I')
		default:
			low := r // the least rune of r's case orbit
			for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
				low = min(low, f)
			}
			b.WriteRune(low)
		}
	}
	return b.String()
}

func isAlnum(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// asciiJSON is s as Python's json writes it: non-ASCII as \u escapes,
// beyond the BMP as surrogate pairs.
func asciiJSON(s string) string {
	var b strings.Builder
	for _, r := range jsonEscape(s) {
		if r < utf8.RuneSelf {
			b.WriteRune(r)
			continue
		}
		for _, u := range utf16.Encode([]rune{r}) {
			fmt.Fprintf(&b, `\u%04x`, u)
		}
	}
	return b.String()
}

// jsonEscape is s as encoding/json writes it inside a string.
func jsonEscape(s string) string {
	b, _ := json.Marshal(s) // a string always encodes
	return string(b[1 : len(b)-1])
}
