package userauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxErrorBody is how much of an error answer's body APIError.Body keeps.
const maxErrorBody = 4 << 10

// maxMessageLen bounds the server message quoted in an error string.
const maxMessageLen = 256

// maxRequestIDLen bounds the request id quoted in an error string.
const maxRequestIDLen = 128

// ErrResponseTooLarge is matched (with errors.Is) by the error returned when
// an answer's body is larger than the limit set with WithMaxResponseBytes.
// The rest of such a body is never read.
var ErrResponseTooLarge = errors.New("userauth: response body too large")

// ErrLoginRequired is returned by a TokenStore that has no tokens, or whose
// refresh token the server rejected: the user must log in again.
var ErrLoginRequired = errors.New("userauth: login required")

// ErrInvalidCredentials is matched (with errors.Is) by the *ClientError of
// a login the server refused with 401: a wrong e-mail, alternate ID or
// password. The server's message is in the error's Message.
var ErrInvalidCredentials = errors.New("userauth: invalid credentials")

// ErrInvalidCode is matched (with errors.Is) by the *ClientError of a 2FA
// step whose code the server refused (422 from /auth/2fa): wrong, expired
// or already used. The step stays pending; ask the user again. A 401 from
// /auth/2fa refuses the refresh token instead, not the code.
var ErrInvalidCode = errors.New("userauth: 2FA code refused")

// ErrNotRevoked is matched (with errors.Is) by the error of a
// TokenStore.Logout that forgot the tokens here, but could not have the
// server revoke them (it could not be reached, or refused): the tokens may
// still work until they expire. The server's error is wrapped too.
var ErrNotRevoked = errors.New("userauth: logged out here, but the server did not revoke the tokens")

// ErrTwoFactorRequired is matched (with errors.Is) by a
// *TwoFactorRequiredError.
var ErrTwoFactorRequired = errors.New("userauth: two-factor authentication required")

// ErrTwoFactorExpired means the 2FA grace period has expired: the API
// answered 424 Failed Dependency, and a fresh code must be posted to
// /auth/2fa before the request is repeated. A TokenStore with a
// TwoFactorHandler does that by itself; without one, its transport hands
// the 424 answer back, and CheckResponse turns it into an error matching
// ErrTwoFactorExpired.
var ErrTwoFactorExpired = errors.New("userauth: two-factor grace period expired")

// ErrUnsendableToken is matched by the error for an access token that holds
// a byte no HTTP header can carry (a control character such as CR or LF),
// whether it came in a server's answer, through SetToken or from storage.
// Such a token is refused where it enters: presented, it would fail every
// request in the transport before the server saw it, so no 401 would ever
// come to renew it.
var ErrUnsendableToken error = contractError("userauth: access token holds a byte no HTTP header can carry")

// contractError is the SDK's own account of an answer that breaks the
// contract: its words hold nothing of the server's, so redaction leaves
// them as they are.
type contractError string

func (e contractError) Error() string { return string(e) }
func (contractError) sdkWords()       {}

// jsonCause is err, or, for an error of encoding/json, the SDK's account
// of it, which leaves out the character or number of the answer that
// encoding/json quotes: so no redaction is needed, and none can alter its
// words.
func jsonCause(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var when *time.ParseError
	switch {
	case errors.As(err, &when): // it quotes the value, which may be a secret of the answer
		return contractError("a time in the answer is not RFC 3339")
	case errors.As(err, &syntax) && strings.HasPrefix(syntax.Error(), "invalid character"):
		return contractError(fmt.Sprintf("invalid character at byte %d of the JSON answer", syntax.Offset))
	case errors.As(err, &syntax):
		return contractError(syntax.Error()) // "unexpected end of JSON input"
	case errors.As(err, &typ):
		return contractError(fmt.Sprintf("cannot unmarshal %s into field %s of type %s", strings.Fields(typ.Value + " ")[0], typ.Field, typ.Type))
	}
	return err
}

// TwoFactorRequiredError reports a pending 2FA step that the TokenStore
// cannot complete by itself, having no TwoFactorHandler: call
// TokenStore.CompleteTwoFactor with the user's code. It matches
// ErrTwoFactorRequired.
type TwoFactorRequiredError struct {
	// Method is the kind of code the API asks for.
	Method TwoFactorMethod
}

// Error names the method.
func (e *TwoFactorRequiredError) Error() string {
	return "userauth: two-factor authentication required (" + e.Method.String() + ")"
}

// Is makes errors.Is(err, ErrTwoFactorRequired) true.
func (e *TwoFactorRequiredError) Is(target error) bool { return target == ErrTwoFactorRequired }

// APIError describes an answer of the API with a status other than 2xx. It
// is never returned bare: a call returns a *ClientError (4xx), a *ServerError
// (5xx) or an *UnexpectedStatusError (1xx, 3xx), and each of them matches
// errors.As(err, &apiErr) with apiErr of type *APIError.
//
// Error never includes the body, and secrets sent with the request are
// replaced by "[redacted]" in Message, Fields and Body should the server echo
// them back.
type APIError struct {
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Method and Path name the call, for example "POST" and "/auth/token".
	// Path never has a query string.
	Method, Path string
	// Code is the server's error code, when it sends one (a code that only
	// repeats the status is left out).
	Code string
	// Message is the server's message: the "error" of the API's
	// {"error": "...", "fields": {...}} body; without one, the first field
	// error's message (by field name). Older forms are read too: a nested
	// {"error":{"code","reason"}}, a top-level {"code","message"}, and a
	// short plain-text body.
	Message string
	// Fields holds the per-field validation errors of the body's "fields"
	// ({"name": [{"code", "message"}]}), as a 422 answer has them.
	Fields map[string][]FieldError
	// RequestID is the X-Request-Id header of the answer, when present.
	RequestID string
	// RetryAfter is the Retry-After header of the answer (seconds or an HTTP
	// date), zero when absent.
	RetryAfter time.Duration
	// Body is the head of the body, at most 4 KiB of it, with the secrets
	// of the request scrubbed (redacted whole when one shows unescaped).
	Body []byte
	// Header is the header of the answer.
	Header http.Header

	endpoint string // the API endpoint called, relative to the base URL; "" for CheckResponse
}

// FieldError is one validation failure of one request field.
type FieldError struct {
	// Code is a machine-readable reason, such as "uniqueness".
	Code string `json:"code"`
	// Message is a human-readable explanation.
	Message string `json:"message"`
}

// Error formats the status, the call and the parsed code and message.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("userauth: ")
	b.WriteString(e.Method)
	b.WriteByte(' ')
	b.WriteString(e.Path)
	b.WriteString(": ")
	b.WriteString(strconv.Itoa(e.StatusCode))
	if t := http.StatusText(e.StatusCode); t != "" {
		b.WriteByte(' ')
		b.WriteString(strings.ToLower(t))
	}
	if e.Code != "" {
		b.WriteString(": code ")
		b.WriteString(strconv.Quote(e.Code))
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if len(e.Fields) > 0 {
		b.WriteString(": invalid fields")
		for _, name := range slices.Sorted(maps.Keys(e.Fields)) {
			b.WriteByte(' ')
			b.WriteString(name)
		}
	}
	if e.RequestID != "" {
		b.WriteString(" (request id ")
		b.WriteString(e.RequestID)
		b.WriteByte(')')
	}
	return b.String()
}

// Is makes errors.Is(err, ErrTwoFactorExpired) true for a 424 answer,
// errors.Is(err, ErrInvalidCredentials) for a 401 from /auth/token, and
// errors.Is(err, ErrInvalidCode) for a 422 from /auth/2fa that refuses the
// code (a field error on "code", or none at all).
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrTwoFactorExpired:
		return e.StatusCode == http.StatusFailedDependency
	case ErrInvalidCredentials:
		return e.StatusCode == http.StatusUnauthorized && e.endpoint == epLogin.path
	case ErrInvalidCode:
		_, onCode := e.Fields["code"]
		return e.StatusCode == http.StatusUnprocessableEntity && e.endpoint == epTwoFactor.path &&
			(onCode || len(e.Fields) == 0)
	}
	return false
}

// GoString keeps %#v to the fields that Error shows, leaving out the header
// and the body.
func (e *APIError) GoString() string {
	return fmt.Sprintf("&userauth.APIError{StatusCode:%d, Method:%q, Path:%q, Code:%q, Message:%q, RequestID:%q}",
		e.StatusCode, e.Method, e.Path, e.Code, e.Message, e.RequestID)
}

// ClientError is a 4xx answer: the Go form of the Kotlin ClientException.
// The request should not be repeated unchanged (429 excepted, which the
// client already retries).
type ClientError struct{ APIError }

// Unwrap exposes the embedded *APIError to errors.As.
func (e *ClientError) Unwrap() error { return &e.APIError }

// ServerError is a 5xx answer: the Go form of the Kotlin ServerException.
type ServerError struct{ APIError }

// Unwrap exposes the embedded *APIError to errors.As.
func (e *ServerError) Unwrap() error { return &e.APIError }

// UnexpectedStatusError is a 1xx or 3xx answer, which the API never
// documents (the Kotlin client throws UnsupportedOperationException).
// Redirects are never followed: following one could send a password to
// another host.
type UnexpectedStatusError struct{ APIError }

// Unwrap exposes the embedded *APIError to errors.As.
func (e *UnexpectedStatusError) Unwrap() error { return &e.APIError }

// ValidationError reports bad input caught before any request is sent.
type ValidationError struct {
	// Field is the JSON name of the offending field.
	Field string
	// Reason says what is wrong with it.
	Reason string
	// Err, when set, is a sentinel error the ValidationError matches, such
	// as ErrUnsendableToken.
	Err error
}

// Error formats the field and the reason; it never includes the value.
func (e *ValidationError) Error() string {
	return "userauth: invalid request: " + e.Field + " " + e.Reason
}

// Unwrap returns Err.
func (e *ValidationError) Unwrap() error { return e.Err }

// TransportError reports a call that got no HTTP answer: the connection
// could not be made or broke, a timeout fired, or the context ended; or
// whose answer broke off after its status line (then StatusCode is set,
// and a 2xx there means the server did act on the call). Err is the cause
// of the last attempt, so errors.Is(err, context.Canceled) and
// errors.Is(err, context.DeadlineExceeded) work through it.
type TransportError struct {
	// Method and Path name the call.
	Method, Path string
	// Attempts is how many times the request was tried.
	Attempts int
	// StatusCode is the status of an answer whose body could not be read;
	// zero when no answer came.
	StatusCode int
	// Err is the cause.
	Err error
}

// Error formats the call, the number of attempts and the cause.
func (e *TransportError) Error() string {
	s := "userauth: " + e.Method + " " + e.Path + ": "
	if e.Attempts > 1 {
		s += strconv.Itoa(e.Attempts) + " attempts: "
	}
	if e.StatusCode != 0 {
		s += "the " + strconv.Itoa(e.StatusCode) + " answer broke off: "
	}
	return s + e.Err.Error()
}

// Unwrap returns the cause.
func (e *TransportError) Unwrap() error { return e.Err }

// DecodeError reports a 2xx answer whose body is not what the contract
// promises: not JSON, not the expected shape, missing a required field, or
// larger than the size limit (then it matches ErrResponseTooLarge).
type DecodeError struct {
	// Method and Path name the call.
	Method, Path string
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// ContentType is the Content-Type header of the answer.
	ContentType string
	// Err is the cause.
	Err error
}

// Error formats the call and the cause; never the body.
func (e *DecodeError) Error() string {
	return fmt.Sprintf("userauth: %s %s: %d answer not understood: %v", e.Method, e.Path, e.StatusCode, e.Err)
}

// Unwrap returns the cause.
func (e *DecodeError) Unwrap() error { return e.Err }

// newStatusError builds the typed error for a non-2xx answer, reading at
// most the first bytes of its body (none of a 1xx answer, whose body may be
// a connection switched to another protocol). e tells the server's text
// that echoes a secret of the request, which is withheld (redact.go); path
// is the caller's, shown as it is.
func newStatusError(method, path, endpoint string, resp *http.Response, e *echo) error {
	ae := APIError{
		StatusCode: resp.StatusCode,
		Method:     method,
		Path:       path,
		Header:     e.header(resp.Header),
		endpoint:   endpoint,
	}
	var head []byte
	if resp.StatusCode >= 200 && resp.Body != nil {
		head, ae.Body = readErrorBody(resp.Body, e)
	}
	ae.RequestID = e.text(resp.Header.Get("X-Request-Id"), maxRequestIDLen)
	ae.RetryAfter, _ = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	code, message, fields := parseErrorBody(head, resp.Header.Get("Content-Type"))
	if code == strconv.Itoa(resp.StatusCode) {
		code = "" // a copy of the status says nothing more
	}
	if message == "" {
		message = firstFieldMessage(fields)
	}
	ae.Code = e.text(code, maxMessageLen)
	ae.Message = e.text(message, maxMessageLen)
	ae.Fields = e.fields(fields)
	switch {
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		return &ClientError{ae}
	case resp.StatusCode >= 500:
		return &ServerError{ae}
	default:
		return &UnexpectedStatusError{ae}
	}
}

// CheckResponse returns nil for a 2xx answer and, for any other, the same
// typed error the Client's own calls return (*ClientError, *ServerError or
// *UnexpectedStatusError, all matching errors.As with *APIError). A 424
// matches ErrTwoFactorExpired. It reads at most 4 KiB of the body and puts
// them back, so the body can still be read whole; it never reads the body
// of a 1xx answer. The credentials the request carried (its Authorization
// and X-Api-Key headers) are scrubbed from the error, should the server
// echo them.
func CheckResponse(resp *http.Response) error {
	if resp == nil {
		return &ValidationError{Field: "resp", Reason: "must not be nil"}
	}
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return nil
	}
	method, path := http.MethodGet, ""
	var secrets []string // of every request of the redirect chain: a later one may lack them
	for r := resp.Request; r != nil; r = r.Response.Request {
		secrets = append(secrets, requestCredentials(r.Header)...)
		if r.Response == nil {
			break
		}
	}
	e := echoOf(secrets)
	if r := resp.Request; r != nil {
		method = r.Method
		switch {
		case r.URL != nil && r.Response != nil: // a redirect's target, chosen by the server
			path = e.text(r.URL.Path, maxMessageLen)
		case r.URL != nil:
			path = clean(r.URL.Path, maxMessageLen)
		}
	}
	if resp.StatusCode < 200 || resp.Body == nil {
		return newStatusError(method, path, "", resp, e)
	}
	var head bytes.Buffer
	body := resp.Body
	resp.Body = io.NopCloser(io.TeeReader(body, &head)) // newStatusError reads through it
	err := newStatusError(method, path, "", resp, e)
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(&head, body), body}
	return err
}

// requestCredentials lists the credentials a request carries in h.
func requestCredentials(h http.Header) []string {
	var out []string
	if v := h.Get("Authorization"); v != "" {
		if _, cred, ok := strings.Cut(v, " "); ok {
			v = cred // the scheme (Bearer) is no secret, and would match any text that names it
		}
		out = append(out, v)
	}
	if v := h.Get("X-Api-Key"); v != "" {
		out = append(out, v)
	}
	return out
}

// parseRetryAfter reads a Retry-After header: a number of seconds or an
// HTTP date. A date in the past means zero.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		const maxSecs = int64(1<<63-1) / int64(time.Second)
		if secs > maxSecs {
			secs = maxSecs
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d, true
		}
		return 0, true
	}
	return 0, false
}

// answeredSuccess reports an error that came after a 2xx status: the
// server acted on the call, but its answer could not be read.
func answeredSuccess(err error) bool {
	var de *DecodeError
	var te *TransportError
	return (errors.As(err, &de) && de.StatusCode/100 == 2) || (errors.As(err, &te) && te.StatusCode/100 == 2)
}

// refused reports an API answer with the status.
func refused(err error, status int) bool {
	var ce *ClientError
	return errors.As(err, &ce) && ce.StatusCode == status
}
