package userauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// echoForms are the ways a server or proxy quotes a secret back by
// accident: as it is, escaped for JSON or a URL, quoted, cut short, in
// another case, spread out.
func echoForms(s string) map[string]string {
	forms := map[string]string{
		"raw":               s,
		"JSON-escaped":      jsonEscape(s),
		"JSON, ASCII only":  asciiJSON(s),
		"URL query-escaped": url.QueryEscape(s),
		"URL path-escaped":  url.PathEscape(s),
		"Go-quoted":         strconv.Quote(s),
		"upper case":        strings.ToUpper(s),
	}
	if len(fold(s, false)) >= minRun { // a short secret is withheld as a whole word only
		forms["one char per space"] = strings.Join(strings.Split(s, ""), " ")
		forms["truncated to 12"] = s[:12] + "..."
		forms["its first 8 letters and digits"] = s[:runEnd(s)]
		forms["its last 8 letters and digits"] = s[len(s)-runEnd(reverse(s)):]
	}
	return forms
}

// runEnd is the length of the shortest prefix of s that holds minRun
// letters and digits.
func runEnd(s string) int {
	n := 0
	for i, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if n++; n == minRun {
				return i + len(string(r))
			}
		}
	}
	return len(s)
}

func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

// echoPlaces builds an error from an answer that carries text in one of the
// places the server writes, and returns what the SDK shows of that place.
var echoPlaces = map[string]func(t *testing.T, text, secret string) (shown string, err error){
	"message": func(t *testing.T, text, secret string) (string, error) {
		err := statusError(401, nil, jsonOf(map[string]any{"error": "wrong password " + text}), secret)
		return apiError(t, err).Message, err
	},
	"code": func(t *testing.T, text, secret string) (string, error) {
		err := statusError(400, nil, jsonOf(map[string]any{"error": map[string]string{"code": text}}), secret)
		return apiError(t, err).Code, err
	},
	"field name and message": func(t *testing.T, text, secret string) (string, error) {
		err := statusError(422, nil, jsonOf(map[string]any{"fields": map[string]any{text: []map[string]string{{"message": text}}}}), secret)
		b, _ := json.Marshal(apiError(t, err).Fields)
		return string(b), err
	},
	"request id": func(t *testing.T, text, secret string) (string, error) {
		err := statusError(500, http.Header{"X-Request-Id": {text}}, "", secret)
		return apiError(t, err).RequestID, err
	},
	"header value": func(t *testing.T, text, secret string) (string, error) {
		err := statusError(500, http.Header{"X-Echo": {text}}, "", secret)
		return apiError(t, err).Header.Get("X-Echo"), err
	},
	"plain-text body": func(t *testing.T, text, secret string) (string, error) {
		err := statusError(502, http.Header{"Content-Type": {"text/plain"}}, "bad gateway: "+text, secret)
		return string(apiError(t, err).Body) + apiError(t, err).Message, err
	},
	"body cut at the limit": func(t *testing.T, text, secret string) (string, error) {
		body := strings.Repeat(".", maxErrorBody-len(text)/2) + text // half of the echo past what is kept
		err := statusError(500, nil, body, secret)
		return string(apiError(t, err).Body), err
	},
	"content type of a 2xx not understood": func(t *testing.T, text, secret string) (string, error) {
		err := decodeAnswer(t, http.Header{"Content-Type": {"text/html; " + text}}, "<html>", secret)
		var de *DecodeError
		require.ErrorAs(t, err, &de)
		return de.ContentType, err
	},
	"requires_2fa": func(t *testing.T, text, secret string) (string, error) {
		var r TokenResponse
		require.NoError(t, r.decode([]byte(jsonOf(map[string]any{"access_token": "a", "refresh_token": "r", "requires_2fa": text})), nil, []string{secret}))
		return string(r.Requires2FA), nil
	},
	"magic-link message": func(t *testing.T, text, secret string) (string, error) {
		var r SuccessResponse
		require.NoError(t, r.decode([]byte(jsonOf(map[string]any{"message": "sent to " + text})), nil, []string{secret}))
		return r.Message, nil
	},
	"a cause quoting the answer": func(t *testing.T, text, secret string) (string, error) {
		cause := fmt.Errorf("net/http: HTTP/1.x transport connection broken: %w", errors.New(`malformed HTTP status code "`+text+`"`))
		err := (&call{secrets: []string{secret}}).transportError(cause)
		return err.Error(), err
	},
}

// TestAServerTextThatEchoesASecretIsWithheldWhole is the echo table: every
// accidental form of a secret, in every place a server writes, is withheld
// whole, in the place and in every way the error formats.
func TestAServerTextThatEchoesASecretIsWithheldWhole(t *testing.T) {
	t.Parallel()
	for _, secret := range []string{"hunter2-Secret!", "CorrectHorseBatteryStaple-2024!", `p&<w>"d\/é😀 +%`, "048576", "Pa55"} {
		for form, text := range echoForms(secret) {
			for place, build := range echoPlaces {
				t.Run(secret+"/"+form+"/"+place, func(t *testing.T) {
					shown, err := build(t, text, secret)
					assert.Contains(t, shown, withheld)
					for _, s := range []string{shown, fmt.Sprint(err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
						assert.NotContains(t, s, text, "the echo shows")
						if len(fold(secret, false)) >= minRun {
							assert.NotContains(t, fold(s, false), fold(secret, false)[:minRun], "a run of the secret shows")
						}
					}
				})
			}
		}
	}
}

// TestAnEchoedHeaderNameIsLeftOut: a secret that is a valid header name,
// sent back as the name of a header, leaves that header out.
func TestAnEchoedHeaderNameIsLeftOut(t *testing.T) {
	t.Parallel()
	const secret = "Tr0ub4dor-And3-Horse"
	h := http.Header{secret: {"1"}, "X-Other": {"kept"}}
	ae := apiError(t, statusError(401, h, "", secret))
	assert.NotContains(t, ae.Header, secret)
	assert.Equal(t, "kept", ae.Header.Get("X-Other"))
	assert.Equal(t, []string{"1"}, h[secret], "the answer's own header is left alone")
}

// TestAShortSecretIsWithheldOnlyAsAWholeWord: a secret shorter than minRun
// letters and digits (a 2FA code, a short password) withholds a text that
// holds it as a word, never one that merely holds its characters.
func TestAShortSecretIsWithheldOnlyAsAWholeWord(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		secret, text string
		withheld     bool
	}{
		{"048576", "code 048576 refused", true},
		{"048576", "body larger than the 1048576-byte limit", false},
		{"x", "password x is wrong", true},
		{"x", "unexpected end of JSON input", false},
		{"Pa55", "PA55", true},
		{"Pa55", "Pa55word", false},
		{"ab-cd", "(ab-cd)", true},
	} {
		assert.Equal(t, tc.withheld, echoOf([]string{tc.secret}).in(tc.text), "%q in %q", tc.secret, tc.text)
	}
}

// TestRedactionNeverAltersWhatHoldsNoSecret is the property that the rule
// must keep: for any secret, an error built from an answer that does not
// carry it is byte for byte the error built with no secret at all. The
// SDK's own words are never checked, so a secret that is one of them
// ("token", "limit", "end") changes nothing.
func TestRedactionNeverAltersWhatHoldsNoSecret(t *testing.T) {
	t.Parallel()
	answers := []struct {
		status int
		header http.Header
		body   string
	}{
		{200, http.Header{"Content-Type": {"application/json"}}, ""},
		{200, http.Header{"Content-Type": {"text/html"}}, "<html>oops</html>"},
		{200, nil, `{"access_token":"a"}`},
		{200, nil, `{"access_token":1,"refresh_token":"r"}`},
		{200, nil, strings.Repeat("a", 4<<10+10)}, // over decodeAnswer's limit
		{401, http.Header{"X-Request-Id": {"req-7"}}, `{"error":"wrong email or password"}`},
		{422, nil, `{"error":{"code":"invalid","reason":"Validation failed"},"fields":{"password":[{"code":"short","message":"too short"}]}}`},
		{424, nil, `{"error":"2FA grace period expired"}`},
		{502, http.Header{"Content-Type": {"text/plain"}}, "Bad Gateway"},
		{503, http.Header{"Retry-After": {"120"}}, ""},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	secrets := []string{"token", "limit", "end", "answer", "auth", "POST", "x", "1", "userauth", "unexpected"}
	for range 40 {
		secrets = append(secrets, fmt.Sprintf("%06d", rng.IntN(1e6)), randomSecret(rng, 8+rng.IntN(40)))
	}
	for _, a := range answers {
		build := func(secret string) string {
			h := a.header.Clone()
			if h == nil {
				h = http.Header{}
			}
			var err error
			if a.status == 200 {
				err = decodeAnswer(t, h, a.body, secret)
			} else {
				err = statusError(a.status, h, a.body, secret)
			}
			return pointers.ReplaceAllString(fmt.Sprintf("%v|%+v|%#v", err, err, err), "(pointer)")
		}
		none := build("")
		for _, secret := range secrets {
			if echoOf([]string{secret}).in(a.body + fmt.Sprint(a.header)) {
				continue // the answer carries it: the property says nothing
			}
			assert.Equal(t, none, build(secret), "secret %q altered an error of an answer that does not carry it", secret)
		}
	}
}

// pointers matches the addresses %#v prints, which differ between runs.
var pointers = regexp.MustCompile(`\(0x[0-9a-f]+\)`)

func randomSecret(rng *rand.Rand, n int) string {
	const chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_!@#"
	b := make([]byte, n)
	for i := range b {
		b[i] = chars[rng.IntN(len(chars))]
	}
	return string(b)
}

// decodeAnswer is the error the Client makes of a 2xx token answer, for a
// call whose secret is secret.
func decodeAnswer(t *testing.T, h http.Header, body, secret string) error {
	t.Helper()
	c, err := NewClient(testBase, WithMaxResponseBytes(4<<10))
	require.NoError(t, err)
	resp := &http.Response{StatusCode: 200, Header: h, Body: io.NopCloser(strings.NewReader(body))}
	return c.decode(&call{method: "POST", path: "/v1/auth/token", secrets: []string{secret}}, resp, new(TokenResponse))
}

func apiError(t *testing.T, err error) *APIError {
	t.Helper()
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	return ae
}

func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestCleanReplacesControlCharacters: control characters and bidi
// overrides from the server never reach an error string.
func TestCleanReplacesControlCharacters(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "a\uFFFDb \uFFFDc", clean("a\x1bb\r\n\u202Ec", 100))
	assert.Equal(t, "ab...", clean("abcdef", 2))
}

// TestASecretThatIsNotUTF8NeverPanics: a short secret in Latin-1 (a
// password, an API key) is matched byte for byte, and nothing panics.
func TestASecretThatIsNotUTF8NeverPanics(t *testing.T) {
	t.Parallel()
	for _, secret := range []string{"p\xe4ss", "k\xe4y", "\xff", "long-secret-\xe4\xe4\xe4-1234"} {
		err := statusError(401, nil, jsonOf(map[string]any{"error": "no"}), secret)
		assert.NotContains(t, err.Error(), withheld)
		err = statusError(401, http.Header{"X-Echo": {"bad " + secret}}, "", secret)
		assert.Equal(t, withheld, apiError(t, err).Header.Get("X-Echo"), "%q", secret)
	}
}

// TestAnEchoInAnotherCaseIsWithheldInAnyScript: case-insensitive means as
// other languages change case too: Greek final sigma, Turkish dotless i,
// German ß as SS.
func TestAnEchoInAnotherCaseIsWithheldInAnyScript(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ secret, echo string }{
		{"καλώς φίλος", strings.ToUpper("καλώς φίλος")},
		{"ΚΑΛΩΣ ΦΙΛΟΣ", "καλως φιλος"},
		{"kırmızı kılıç", strings.ToUpper("kırmızı kılıç")},
		{"straße12", "STRASSE12"},
		{"pass😀word😀1234", `pass\ud83d\ude00word\ud83d\ude001234`}, // Python's json.dumps
	} {
		err := statusError(401, nil, `{"error":"unknown user `+tc.echo+`"}`, tc.secret)
		assert.Contains(t, err.Error(), withheld, "%q echoed as %q", tc.secret, tc.echo)
		assert.Equal(t, withheld, string(apiError(t, err).Body), "%q echoed as %q", tc.secret, tc.echo)
	}
}

// TestACutThatMakesAShortSecretAWordIsWithheld: a text cut where the SDK
// cuts it (the 4 KiB body, a 256-byte message) is checked as shown: the
// cut must not make a word of a 2FA code.
func TestACutThatMakesAShortSecretAWordIsWithheld(t *testing.T) {
	t.Parallel()
	const code = "123456"
	body := strings.Repeat("x", maxErrorBody-7) + " 1234567"
	ae := apiError(t, statusError(500, http.Header{"Content-Type": {"text/html"}}, body, code))
	assert.False(t, echoOf([]string{code}).in(string(ae.Body)), "Body shows the code")
	err := statusError(422, nil, jsonOf(map[string]any{"error": strings.Repeat("x", maxMessageLen-7) + " 1234567"}), code)
	assert.False(t, echoOf([]string{code}).in(err.Error()), "Error shows the code: %v", err)
}

// TestTheSchemeOfACredentialIsNoSecret: "Bearer" is the scheme, not the
// credential: a header that names it keeps its value.
func TestTheSchemeOfACredentialIsNoSecret(t *testing.T) {
	t.Parallel()
	assert.Equal(t, []string{"realm-token-0123"}, requestCredentials(http.Header{"Authorization": {"Bearer realm-token-0123"}}))
	e := echoOf(requestCredentials(http.Header{"Authorization": {"Bearer realm-token-0123"}}))
	assert.False(t, e.in(`Bearer realm="api", error="invalid_token"`))
}

// BenchmarkEchoIn is the cost of checking a large server text: a 1 MiB
// body against the secrets of a Login with a short password and captcha,
// and against a long refresh token.
func BenchmarkEchoIn(b *testing.B) {
	text := strings.Repeat("a quick brown fox, ", 1<<20/19)
	for name, secrets := range map[string][]string{"short": {"pw", "cap"}, "long": {"refresh-token-0123456789abcdef"}} {
		b.Run(name, func(b *testing.B) {
			e := echoOf(secrets)
			b.SetBytes(int64(len(text)))
			for range b.N {
				if e.in(text) {
					b.Fatal("a sign in a text that holds none")
				}
			}
		})
	}
}
