package userauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseErrorBody(t *testing.T) {
	t.Parallel()
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
		{"multiline message kept for cleaning later", `{"message":"a\n\tb"}`, "", "", "a\n\tb", nil},
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

func TestMessageCleanedAndCut(t *testing.T) {
	t.Parallel()
	var ae *APIError
	require.ErrorAs(t, statusError(400, nil, `{"message":"`+strings.Repeat("é", 400)+`"}`), &ae)
	assert.LessOrEqual(t, len(ae.Message), maxMessageLen+3)
	assert.True(t, strings.HasSuffix(ae.Message, "..."))
	assert.True(t, utf8.ValidString(ae.Message))
	require.ErrorAs(t, statusError(400, nil, `{"message":"a\n\tb"}`), &ae)
	assert.Equal(t, "a b", ae.Message, "one line")
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
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

// statusError is newStatusError on an answer with the given status, header
// and body.
func statusError(code int, h http.Header, body string, secrets ...string) error {
	if h == nil {
		h = http.Header{}
	}
	resp := &http.Response{StatusCode: code, Header: h, Body: io.NopCloser(strings.NewReader(body))}
	return newStatusError("POST", "/auth/token", "auth/token", resp, echoOf(secrets))
}

func TestNewStatusErrorKeepsStatusWhateverTheBody(t *testing.T) {
	t.Parallel()
	bodies := map[string]string{
		"empty": "", "text": "nope", "html": "<h1>502</h1>", "truncated": `{"error":{"co`, "binary": "\x00\xff\xfe",
	}
	for name, body := range bodies {
		for _, code := range []int{307, 418, 424, 599} {
			t.Run(fmt.Sprintf("%s/%d", name, code), func(t *testing.T) {
				err := statusError(code, http.Header{"Content-Type": {"text/html"}}, body)
				var ae *APIError
				require.True(t, errors.As(err, &ae))
				assert.Equal(t, code, ae.StatusCode)
				assert.Equal(t, []byte(body), ae.Body)
				assert.Contains(t, err.Error(), fmt.Sprintf("userauth: POST /auth/token: %d", code))
			})
		}
	}
}

// blockingBody is a body whose Read never returns until it is closed: the
// connection of a 101 answer, switched to another protocol.
type blockingBody struct{ closed chan struct{} }

func (b *blockingBody) Read([]byte) (int, error) { <-b.closed; return 0, io.EOF }
func (b *blockingBody) Close() error {
	select {
	case <-b.closed:
	default:
		close(b.closed)
	}
	return nil
}

func TestSwitchingProtocolsBodyNeverRead(t *testing.T) {
	t.Parallel()
	for name, check := range map[string]func(*http.Response) error{
		"newStatusError": func(r *http.Response) error { return newStatusError("POST", "/auth/token", "auth/token", r, nil) },
		"CheckResponse":  CheckResponse,
	} {
		t.Run(name, func(t *testing.T) {
			body := &blockingBody{closed: make(chan struct{})}
			defer body.Close()
			resp := &http.Response{StatusCode: http.StatusSwitchingProtocols, Header: http.Header{}, Body: body}
			done := make(chan error, 1)
			go func() { done <- check(resp) }()
			select {
			case err := <-done:
				var ue *UnexpectedStatusError
				require.ErrorAs(t, err, &ue)
				assert.Equal(t, 101, ue.StatusCode)
				assert.Empty(t, ue.Body)
			case <-time.After(10 * time.Second):
				t.Fatal("still reading the body of a 101 answer after 10s")
			}
		})
	}
}

func TestAPIErrorString(t *testing.T) {
	t.Parallel()
	err := statusError(422, http.Header{"X-Request-Id": {"r1"}},
		`{"error":{"code":"invalid","reason":"Validation failed"},"fields":{"password":[{"code":"short","message":"too short"}],"email":[]}}`)
	assert.Equal(t, `userauth: POST /auth/token: 422 unprocessable entity: code "invalid": Validation failed: invalid fields password (request id r1)`, err.Error())
	assert.NotContains(t, fmt.Sprintf("%#v", err), "Header")
}

// TestServerTextCleaned sends control characters in every part of an error
// that reaches an error string: none may pass.
func TestServerTextCleaned(t *testing.T) {
	t.Parallel()
	const evil = "a\x1b[31mred\x07\x9b2J\u202Eevil\r\nforged"
	jsonEvil, _ := json.Marshal(evil)
	body := `{"error":{"code":` + string(jsonEvil) + `,"reason":` + string(jsonEvil) + `},"fields":{` +
		string(jsonEvil) + `:[{"code":` + string(jsonEvil) + `,"message":` + string(jsonEvil) + `}]}}`
	err := statusError(422, http.Header{"X-Request-Id": {evil}}, body)
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	texts := []string{err.Error(), ae.Code, ae.Message, ae.RequestID}
	for name, errs := range ae.Fields {
		texts = append(texts, name)
		for _, fe := range errs {
			texts = append(texts, fe.Code, fe.Message)
		}
	}
	for _, s := range texts {
		assert.False(t, strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || r == 0x202E }),
			"got %q, want no control characters", s)
	}
	assert.Contains(t, ae.Message, "red", "the printable text is kept")

	plain := statusError(502, http.Header{"Content-Type": {"text/plain"}}, "bad\x1b]0;title\x07 gateway")
	assert.NotContains(t, plain.Error(), "\x1b")
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
		_, _, fields := parseErrorBody(body, ctype) // must never panic
		for name, errs := range fields {
			if len(errs) == 0 {
				t.Fatalf("field %q kept with no errors", name)
			}
		}
		err := statusError(400, http.Header{"Content-Type": {ctype}}, string(body))
		if !strings.HasPrefix(err.Error(), "userauth: POST /auth/token: 400") {
			t.Fatalf("got %q", err)
		}
		var ae *APIError
		if !errors.As(err, &ae) {
			t.Fatalf("got %T, want an *APIError", err)
		}
		texts := []string{ae.Code, ae.Message, err.Error()}
		for name, errs := range ae.Fields {
			texts = append(texts, name)
			for _, fe := range errs {
				texts = append(texts, fe.Code, fe.Message)
			}
		}
		for _, s := range texts {
			if strings.ContainsFunc(s, unicode.IsControl) {
				t.Fatalf("got %q, want no control characters", s)
			}
		}
		for _, s := range []string{ae.Code, ae.Message} {
			if len(s) > maxMessageLen+3 {
				t.Fatalf("got %d bytes, want at most %d", len(s), maxMessageLen+3)
			}
		}
	})
}
