package userauth

import (
	"errors"
	"fmt"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestOnlyNetHTTPsOwnWordsMakeAStreamUnprocessed: h2Unprocessed takes the
// whole text of the innermost error, as net/http writes it, and nothing
// that merely holds those words.
func TestOnlyNetHTTPsOwnWordsMakeAStreamUnprocessed(t *testing.T) {
	t.Parallel()
	const prefix, suffix = "http2: Transport: cannot retry err [", "] after Request.Body was written; define Request.GetBody to avoid this error"
	goaway := prefix + "http2: Transport received Server's graceful shutdown GOAWAY" + suffix
	refused := prefix + "stream error: stream ID 3; REFUSED_STREAM; received from peer" + suffix
	wrap := func(s string) error {
		return &url.Error{Op: "Post", URL: "https://api/auth/token", Err: errors.New(s)}
	}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"GOAWAY", wrap(goaway), true},
		{"REFUSED_STREAM", wrap(refused), true},
		{"PROTOCOL_ERROR", wrap(prefix + "stream error: stream ID 1; PROTOCOL_ERROR; received from peer" + suffix), false},
		{"quoted in a header line", wrap("net/http: HTTP/1.x transport connection broken: malformed MIME header line: X-A: " + refused), false},
		{"in GOAWAY debug data", wrap(fmt.Sprintf("http2: server sent GOAWAY and closed the connection; LastStreamID=1, ErrCode=NO_ERROR, debug=%q", goaway)), false},
		{"with more after it", wrap(goaway + " and more"), false},
	} {
		assert.Equal(t, tc.want, h2Unprocessed(tc.err), tc.name)
	}
}
