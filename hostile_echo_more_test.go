package userauth_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"unicode"

	"github.com/tarilabs/userauth"
)

// echoLogin runs a Login against a server whose handler answers as h.
func echoLogin(t *testing.T, pw string, h http.HandlerFunc) error {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL, userauth.WithoutRetries())
	_, err := c.Login(context.Background(), userauth.LoginRequest{Email: "ann@example.com", Password: pw})
	if err == nil {
		t.Fatal("Login succeeded")
	}
	return err
}

// percentAll percent-encodes every byte of s, as some encoders do.
func percentAll(s string, upper bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if upper {
			fmt.Fprintf(&b, "%%%02X", s[i])
		} else {
			fmt.Fprintf(&b, "%%%02x", s[i])
		}
	}
	return b.String()
}

// TestHostileDoubleURLEncodedEcho: a 401 echoes the password URL-encoded
// twice (a proxy that encodes an already encoded query, a redirect URL
// carried inside another URL's query), in the message, the body, the
// request id and a Location header: scrubbed everywhere.
func TestHostileDoubleURLEncodedEcho(t *testing.T) {
	t.Parallel()
	const pw = "open sesame&co=1"
	echo := url.QueryEscape(url.QueryEscape(pw)) // open%2Bsesame%2526co%253D1
	err := echoLogin(t, pw, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-Id", "req-"+echo)
		w.Header().Set("Location", "https://sso.example/login?next="+url.QueryEscape("/cb?pw="+url.QueryEscape(pw)))
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, jsonNoHTML(map[string]string{"error": "wrong password " + echo}))
	})
	assertNoExposure(t, err, echo, url.QueryEscape(url.QueryEscape("/cb?pw="+url.QueryEscape(pw))))

	t.Run("DecodeError.ContentType", func(t *testing.T) {
		err := echoLogin(t, pw, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; x="+echo)
			io.WriteString(w, "<html>")
		})
		assertNoExposure(t, err, echo)
	})
	t.Run("requires_2fa", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"access_token":"a","refresh_token":"r","requires_2fa":"`+echo+`"}`)
		}))
		t.Cleanup(srv.Close)
		c := newClient(t, srv.URL, userauth.WithoutRetries())
		tok, err := c.Login(context.Background(), userauth.LoginRequest{Email: "ann@example.com", Password: pw})
		if err != nil {
			t.Fatal(err)
		}
		if s := fmt.Sprintf("%v %s", tok, tok.Requires2FA); strings.Contains(s, echo) {
			t.Errorf("TokenResponse shows the password URL-encoded twice: %s", s)
		}
	})
}

// TestHostileJSONInsideAJSONString: a Python server answers
// {"error": json.dumps(details)}: the password JSON-escaped, then escaped
// again inside the outer string. Neither Message nor Body shows it.
func TestHostileJSONInsideAJSONString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, pw string }{
		{"non-ASCII (ensure_ascii)", "pässwörd-42"},
		{"quote and backslash", `pa"ss\word-42`},
		{"HTML-escaped <>&", "a<b>&c-42"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			inner, _ := json.Marshal(map[string]string{"password": tc.pw}) // Go escapes <>& as \u003c...
			if strings.Contains(tc.name, "non-ASCII") {
				inner = []byte(`{"password": "p\u00e4ssw\u00f6rd-42"}`) // Python's json.dumps
			}
			outer, _ := json.Marshal(map[string]string{"error": string(inner)})
			err := echoLogin(t, tc.pw, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				w.Write(outer)
			})
			var ae *userauth.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v", err)
			}
			// The echo as it stands in the body: the inner JSON's escaped
			// password, escaped once more.
			twice, _ := json.Marshal(string(inner))
			i := bytes.Index(twice, []byte(`password`))
			needle := strings.TrimSuffix(strings.TrimPrefix(string(twice[i+len("password"):]), `\": \"`), `\"}"`)
			needle = strings.TrimPrefix(needle, `\":\"`)
			if bytes.Contains(ae.Body, []byte(needle)) {
				t.Errorf("APIError.Body holds the password escaped twice %q (reads %q once unescaped twice): %q", needle, tc.pw, ae.Body)
			}
		})
	}
}

// TestHostileOtherLanguagesEscapes: a server echoes the password as
// another language's string escaping writes it: Python's ascii() (\xe4
// for ä), JavaScript's legacy escape() or a Latin-1 form encoding (%E4),
// ES6, Swift and Rust's \u{e4}. None reaches an error.
func TestHostileOtherLanguagesEscapes(t *testing.T) {
	t.Parallel()
	const pw = "pässwörd-42"
	for name, echo := range map[string]string{
		"Python ascii()":                `p\xe4ssw\xf6rd-42`,
		"JavaScript escape() (Latin-1)": "p%E4ssw%F6rd-42",
		"ES6/Swift/Rust \\u{...}":       `p\u{e4}ssw\u{f6}rd-42`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := echoLogin(t, pw, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				w.WriteHeader(http.StatusUnauthorized)
				io.WriteString(w, "invalid credentials for password '"+echo+"'")
			})
			assertNoExposure(t, err, echo)
		})
	}
}

// TestHostileBase64EchoInOtherDresses: the base64 of a secret as a server
// writes it into a URL query (+ and / percent-encoded), into PHP's
// json_encode (/ written \/), or as MIME writes it (a line break every 76
// characters): scrubbed.
func TestHostileBase64EchoInOtherDresses(t *testing.T) {
	t.Parallel()
	// A password whose base64 holds both + and /.
	const pw = "s3cr3t>>>???~~~pw"
	b64 := base64.StdEncoding.EncodeToString([]byte(pw))
	if !strings.ContainsAny(b64, "+/") {
		t.Fatalf("base64 %q holds no + or /", b64)
	}
	t.Run("URL-encoded in a Location query", func(t *testing.T) {
		t.Parallel()
		echo := url.QueryEscape(b64)
		err := echoLogin(t, pw, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", "https://sso.example/cb?c="+echo)
			w.WriteHeader(http.StatusFound)
		})
		assertNoExposure(t, err, echo)
	})
	t.Run("PHP json_encode escapes slashes", func(t *testing.T) {
		t.Parallel()
		echo := strings.ReplaceAll(b64, "/", `\/`)
		err := echoLogin(t, pw, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"bad credentials","debug":"`+echo+`"}`)
		})
		assertNoExposure(t, err, echo)
	})
	t.Run("MIME line breaks, a refresh token", func(t *testing.T) {
		t.Parallel()
		rt := "rt-" + strings.Repeat("AbCdEfGh12", 12) // 123 chars: base64 over 76
		enc := base64.StdEncoding.EncodeToString([]byte(rt))
		var lines []string
		for len(enc) > 76 {
			lines = append(lines, enc[:76])
			enc = enc[76:]
		}
		lines = append(lines, enc)
		mime := strings.Join(lines, "\r\n")
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, "refused token, attached:\r\n"+mime+"\r\n")
		}))
		t.Cleanup(srv.Close)
		c := newClient(t, srv.URL, userauth.WithoutRetries())
		_, err := c.RefreshToken(context.Background(), userauth.RefreshRequest{RefreshToken: rt})
		var ae *userauth.APIError
		if !errors.As(err, &ae) {
			t.Fatalf("err = %v", err)
		}
		// Whoever reads Body (or Message) can join the lines and decode.
		for what, s := range map[string]string{"Body": string(ae.Body), "Message": ae.Message, "Error()": err.Error()} {
			joined := strings.NewReplacer("\r", "", "\n", "", " ", "").Replace(s)
			if i := strings.Index(joined, lines[0]); i >= 0 {
				dec, _ := base64.StdEncoding.DecodeString(joined[i : i+len(lines[0])+len(lines[1])])
				t.Errorf("APIError.%s holds the refresh token base64 in MIME lines; decodes to %q", what, dec)
			}
		}
	})
}

// TestHostileUnlistedFormCutAtTheBodyLimit: the password in a form only
// holdsSecret reads (every byte percent-encoded, every character an HTML
// entity or a \u escape), placed across the 4 KiB APIError.Body keeps: no
// piece of it is kept.
func TestHostileUnlistedFormCutAtTheBodyLimit(t *testing.T) {
	t.Parallel()
	const pw = "CorrectHorseBatteryStaple-2024!"
	for _, tc := range []struct{ name, echo string }{
		{"every byte percent-encoded", percentAll(pw, false)},
		{"every char an HTML entity", func() string {
			var b strings.Builder
			for _, r := range pw {
				fmt.Fprintf(&b, "&#%d;", r)
			}
			return b.String()
		}()},
		{"every char a JSON \\u escape", func() string {
			var b strings.Builder
			for _, r := range pw {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
			return b.String()
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			per := len(tc.echo) / len(pw)
			// Start the echo so that all but its last character's escape
			// lie in the first 4096 bytes.
			start := 4096 - (len(tc.echo) - per)
			body := strings.Repeat(".", start) + tc.echo + strings.Repeat(".", 100)
			err := echoLogin(t, pw, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(http.StatusUnauthorized)
				io.WriteString(w, body)
			})
			var ae *userauth.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v", err)
			}
			prefix := tc.echo[:len(tc.echo)-per]
			if bytes.Contains(ae.Body, []byte(prefix)) {
				t.Errorf("APIError.Body (%d bytes) ends with %q: the password but its last character, %q",
					len(ae.Body), prefix, pw[:len(pw)-1])
			}
		})
	}
}

// TestHostileInvisibleSeparatorsInAnEcho: the password echoed with a soft
// hyphen, a zero-width space, a word joiner or a BOM between its
// characters, which render as nothing: the text is redacted.
func TestHostileInvisibleSeparatorsInAnEcho(t *testing.T) {
	t.Parallel()
	const pw = "Tr0ub4dor&3x"
	for _, sep := range []string{"\u00ad", "\u200b", "\u2060", "\ufeff"} {
		t.Run(fmt.Sprintf("%U", []rune(sep)[0]), func(t *testing.T) {
			t.Parallel()
			split := strings.Join(strings.Split(pw, ""), sep)
			err := echoLogin(t, pw, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				io.WriteString(w, jsonNoHTML(map[string]string{"error": "wrong password " + split}))
			})
			visible := strings.Map(func(r rune) rune {
				if unicode.Is(unicode.Cf, r) {
					return -1
				}
				return r
			}, err.Error())
			if strings.Contains(visible, pw) {
				t.Errorf("Error() %q reads as %q once its invisible characters are not rendered", err.Error(), visible)
			}
		})
	}
}

// TestHostileDoubleEncodedEchoInAMalformedAnswer: a raw server answers a
// header line net/http cannot parse, holding the password URL-encoded
// twice; net/http quotes the line in its error, which reaches neither the
// TransportError nor the debug log.
func TestHostileDoubleEncodedEchoInAMalformedAnswer(t *testing.T) {
	t.Parallel()
	const pw = "open sesame&co=1"
	echo := url.QueryEscape(url.QueryEscape(pw))
	srv := newRawServer(t, func(s *rawServer, c net.Conn, req *http.Request, body []byte) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: abc"+echo+"\r\n\r\n")
	})
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := newClient(t, srv.URL(), userauth.WithoutRetries(), userauth.WithLogger(logger))
	_, err := c.Login(context.Background(), userauth.LoginRequest{Email: "ann@example.com", Password: pw})
	if err == nil {
		t.Fatal("Login succeeded")
	}
	assertNoExposure(t, err, echo)
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(logs.String(), echo) {
		t.Errorf("debug log holds the password URL-encoded twice: %s", logs.String())
	}
}

// TestTransportBearerNeverToAuthThroughAnOpaqueURL: a request whose
// URL.Opaque names an auth endpoint (net/http sends Opaque as the request
// target, and URL.Path is then empty) carries no bearer.
func TestTransportBearerNeverToAuthThroughAnOpaqueURL(t *testing.T) {
	t.Parallel()
	spy := newBearerSpy(t)
	_, hc := storeClient(t, spy.srv.URL())
	u, _ := url.Parse(spy.srv.URL())
	for _, opaque := range []string{"/auth/token", "/AUTH/2fa"} {
		req, _ := http.NewRequest(http.MethodPost, spy.srv.URL()+"/account", nil)
		req.URL = &url.URL{Scheme: u.Scheme, Host: u.Host, Opaque: opaque}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	got := spy.bearers()
	if len(got) == 0 {
		t.Fatal("no request reached the server")
	}
	for uri, a := range got {
		if a != "" {
			t.Errorf("request to %s (URL.Opaque) carried the bearer %q", uri, a)
		}
	}
}

// TestTransportBearerNeverToAuthUnderAnUncleanBasePath: a base URL whose
// path has a doubled slash or a dot segment (https://host//v1/, from
// joining strings): a request to <base>auth/token built with
// BaseURL().JoinPath, which servers resolve to the auth endpoint, carries
// no bearer.
func TestTransportBearerNeverToAuthUnderAnUncleanBasePath(t *testing.T) {
	t.Parallel()
	spy := newBearerSpy(t)
	for _, base := range []string{spy.srv.URL() + "//v1/", spy.srv.URL() + "/v1/./"} {
		c, hc := storeClient(t, base)
		resp, err := hc.Post(c.BaseURL().JoinPath("auth", "token").String(), "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for uri, a := range spy.bearers() {
			if a != "" {
				t.Errorf("base %q: request to %s (the API's auth endpoint) carried the bearer %q", base, uri, a)
			}
		}
	}
}

// TestStoreFormatShowsNoToken: after the server refuses a renewal, the
// store remembers the refused refresh token; %v, %+v, %#v and slog of the
// *TokenStore never print it.
func TestStoreFormatShowsNoToken(t *testing.T) {
	t.Parallel()
	const rt = "rt-secret-0123456789abcdef"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized) // /account and the refresh alike
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL, userauth.WithoutRetries())
	store, err := userauth.NewTokenStore(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.SetToken(context.Background(), &userauth.TokenResponse{AccessToken: "at-secret", RefreshToken: rt}); err != nil {
		t.Fatal(err)
	}
	resp, err := store.HTTPClient().Get(c.BaseURL().JoinPath("account").String())
	if err == nil {
		resp.Body.Close()
	}
	if !errors.Is(err, userauth.ErrLoginRequired) {
		t.Fatalf("GET /account after a refused renewal: %v; want ErrLoginRequired", err)
	}
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("state", "store", store)
	for what, s := range map[string]string{
		"%v":       fmt.Sprintf("%v", store),
		"%+v":      fmt.Sprintf("%+v", store),
		"%#v":      fmt.Sprintf("%#v", store),
		"slog.Any": logs.String(),
	} {
		if strings.Contains(s, rt) || strings.Contains(s, "at-secret") {
			t.Errorf("%s of the *TokenStore holds the refresh token: %s", what, s)
		}
	}
}
