package userauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
)

// authCall is how the store calls an authenticated endpoint of the API:
// path, under the API's base URL, is sent with body as JSON (none when
// nil) through the store's transport, so a 401 renews the tokens and the
// request is made again, and a 424 takes the 2FA step when the store has a
// TwoFactorHandler; a 2xx answer is decoded into out. It repeats nothing
// else: an endpoint that creates something is not safe to repeat. A
// refusal is a *ClientError or *ServerError naming shown, the path as
// errors may show it (with what in it is secret left out); secrets are
// withheld from what the server sends back.
func (s *TokenStore) authCall(ctx context.Context, method string, u *url.URL, shown string, body any, out answer, secrets ...string) error {
	if err := s.made(); err != nil {
		return err
	}
	if ctx == nil {
		return errNilContext
	}
	var reader io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		reader = bytes.NewReader(data) // rewindable: the transport may send it again after a 401
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), reader)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.HTTPClient().Do(req)
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: shown, Err: ue.Err} // the URL may hold a secret (DeleteAPIKey's id)
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return newStatusError(method, shown, "", resp, echoOf(secrets))
	}
	return s.client.decode(&call{c: s.client, method: method, path: shown, secrets: secrets}, resp, out)
}

// apiURL is the API's base URL joined with the path segments, each sent
// verbatim: a slash inside one is escaped, never a new segment.
func (s *TokenStore) apiURL(segments ...string) *url.URL {
	if s.made() != nil {
		return &url.URL{} // authCall refuses the call
	}
	u := s.client.BaseURL()
	for _, seg := range segments {
		raw := u.EscapedPath()
		if raw == "" || raw[len(raw)-1] != '/' {
			raw += "/"
		}
		if u.Path == "" || u.Path[len(u.Path)-1] != '/' {
			u.Path += "/"
		}
		u.Path += seg
		u.RawPath = raw + url.PathEscape(seg)
	}
	return u
}

// jsonObject decodes a 2xx answer that must be a JSON object into v.
type jsonObject struct{ v any }

func (r jsonObject) decode(data []byte, _ http.Header, _ []string) error {
	if t := bytes.TrimSpace(data); len(t) == 0 || t[0] != '{' {
		return contractError("not a JSON object")
	}
	return json.Unmarshal(data, r.v)
}
