package userauth

import (
	"bytes"
	"cmp"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"
)

// This file reads the body of an error answer: the API's
// {"error": "...", "fields": {...}}, the older forms it also sends, plain
// text from a proxy; every text it takes from there is made safe to show
// (redact.go) before it reaches an APIError.

// readErrorBody reads the head of an error answer: as it came, for
// parsing, and as APIError.Body keeps it: the first maxErrorBody bytes, or
// the marker when what was read echoes a secret. It reads as far past
// maxErrorBody as the longest form of a secret, so that a secret the limit
// cuts is still seen whole.
func readErrorBody(r io.Reader, e *echo) (head, kept []byte) {
	slack := 0
	if e != nil {
		slack = e.max
	}
	head, _ = io.ReadAll(io.LimitReader(r, int64(maxErrorBody+slack)))
	kept = head[:min(len(head), maxErrorBody)]
	if e.in(string(head)) || e.in(string(kept)) { // a cut can make a word of a short secret
		return head, []byte(withheld)
	}
	return head, kept
}

// errorBody is the union of the error shapes the API and its proxies send.
type errorBody struct {
	Error   json.RawMessage         `json:"error"`
	Code    json.RawMessage         `json:"code"`
	Message string                  `json:"message"`
	Reason  string                  `json:"reason"`
	Fields  map[string][]FieldError `json:"fields"`
}

// parseErrorBody extracts a code, a message and field errors from an error
// answer. It never fails: a body it does not understand yields nothing, and
// the status code alone still says what happened.
func parseErrorBody(body []byte, contentType string) (code, message string, fields map[string][]FieldError) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return "", "", nil
	}
	if trimmed[0] != '{' {
		// Plain text, such as a proxy's "Bad Gateway"; never an HTML page.
		if strings.HasPrefix(contentType, "text/plain") && utf8.Valid(trimmed) {
			return "", string(trimmed), nil
		}
		return "", "", nil
	}
	var eb errorBody
	if json.Unmarshal(trimmed, &eb) != nil {
		return "", "", nil
	}
	code, message = rawString(eb.Code), eb.Message
	if message == "" {
		message = eb.Reason
	}
	if c, m := nestedError(eb.Error); c != "" || m != "" {
		code, message = cmp.Or(c, code), cmp.Or(m, message)
	} else if s := rawString(eb.Error); s != "" {
		message = s // {"error": "text"}, the service's own form, first
	}
	for name, errs := range eb.Fields {
		if len(errs) > 0 {
			if fields == nil {
				fields = make(map[string][]FieldError, len(eb.Fields))
			}
			fields[name] = errs
		}
	}
	return code, message, fields
}

// nestedError reads the code and message of {"error": {"code", "reason"}}
// (or "message"), the seed version's form.
func nestedError(raw json.RawMessage) (code, message string) {
	var nested struct {
		Code    json.RawMessage `json:"code"`
		Reason  string          `json:"reason"`
		Message string          `json:"message"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &nested) != nil {
		return "", ""
	}
	return rawString(nested.Code), cmp.Or(nested.Reason, nested.Message)
}

// firstFieldMessage is the message of the first field error, by field
// name.
func firstFieldMessage(fields map[string][]FieldError) string {
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		for _, fe := range fields[name] {
			if fe.Message != "" {
				return fe.Message
			}
		}
	}
	return ""
}

// header is h, or a copy with each value that echoes a secret withheld and
// each header whose name does so left out.
func (e *echo) header(h http.Header) http.Header {
	out, copied := h, false
	change := func() {
		if !copied {
			out, copied = h.Clone(), true
		}
	}
	for k, vs := range h {
		for i, v := range vs {
			if e.in(v) {
				change()
				out[k][i] = withheld
			}
		}
		if e.in(k) {
			change()
			delete(out, k)
		}
	}
	return out
}

// fields is the decoded field errors as the SDK may show them, names
// included.
func (e *echo) fields(fields map[string][]FieldError) map[string][]FieldError {
	if len(fields) == 0 {
		return nil
	}
	out := make(map[string][]FieldError, len(fields))
	for name, errs := range fields {
		safe := make([]FieldError, len(errs))
		for i, fe := range errs {
			safe[i] = FieldError{Code: e.text(fe.Code, maxMessageLen), Message: e.text(fe.Message, maxMessageLen)}
		}
		out[e.text(name, maxMessageLen)] = safe
	}
	return out
}

// rawString reads a JSON string or number as text; anything else is "".
func rawString(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}
