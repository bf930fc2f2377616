package userauth

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseErrorBody(t *testing.T) {
	tests := []struct {
		name        string
		body, ctype string
		code, msg   string
		fields      map[string][]FieldError
	}{
		{"nested error", `{"error":{"code":"404","reason":"User not found"}}`, "application/json", "404", "User not found", nil},
		{"nested numeric code", `{"error":{"code":404,"reason":"gone"}}`, "application/json", "404", "gone", nil},
		{"nested message", `{"error":{"code":"x","message":"m"}}`, "", "x", "m", nil},
		{"error string", `{"error":"invalid_grant"}`, "application/json", "", "invalid_grant", nil},
		{"plain message", `{"message":"Invalid credentials"}`, "application/json", "", "Invalid credentials", nil},
		{"top-level code", `{"code":"E42","message":"m"}`, "application/json", "E42", "m", nil},
		{"fields", `{"fields":{"alternate_id":[{"code":"uniqueness","message":"taken"}],"empty":[]}}`, "application/json",
			"", "", map[string][]FieldError{"alternate_id": {{Code: "uniqueness", Message: "taken"}}}},
		{"plain text", "Bad Gateway\n", "text/plain; charset=utf-8", "", "Bad Gateway", nil},
		{"html", "<html><body>502</body></html>", "text/html", "", "", nil},
		{"text not marked as text", "oops", "application/octet-stream", "", "", nil},
		{"empty", "", "application/json", "", "", nil},
		{"whitespace", " \n ", "", "", "", nil},
		{"truncated json", `{"error":{"code":"4`, "application/json", "", "", nil},
		{"json array", `[1,2]`, "application/json", "", "", nil},
		{"null", `null`, "application/json", "", "", nil},
		{"wrong types", `{"error":[1],"fields":"x"}`, "application/json", "", "", nil},
		{"multiline message folded", `{"message":"a\n\tb"}`, "", "", "a b", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, msg, fields := parseErrorBody([]byte(tt.body), tt.ctype)
			assert.Equal(t, tt.code, code)
			assert.Equal(t, tt.msg, msg)
			assert.Equal(t, tt.fields, fields)
		})
	}
}

func TestParseErrorBodyLongMessageCut(t *testing.T) {
	_, msg, _ := parseErrorBody([]byte(`{"message":"`+strings.Repeat("é", 400)+`"}`), "")
	assert.LessOrEqual(t, len(msg), maxMessageLen+3)
	assert.True(t, strings.HasSuffix(msg, "..."))
	assert.True(t, utf8.ValidString(msg))
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"120", 2 * time.Minute, true},
		{" 7 ", 7 * time.Second, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{"99999999999999999", time.Duration(1<<63 - 1).Truncate(time.Second), true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := parseRetryAfter(tt.in, now)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestNewStatusErrorKeepsStatusWhateverTheBody(t *testing.T) {
	bodies := map[string]string{
		"empty": "", "text": "nope", "html": "<h1>502</h1>", "truncated": `{"error":{"co`, "binary": "\x00\xff\xfe",
	}
	for name, body := range bodies {
		for _, code := range []int{101, 307, 418, 424, 599} {
			t.Run(fmt.Sprintf("%s/%d", name, code), func(t *testing.T) {
				resp := &http.Response{StatusCode: code, Header: http.Header{"Content-Type": {"text/html"}}}
				err := newStatusError("POST", "/auth/token", resp, []byte(body), nil, time.Now())
				var ae *APIError
				require.True(t, errors.As(err, &ae))
				assert.Equal(t, code, ae.StatusCode)
				assert.Equal(t, []byte(body), ae.Body)
				assert.Contains(t, err.Error(), fmt.Sprintf("userauth: POST /auth/token: %d", code))
			})
		}
	}
}

func TestAPIErrorString(t *testing.T) {
	err := newStatusError("POST", "/auth/token", &http.Response{StatusCode: 422, Header: http.Header{"X-Request-Id": {"r1"}}},
		[]byte(`{"error":{"code":"invalid","reason":"Validation failed"},"fields":{"password":[{"code":"short","message":"too short"}],"email":[]}}`),
		nil, time.Now())
	assert.Equal(t, `userauth: POST /auth/token: 422 unprocessable entity: code "invalid": Validation failed: invalid fields password (request id r1)`, err.Error())
	assert.NotContains(t, fmt.Sprintf("%#v", err), "Header")
}

func TestScrub(t *testing.T) {
	assert.Equal(t, "a [redacted] b [redacted]", string(scrub([]byte("a s3cret b s3cret"), []string{"", "s3cret"})))
	in := []byte("nothing here")
	assert.Same(t, &in[0], &scrub(in, []string{"x"})[0], "no copy without a match")
}

func FuzzParseErrorBody(f *testing.F) {
	for _, seed := range []string{
		`{"error":{"code":"404","reason":"nope"}}`,
		`{"error":{"code":404}}`,
		`{"error":"x"}`,
		`{"fields":{"a":[{"code":"c","message":"m"}]}}`,
		`{"message":"m","code":1e3}`,
		"Bad Gateway",
		"<html></html>",
		"",
		`{"error":`,
	} {
		f.Add([]byte(seed), "application/json")
		f.Add([]byte(seed), "text/plain")
	}
	f.Fuzz(func(t *testing.T, body []byte, ctype string) {
		code, msg, fields := parseErrorBody(body, ctype)
		for _, s := range []string{code, msg} {
			if len(s) > maxMessageLen+3 {
				t.Fatalf("got %d bytes, want at most %d", len(s), maxMessageLen+3)
			}
			if strings.ContainsAny(s, "\n\r\t") {
				t.Fatalf("got %q, want one line", s)
			}
		}
		for name, errs := range fields {
			if len(errs) == 0 {
				t.Fatalf("field %q kept with no errors", name)
			}
		}
		resp := &http.Response{StatusCode: 400, Header: http.Header{"Content-Type": {ctype}}}
		err := newStatusError("POST", "/auth/token", resp, body, nil, time.Now())
		if !strings.HasPrefix(err.Error(), "userauth: POST /auth/token: 400") {
			t.Fatalf("got %q", err)
		}
	})
}
