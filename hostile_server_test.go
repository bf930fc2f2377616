package userauth_test

// Tests of the Client, CheckResponse, APIKeyClient and Client.Logout
// against hostile or broken servers, written from the public API only.
// Each asserts one documented guarantee and fails when it is broken. Run
// them alone with
//
//	go test -race -count=1 -run Hostile .

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"github.com/hashicorp/go-cleanhttp"
	"go.uber.org/goleak"

	"github.com/tarilabs/userauth"
	"github.com/tarilabs/userauth/userauthtest"
)

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

// trickle writes head, then b every 50 ms, until the client hangs up or s
// stops: a body that never ends, slowly.
func trickle(s *rawServer, c net.Conn, head string, b byte) {
	io.WriteString(c, head)
	for {
		if _, err := c.Write([]byte{b}); err != nil {
			return
		}
		select {
		case <-s.done:
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// rawServer is a TCP listener that speaks HTTP/1.1 by hand: it reads one
// request per connection and lets the handler write any bytes at all.
type rawServer struct {
	ln    net.Listener
	calls atomic.Int32
	done  chan struct{}
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
	once  sync.Once
}

type rawHandler func(s *rawServer, c net.Conn, req *http.Request, body []byte)

func newRawServer(t *testing.T, h rawHandler) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln, done: make(chan struct{})}
	s.wg.Add(1)
	go acceptRaw(s, h)
	t.Cleanup(s.Close)
	return s
}

func acceptRaw(s *rawServer, h rawHandler) {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		s.wg.Add(1)
		go serveRawConn(s, c, h)
	}
}

func serveRawConn(s *rawServer, c net.Conn, h rawHandler) {
	defer s.wg.Done()
	defer c.Close()
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil {
		return
	}
	body, _ := io.ReadAll(req.Body)
	s.calls.Add(1)
	h(s, c, req, body)
}

func (s *rawServer) URL() string { return "http://" + s.ln.Addr().String() }

func (s *rawServer) Close() {
	s.once.Do(func() {
		close(s.done)
		s.ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
}

// hold keeps the connection open until the client closes it or the server
// stops.
func (s *rawServer) hold(c net.Conn) {
	go func() {
		<-s.done
		c.Close()
	}()
	_, _ = io.Copy(io.Discard, c)
}

// reset closes c with a TCP RST.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}

// serverIgnores are the goroutines of the test servers themselves.
var serverIgnores = []goleak.Option{
	goleak.IgnoreAnyFunction("github.com/tarilabs/userauth_test.acceptRaw"),
	goleak.IgnoreAnyFunction("github.com/tarilabs/userauth_test.serveRawConn"),
	goleak.IgnoreAnyFunction("github.com/tarilabs/userauth_test.(*rawServer).hold.func1"),
	goleak.IgnoreAnyFunction("net/http.(*conn).serve"),
	goleak.IgnoreAnyFunction("net/http/httptest.(*Server).goServe.func1"),
}

// verifyNoLeaks registers, before anything else, a check that runs after
// every other cleanup (the servers' included): no goroutine started during
// the test is left.
func verifyNoLeaks(t *testing.T) {
	t.Helper()
	cur := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, cur) })
}

// passwordOf reads the password a Login sent.
func passwordOf(body []byte) string {
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	s, _ := m["password"].(string)
	return s
}

// jsonNoHTML encodes v without escaping <, > and &, as most servers do.
func jsonNoHTML(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return strings.TrimSuffix(b.String(), "\n")
}

// exposures lists every place of err where one of the needles shows:
// Error(), %v, %+v, %#v of the error, of the typed error values and of all
// their fields.
func exposures(err error, needles ...string) []string {
	if err == nil {
		return nil
	}
	surfaces := map[string]string{
		"Error()": err.Error(),
		"%v":      fmt.Sprintf("%v", err),
		"%+v":     fmt.Sprintf("%+v", err),
		"%#v":     fmt.Sprintf("%#v", err),
	}
	var ae *userauth.APIError
	if errors.As(err, &ae) {
		surfaces["APIError %#v"] = fmt.Sprintf("%#v", ae)
		surfaces["APIError %+v"] = fmt.Sprintf("%+v", ae)
		surfaces["APIError.Message"] = ae.Message
		surfaces["APIError.Code"] = ae.Code
		surfaces["APIError.Fields"] = fmt.Sprintf("%#v", ae.Fields)
		surfaces["APIError.Body"] = string(ae.Body)
		surfaces["APIError.Header"] = fmt.Sprintf("%#v", ae.Header)
		surfaces["APIError.RequestID"] = ae.RequestID
	}
	var ce *userauth.ClientError
	if errors.As(err, &ce) {
		surfaces["ClientError %#v"] = fmt.Sprintf("%#v", ce)
	}
	var se *userauth.ServerError
	if errors.As(err, &se) {
		surfaces["ServerError %#v"] = fmt.Sprintf("%#v", se)
	}
	var de *userauth.DecodeError
	if errors.As(err, &de) {
		surfaces["DecodeError %#v"] = fmt.Sprintf("%#v", de)
		surfaces["DecodeError.ContentType"] = de.ContentType
	}
	var te *userauth.TransportError
	if errors.As(err, &te) {
		surfaces["TransportError %#v"] = fmt.Sprintf("%#v", te)
	}
	var out []string
	for name, s := range surfaces {
		for _, n := range needles {
			if n != "" && strings.Contains(s, n) {
				out = append(out, fmt.Sprintf("%s holds %q: %q", name, n, s))
			}
		}
	}
	return out
}

func assertNoExposure(t *testing.T, err error, needles ...string) {
	t.Helper()
	for _, e := range exposures(err, needles...) {
		t.Error("secret exposed: " + e)
	}
}

// hostileRune reports a control character or bidirectional control.
func hostileRune(r rune) bool {
	return unicode.IsControl(r) || r == 0x061C || r == 0x200E || r == 0x200F ||
		(r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069)
}

func assertClean(t *testing.T, what, s string) {
	t.Helper()
	if i := strings.IndexFunc(s, hostileRune); i >= 0 {
		t.Errorf("%s holds control/bidi character %U: %q", what, []rune(s[i:])[0], s)
	}
}

// isTyped reports whether err is one of the SDK's documented error types.
func isTyped(err error) bool {
	var (
		ce *userauth.ClientError
		se *userauth.ServerError
		ue *userauth.UnexpectedStatusError
		de *userauth.DecodeError
		te *userauth.TransportError
		ve *userauth.ValidationError
	)
	return errors.As(err, &ce) || errors.As(err, &se) || errors.As(err, &ue) ||
		errors.As(err, &de) || errors.As(err, &te) || errors.As(err, &ve)
}

func newClient(t *testing.T, base string, opts ...userauth.Option) *userauth.Client {
	t.Helper()
	c, err := userauth.NewClient(base, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func fastRetries() userauth.Option {
	return userauth.WithRetry(3, time.Millisecond, 2*time.Millisecond)
}

// selfSignedCert makes a certificate for the given DNS names.
func selfSignedCert(t *testing.T, dnsNames ...string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "attack"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     dnsNames,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// ---------------------------------------------------------------------------
// Secrets in errors and logs
// ---------------------------------------------------------------------------

// A server that puts the password it received into a malformed status line
// or header makes net/http quote that line in its error: the
// TransportError's text must not show it.
func TestHostileMalformedResponseEchoesSecretIntoTransportError(t *testing.T) {
	t.Parallel()
	const pw = "Hunter2-Secret-Pw"
	cases := map[string]func(pw string) string{
		"status code":    func(pw string) string { return "HTTP/1.1 " + pw + " Unauthorized\r\n\r\n" },
		"status line":    func(pw string) string { return pw + "\r\n\r\n" },
		"http version":   func(pw string) string { return "HTTP/" + pw + " 401 Unauthorized\r\n\r\n" },
		"header line":    func(pw string) string { return "HTTP/1.1 401 Unauthorized\r\nX-Echo " + pw + "\r\n\r\n" },
		"content-length": func(pw string) string { return "HTTP/1.1 401 Unauthorized\r\nContent-Length: " + pw + "\r\n\r\n" },
		"transfer-enc":   func(pw string) string { return "HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: " + pw + "\r\n\r\n" },
	}
	for name, answer := range cases {
		t.Run(name, func(t *testing.T) {
			srv := newRawServer(t, func(_ *rawServer, c net.Conn, _ *http.Request, body []byte) {
				io.WriteString(c, answer(passwordOf(body)))
			})
			c := newClient(t, srv.URL(), userauth.WithoutRetries())
			_, err := c.Login(context.Background(), userauth.LoginRequest{Email: "ann@example.com", Password: pw})
			if err == nil {
				t.Fatal("no error")
			}
			assertNoExposure(t, err, pw)
		})
	}
}

// The same echo must not reach the WithLogger log line's "error"
// attribute.
func TestHostileMalformedResponseEchoesSecretIntoLog(t *testing.T) {
	t.Parallel()
	const pw = "Hunter2-Secret-Pw"
	srv := newRawServer(t, func(_ *rawServer, c net.Conn, _ *http.Request, body []byte) {
		io.WriteString(c, "HTTP/1.1 "+passwordOf(body)+" Unauthorized\r\n\r\n")
	})
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := newClient(t, srv.URL(), userauth.WithoutRetries(), userauth.WithLogger(logger))
	_, _ = c.Login(context.Background(), userauth.LoginRequest{Email: "ann@example.com", Password: pw})
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(buf.String(), pw) {
		t.Errorf("log line holds the password: %s", buf.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// A password that is a valid header name, sent back as the NAME of a
// header, must not stay in APIError.Header.
func TestHostileSecretAsHeaderNameSurvivesInAPIErrorHeader(t *testing.T) {
	t.Parallel()
	const pw = "Tr0ub4dor-And3-Horse" // already in canonical header form
	srv := newRawServer(t, func(_ *rawServer, c net.Conn, _ *http.Request, body []byte) {
		io.WriteString(c, "HTTP/1.1 401 Unauthorized\r\n"+passwordOf(body)+": 1\r\nContent-Length: 0\r\n\r\n")
	})
	c := newClient(t, srv.URL(), userauth.WithoutRetries())
	_, err := c.Login(context.Background(), userauth.LoginRequest{Email: "ann@example.com", Password: pw})
	if !errors.Is(err, userauth.ErrInvalidCredentials) {
		t.Fatalf("err = %v, want a 401 matching ErrInvalidCredentials", err)
	}
	assertNoExposure(t, err, pw)
}

// readErrorBody reads 4 KiB plus the longest secret form, scrubs, and then
// cuts to 4 KiB. Scrubbing a long secret (-> "[redacted]") shrinks the
// body, which must not pull the cut-off prefix of a secret that straddles
// the read limit back inside the 4 KiB that Body keeps.
func TestHostileErrorBodyBoundaryLeaksSecretPrefix(t *testing.T) {
	t.Parallel()
	t.Run("Client.Login", func(t *testing.T) {
		pw := strings.Repeat("Kx9", 21) + "Q" // 64 chars, letters and digits only
		// The longest form of this password is 64 bytes: the client reads
		// 4096+64 bytes. Put the third copy so that only its first 63
		// bytes are read.
		slack := len(pw)
		body := pw + pw + strings.Repeat(".", 4096+slack-(len(pw)-1)-2*len(pw)) + pw + strings.Repeat(".", 200)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, body)
		}))
		t.Cleanup(srv.Close)
		c := newClient(t, srv.URL, userauth.WithoutRetries())
		_, err := c.Login(context.Background(), userauth.LoginRequest{Email: "ann@example.com", Password: pw})
		var ae *userauth.APIError
		if !errors.As(err, &ae) {
			t.Fatalf("err = %v", err)
		}
		if bytes.Contains(ae.Body, []byte(pw[:32])) {
			i := bytes.Index(ae.Body, []byte(pw[:32]))
			t.Errorf("APIError.Body (len %d) holds a %d-byte prefix of the password at offset %d: %q",
				len(ae.Body), commonPrefix(ae.Body[i:], pw), i, ae.Body[i:])
		}
	})
	t.Run("CheckResponse", func(t *testing.T) {
		tok := strings.Repeat("Tk7", 21) + "Z"
		// The longest form of the request's credentials is
		// url.PathEscape("Bearer "+tok).
		slack := len(url.PathEscape("Bearer " + tok))
		body := tok + tok + strings.Repeat(".", 4096+slack-(len(tok)-1)-2*len(tok)) + tok + strings.Repeat(".", 200)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, body)
		}))
		t.Cleanup(srv.Close)
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/account", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		err = userauth.CheckResponse(resp)
		var ae *userauth.APIError
		if !errors.As(err, &ae) {
			t.Fatalf("err = %v", err)
		}
		if bytes.Contains(ae.Body, []byte(tok[:32])) {
			i := bytes.Index(ae.Body, []byte(tok[:32]))
			t.Errorf("APIError.Body (len %d) holds a %d-byte prefix of the bearer token at offset %d",
				len(ae.Body), commonPrefix(ae.Body[i:], tok), i)
		}
	})
}

func commonPrefix(b []byte, s string) int {
	n := 0
	for n < len(b) && n < len(s) && b[n] == s[n] {
		n++
	}
	return n
}

// A message is cleaned (white space collapsed, cut at 256 bytes) for an
// error string: a secret in the decoded message that straddles the cut, or
// holds a run of spaces, must be scrubbed before, not missed after.
func TestHostileMessageCleanedBeforeScrubLeaks(t *testing.T) {
	cases := []struct {
		name, pw, echo, pad, leak string
	}{
		{
			name: "cut at 256 bytes",
			pw:   "it's+a-long-passphrase-0123456789",
			echo: `it\u0027s\u002Ba-long-passphrase-0123456789`,
			pad:  strings.Repeat("x", 256-32),
			leak: "it's+a-long-passphrase-01234567",
		},
		{
			name: "run of spaces collapsed",
			pw:   "it's  correct horse battery",
			echo: `it\u0027s  correct horse battery`,
			leak: "it's correct horse battery",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				io.WriteString(w, `{"error":"`+tc.pad+tc.echo+`"}`)
			}))
			t.Cleanup(srv.Close)
			c := newClient(t, srv.URL, userauth.WithoutRetries())
			_, err := c.Login(context.Background(), userauth.LoginRequest{Email: "ann@example.com", Password: tc.pw})
			if !errors.Is(err, userauth.ErrInvalidCredentials) {
				t.Fatalf("err = %v", err)
			}
			if strings.Contains(err.Error(), tc.leak) {
				t.Errorf("Error() holds %q (the password %q, cleaned): %q", tc.leak, tc.pw, err.Error())
			}
		})
	}
}

// A 2xx answer whose Content-Type echoes the password, with a body that is
// not JSON: DecodeError.ContentType keeps the header unscrubbed, and %#v of
// the error prints it.
func TestHostileDecodeErrorContentTypeEchoesSecret(t *testing.T) {
	t.Parallel()
	const pw = "Hunter2-Secret-Pw"
	srv := newRawServer(t, func(_ *rawServer, c net.Conn, _ *http.Request, body []byte) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset="+passwordOf(body)+
			"\r\nContent-Length: 6\r\nConnection: close\r\n\r\n<html>")
	})
	c := newClient(t, srv.URL(), userauth.WithoutRetries())
	_, err := c.Login(context.Background(), userauth.LoginRequest{Email: "ann@example.com", Password: pw})
	var de *userauth.DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("err = %v, want *DecodeError", err)
	}
	assertNoExposure(t, err, pw)
}

// Echoes that the SDK does scrub: raw, both JSON styles, query and path
// escaping, Go's HTML escaping, headers, Retry-After, Location, request id,
// split across chunks, field names and JSON keys, a 101 answer's headers,
// the status text, a 1xx informational answer.
func TestHostileEchoesThatAreScrubbed(t *testing.T) {
	t.Parallel()
	const pw = `p@ss/w<0>rd&"é`
	forms := []string{pw, jsonNoHTML(pw)[1 : len(jsonNoHTML(pw))-1], url.QueryEscape(pw), url.PathEscape(pw)}
	h := func(w http.ResponseWriter, r *http.Request) {
		var in map[string]string
		_ = json.NewDecoder(r.Body).Decode(&in)
		p := in["password"]
		w.Header().Set("X-Request-Id", p)
		w.Header().Set("Retry-After", p)
		w.Header().Set("Location", "https://evil.example/?pw="+url.QueryEscape(p))
		w.Header().Set("Content-Type", "application/json; x="+p)
		w.WriteHeader(http.StatusUnauthorized)
		fl := w.(http.Flusher)
		body, _ := json.Marshal(map[string]any{
			"error":  "bad " + p,
			"code":   p,
			"fields": map[string]any{p: []map[string]string{{"code": p, "message": p}}},
			p:        p,
		})
		s := string(body) + " " + url.QueryEscape(p) + " " + url.PathEscape(p) + " " + jsonNoHTML(p)
		for i := 0; i < len(s); i += 3 { // split across chunk boundaries
			io.WriteString(w, s[i:min(i+3, len(s))])
			fl.Flush()
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(h))
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL, userauth.WithoutRetries())
	_, err := c.Login(context.Background(), userauth.LoginRequest{Email: "ann@example.com", Password: pw})
	if !errors.Is(err, userauth.ErrInvalidCredentials) {
		t.Fatalf("err = %v", err)
	}
	assertNoExposure(t, err, forms...)

	t.Run("status text, 1xx answer, 101 headers", func(t *testing.T) {
		const pw = "Hunter2-Secret-Pw"
		for name, ans := range map[string]func(string) string{
			"status text": func(p string) string { return "HTTP/1.1 401 " + p + "\r\nContent-Length: 0\r\n\r\n" },
			"1xx headers": func(p string) string {
				return "HTTP/1.1 103 Early Hints\r\nLink: <" + p + ">\r\nX-Pw: " + p + "\r\n\r\nHTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"
			},
			"101 headers": func(p string) string {
				return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\nX-Pw: " + p + "\r\n\r\n" + p
			},
		} {
			t.Run(name, func(t *testing.T) {
				srv := newRawServer(t, func(_ *rawServer, c net.Conn, _ *http.Request, body []byte) {
					io.WriteString(c, ans(passwordOf(body)))
				})
				c := newClient(t, srv.URL(), userauth.WithoutRetries())
				_, err := c.Login(context.Background(), userauth.LoginRequest{Email: "ann@example.com", Password: pw})
				if err == nil {
					t.Fatal("no error")
				}
				if !isTyped(err) {
					t.Errorf("untyped error %T: %v", err, err)
				}
				assertNoExposure(t, err, pw)
			})
		}
	})
}

// Every secret of every endpoint, echoed raw in body and headers, across
// RefreshToken, TwoFactorAuthentication, MagicLinkLogin and Logout.
func TestHostileEchoOfEverySecretOnEveryEndpoint(t *testing.T) {
	t.Parallel()
	var echo atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		a := r.Header.Get("Authorization")
		echo.Store(string(b) + a)
		w.Header().Set("X-Echo", string(b)+a)
		w.Header().Set("X-Request-Id", a)
		w.WriteHeader(http.StatusUnprocessableEntity)
		fmt.Fprintf(w, `{"error":%q,"fields":{%q:[{"code":%q,"message":%q}]}}`, string(b)+a, string(b), a, a)
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL, userauth.WithoutRetries())
	ctx := context.Background()
	const (
		rt      = "rt-0123456789abcdef"
		code    = "987654"
		captcha = "03AGdBq24-captcha-answer"
		access  = "eyJhbGciOiJIUzI1NiJ9.e30.sig"
	)
	_, err := c.RefreshToken(ctx, userauth.RefreshRequest{RefreshToken: rt})
	assertNoExposure(t, err, rt)
	_, err = c.TwoFactorAuthentication(ctx, userauth.Confirm2FA{Code: "987 654", RefreshToken: rt})
	assertNoExposure(t, err, rt, code)
	_, err = c.MagicLinkLogin(ctx, userauth.MagicLinkLoginRequest{Email: "ann@example.com", RecaptchaResponse: captcha})
	assertNoExposure(t, err, captcha)
	_, err = c.Login(ctx, userauth.LoginRequest{Email: "ann@example.com", Password: "pw-xyz-123", RecaptchaResponse: captcha})
	assertNoExposure(t, err, captcha, "pw-xyz-123")
	err = c.Logout(ctx, access)
	assertNoExposure(t, err, access)
}

// ---------------------------------------------------------------------------
// Control characters
// ---------------------------------------------------------------------------

// A hostile TLS server's certificate names reach the error string raw:
// x509.HostnameError lists the certificate's DNS SANs unquoted, and an
// IA5String SAN may hold ESC, BEL, CR...
func TestHostileTLSCertificateNameInjectsControlCharsIntoError(t *testing.T) {
	t.Parallel()
	evil := "x\x1b]0;pwned\x07\x1b[2J\x1b[31mTRUST-ME\r\n.example"
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{selfSignedCert(t, evil)}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	base := "https://localhost:" + u.Port()
	c := newClient(t, base, userauth.WithoutRetries())
	_, err := c.Login(context.Background(), userauth.LoginRequest{Email: "ann@example.com", Password: "pw"})
	var te *userauth.TransportError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v, want *TransportError", err)
	}
	assertClean(t, "TransportError.Error()", err.Error())
}

// Control characters, terminal escapes and bidi overrides in every part of
// an error answer that reaches Error(), and in the two String methods.
func TestHostileControlCharsFromBodyAndHeadersAreCleaned(t *testing.T) {
	t.Parallel()
	const nasty = "a\x1b[31mb\x07c\u009b2Jd\u202eevil\u2066e\u061cf\x00g\x7fh\r\ni\tj"
	t.Run("status error", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Request-Id", "rid\u202e\u2066\u009b")
			w.WriteHeader(http.StatusUnprocessableEntity)
			body, _ := json.Marshal(map[string]any{
				"error":  map[string]any{"code": nasty, "reason": nasty},
				"fields": map[string]any{nasty: []map[string]string{{"code": nasty, "message": nasty}}},
			})
			w.Write(body)
		}))
		t.Cleanup(srv.Close)
		c := newClient(t, srv.URL, userauth.WithoutRetries())
		_, err := c.Login(context.Background(), userauth.LoginRequest{Email: "ann@example.com", Password: "pw"})
		if err == nil {
			t.Fatal("no error")
		}
		assertClean(t, "Error()", err.Error())
	})
	t.Run("plain text body and raw C1 byte in header", func(t *testing.T) {
		srv := newRawServer(t, func(_ *rawServer, c net.Conn, _ *http.Request, _ []byte) {
			body := "bad\x1b[2J\u202egateway\u0085x"
			io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nX-Request-Id: r\x9b2J\xe2\x80\xaeid\r\nContent-Length: "+
				strconv.Itoa(len(body))+"\r\n\r\n"+body)
		})
		c := newClient(t, srv.URL(), userauth.WithoutRetries())
		_, err := c.MagicLinkLogin(context.Background(), userauth.MagicLinkLoginRequest{Email: "ann@example.com"})
		if err == nil {
			t.Fatal("no error")
		}
		assertClean(t, "Error()", err.Error())
	})
	t.Run("TwoFactorMethod and MagicLinkStatus", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			if r.URL.Path == "/auth/magic_link" {
				json.NewEncoder(w).Encode(map[string]string{"message": "ok", "status": nasty})
				return
			}
			json.NewEncoder(w).Encode(map[string]string{"access_token": "a", "refresh_token": "r", "requires_2fa": nasty})
		}))
		t.Cleanup(srv.Close)
		c := newClient(t, srv.URL, userauth.WithoutRetries())
		tok, err := c.Login(context.Background(), userauth.LoginRequest{Email: "ann@example.com", Password: "pw"})
		if err != nil {
			t.Fatal(err)
		}
		assertClean(t, "TwoFactorMethod.String()", tok.Requires2FA.String())
		res, err := c.MagicLinkLogin(context.Background(), userauth.MagicLinkLoginRequest{Email: "ann@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		assertClean(t, "MagicLinkStatus.String()", res.Status.String())
	})
}

// ---------------------------------------------------------------------------
// Hangs and timeouts
// ---------------------------------------------------------------------------

func TestHostileNoHangPastPerAttemptTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	const bound = 3 * time.Second
	cases := map[string]rawHandler{
		"101 that keeps the connection": func(s *rawServer, c net.Conn, _ *http.Request, _ []byte) {
			io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")
			s.hold(c)
		},
		"100 Continue then silence": func(s *rawServer, c net.Conn, _ *http.Request, _ []byte) {
			io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\n")
			s.hold(c)
		},
		"endless 1xx": func(s *rawServer, c net.Conn, _ *http.Request, _ []byte) {
			for {
				if _, err := io.WriteString(c, "HTTP/1.1 102 Processing\r\n\r\n"); err != nil {
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		},
		"headers trickle": func(s *rawServer, c net.Conn, _ *http.Request, _ []byte) {
			for _, b := range []byte("HTTP/1.1 200 OK\r\nX-Slow: " + strings.Repeat("a", 1000)) {
				if _, err := c.Write([]byte{b}); err != nil {
					return
				}
				select {
				case <-s.done:
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		},
		"4xx body trickles": func(s *rawServer, c net.Conn, _ *http.Request, _ []byte) {
			trickle(s, c, "HTTP/1.1 401 Unauthorized\r\nContent-Length: 100000\r\n\r\n", 'x')
		},
		"infinite chunked 5xx": func(s *rawServer, c net.Conn, _ *http.Request, _ []byte) {
			io.WriteString(c, "HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n")
			chunk := "1000\r\n" + strings.Repeat("y", 0x1000) + "\r\n"
			for {
				if _, err := io.WriteString(c, chunk); err != nil {
					return
				}
			}
		},
		"endless 2xx body": func(s *rawServer, c net.Conn, _ *http.Request, _ []byte) {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"access_token\":\"")
			buf := bytes.Repeat([]byte("z"), 32<<10)
			for {
				if _, err := c.Write(buf); err != nil {
					return
				}
			}
		},
		"2xx body trickles": func(s *rawServer, c net.Conn, _ *http.Request, _ []byte) {
			trickle(s, c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{", ' ')
		},
		"huge headers": func(s *rawServer, c net.Conn, _ *http.Request, _ []byte) {
			io.WriteString(c, "HTTP/1.1 401 Unauthorized\r\n")
			line := "X-Big: " + strings.Repeat("h", 8000) + "\r\n"
			for {
				if _, err := io.WriteString(c, line); err != nil {
					return
				}
			}
		},
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			verifyNoLeaks(t)
			srv := newRawServer(t, h)
			c := newClient(t, srv.URL(), userauth.WithoutRetries(), userauth.WithTimeout(timeout))
			start := time.Now()
			_, err := c.Login(context.Background(), userauth.LoginRequest{Email: "ann@example.com", Password: "pw"})
			if d := time.Since(start); d > bound {
				t.Errorf("Login took %v, per-attempt timeout %v", d, timeout)
			}
			if err == nil || !isTyped(err) {
				t.Errorf("err = %T %v, want a typed error", err, err)
			}
		})
	}

	t.Run("TLS handshake stalls", func(t *testing.T) {
		verifyNoLeaks(t)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.Copy(io.Discard, c)
			c.Close()
		}()
		t.Cleanup(func() { ln.Close(); wg.Wait() })
		c := newClient(t, "https://"+ln.Addr().String(), userauth.WithoutRetries(), userauth.WithTimeout(timeout))
		start := time.Now()
		_, err = c.Login(context.Background(), userauth.LoginRequest{Email: "ann@example.com", Password: "pw"})
		if d := time.Since(start); d > bound {
			t.Errorf("Login took %v", d)
		}
		var te *userauth.TransportError
		if !errors.As(err, &te) {
			t.Errorf("err = %v", err)
		}
	})
}

// Retry-After values that are huge, negative, in the past, far in the future
// or garbage: the wait stays within maxWait and the context's deadline.
func TestHostileRetryAfterCannotStall(t *testing.T) {
	for _, ra := range []string{"99999999999", "999999999999999999999999", "-5", "Mon, 01 Jan 1990 00:00:00 GMT",
		"Fri, 31 Dec 9999 23:59:59 GMT", "soon", "1e9", "0x7fffffff"} {
		t.Run(ra, func(t *testing.T) {
			verifyNoLeaks(t)
			srv := userauthtest.NewServer()
			t.Cleanup(srv.Close)
			srv.Fail(userauthtest.PathLogin, 10, userauthtest.Fault{Status: 503, RetryAfter: ra})
			c := newClient(t, srv.URL, userauth.WithRetry(3, time.Millisecond, 50*time.Millisecond))
			start := time.Now()
			_, err := c.Login(context.Background(), userauth.LoginRequest{Email: "ann@example.com", Password: "pw"})
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
			var se *userauth.ServerError
			if !errors.As(err, &se) || se.StatusCode != 503 {
				t.Errorf("err = %v, want *ServerError 503", err)
			}
			if n := srv.Calls(userauthtest.PathLogin); n != 4 {
				t.Errorf("server saw %d attempts, want 4", n)
			}
		})
	}
	t.Run("deadline shorter than Retry-After", func(t *testing.T) {
		srv := userauthtest.NewServer()
		t.Cleanup(srv.Close)
		srv.Fail(userauthtest.PathLogin, 10, userauthtest.Fault{Status: 503, RetryAfter: "30"})
		c := newClient(t, srv.URL, userauth.WithRetry(3, time.Second, time.Minute))
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.Login(ctx, userauth.LoginRequest{Email: "ann@example.com", Password: "pw"})
		if d := time.Since(start); d > 250*time.Millisecond {
			t.Errorf("took %v: waited for a Retry-After past the deadline", d)
		}
		var se *userauth.ServerError
		if !errors.As(err, &se) {
			t.Errorf("err = %v, want the 503", err)
		}
	})
	t.Run("cancel during wait", func(t *testing.T) {
		verifyNoLeaks(t)
		srv := userauthtest.NewServer()
		t.Cleanup(srv.Close)
		srv.Fail(userauthtest.PathLogin, 10, userauthtest.Fault{Status: 429, RetryAfter: "30"})
		c := newClient(t, srv.URL, userauth.WithRetry(3, time.Second, time.Minute))
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(200*time.Millisecond, cancel)
		start := time.Now()
		_, err := c.Login(ctx, userauth.LoginRequest{Email: "ann@example.com", Password: "pw"})
		if d := time.Since(start); d > time.Second {
			t.Errorf("took %v", d)
		}
		if !errors.Is(err, context.Canceled) || !isTyped(err) {
			t.Errorf("err = %T %v", err, err)
		}
	})
}

// ---------------------------------------------------------------------------
// Retries
// ---------------------------------------------------------------------------

// refusedURL is a loopback URL where nothing listens.
func refusedURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

type endpointCall struct {
	name string
	path string
	call func(ctx context.Context, c *userauth.Client) error
}

func endpoints() []endpointCall {
	return []endpointCall{
		{"Login", userauthtest.PathLogin, func(ctx context.Context, c *userauth.Client) error {
			_, err := c.Login(ctx, userauth.LoginRequest{Email: "ann@example.com", Password: "pw"})
			return err
		}},
		{"Login+captcha", userauthtest.PathLogin, func(ctx context.Context, c *userauth.Client) error {
			_, err := c.Login(ctx, userauth.LoginRequest{Email: "ann@example.com", Password: "pw", RecaptchaResponse: "cap"})
			return err
		}},
		{"MagicLink", userauthtest.PathMagicLink, func(ctx context.Context, c *userauth.Client) error {
			_, err := c.MagicLinkLogin(ctx, userauth.MagicLinkLoginRequest{Email: "ann@example.com"})
			return err
		}},
		{"Refresh", userauthtest.PathRefresh, func(ctx context.Context, c *userauth.Client) error {
			_, err := c.RefreshToken(ctx, userauth.RefreshRequest{RefreshToken: "rt"})
			return err
		}},
		{"2FA", userauthtest.PathTwoFactor, func(ctx context.Context, c *userauth.Client) error {
			_, err := c.TwoFactorAuthentication(ctx, userauth.Confirm2FA{Code: "123456", RefreshToken: "rt"})
			return err
		}},
		{"Logout", userauthtest.PathLogout, func(ctx context.Context, c *userauth.Client) error {
			return c.Logout(ctx, "access")
		}},
	}
}

// The retry table of docs/retries.md, counted on the server: 4 = retried 3 times,
// 1 = never repeated.
func TestHostileRetryTableCountedOnTheWire(t *testing.T) {
	t.Parallel()
	faults := []struct {
		name  string
		fault userauthtest.Fault
		want  map[string]int // by endpoint name; missing = 1
	}{
		{"429", userauthtest.Fault{Status: 429}, map[string]int{"Login": 4, "Login+captcha": 4, "MagicLink": 4, "Refresh": 4, "2FA": 4, "Logout": 4}},
		{"503 Retry-After", userauthtest.Fault{Status: 503, RetryAfter: "0"}, map[string]int{"Login": 4, "Login+captcha": 4, "MagicLink": 4, "Refresh": 4, "2FA": 4}},
		{"503", userauthtest.Fault{Status: 503}, map[string]int{"Login": 4}},
		{"502", userauthtest.Fault{Status: 502}, map[string]int{"Login": 4}},
		{"504", userauthtest.Fault{Status: 504}, map[string]int{"Login": 4}},
		{"500", userauthtest.Fault{Status: 500}, nil},
		{"501", userauthtest.Fault{Status: 501}, nil},
		{"408", userauthtest.Fault{Status: 408}, nil},
		{"reset", userauthtest.Fault{Reset: true}, map[string]int{"Login": 4}},
		{"drop", userauthtest.Fault{Drop: true}, map[string]int{"Login": 4}},
		{"hang (timeout)", userauthtest.Fault{Hang: true}, map[string]int{"Login": 4}},
		{"truncated answer", userauthtest.Fault{Raw: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"}, nil},
		{"101", userauthtest.Fault{Raw: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n"}, nil},
	}
	for _, f := range faults {
		for _, ep := range endpoints() {
			t.Run(f.name+"/"+ep.name, func(t *testing.T) {
				srv := userauthtest.NewServer()
				t.Cleanup(srv.Close)
				srv.Fail(ep.path, 10, f.fault)
				c := newClient(t, srv.URL, fastRetries(), userauth.WithTimeout(200*time.Millisecond))
				err := ep.call(context.Background(), c)
				switch {
				case ep.name == "Logout" && strings.HasPrefix(f.fault.Raw, "HTTP/1.1 200"):
					if err != nil {
						t.Errorf("err = %v, want nil: any 2xx answer to Logout is success", err)
					}
				case err == nil || !isTyped(err):
					t.Errorf("err = %T %v", err, err)
				}
				want := 1
				if n, ok := f.want[ep.name]; ok {
					want = n
				}
				if n := srv.Calls(ep.path); n != want {
					t.Errorf("server saw %d attempts, want %d (err %v)", n, want, err)
				}
			})
		}
	}
	t.Run("refused dial", func(t *testing.T) {
		for _, ep := range endpoints() {
			t.Run(ep.name, func(t *testing.T) {
				c := newClient(t, refusedURL(t), fastRetries())
				err := ep.call(context.Background(), c)
				var te *userauth.TransportError
				if !errors.As(err, &te) || te.Attempts != 4 {
					t.Errorf("err = %v, want a *TransportError after 4 attempts", err)
				}
			})
		}
	})
}

// Raw TCP: the server reads the whole request, then resets or closes; or
// answers half a status line. A send-once call must not be repeated.
func TestHostileRetryAfterRequestReachedServerRaw(t *testing.T) {
	t.Parallel()
	answers := map[string]rawHandler{
		"RST after read":     func(_ *rawServer, c net.Conn, _ *http.Request, _ []byte) { reset(c) },
		"FIN after read":     func(_ *rawServer, c net.Conn, _ *http.Request, _ []byte) {},
		"half a status line": func(_ *rawServer, c net.Conn, _ *http.Request, _ []byte) { io.WriteString(c, "HTTP/1.1 2") },
		"headers then RST": func(_ *rawServer, c net.Conn, _ *http.Request, _ []byte) {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n{")
			reset(c)
		},
		"503 blank Retry-After": func(_ *rawServer, c net.Conn, _ *http.Request, _ []byte) {
			io.WriteString(c, "HTTP/1.1 503 x\r\nRetry-After:  \r\nContent-Length: 0\r\n\r\n")
		},
		"5xx then connection": func(_ *rawServer, c net.Conn, _ *http.Request, _ []byte) {
			io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
		},
	}
	for name, h := range answers {
		for _, ep := range endpoints() {
			if ep.name == "Login" {
				continue // replay-safe
			}
			t.Run(name+"/"+ep.name, func(t *testing.T) {
				srv := newRawServer(t, h)
				c := newClient(t, srv.URL(), fastRetries())
				err := ep.call(context.Background(), c)
				switch {
				case ep.name == "Logout" && name == "headers then RST":
					if err != nil {
						t.Errorf("err = %v, want nil: any 2xx answer to Logout is success", err)
					}
				case err == nil || !isTyped(err):
					t.Errorf("err = %T %v", err, err)
				}
				if n := srv.calls.Load(); n != 1 {
					t.Errorf("server saw %d attempts, want 1 (err %v)", n, err)
				}
			})
		}
	}
}

// ---------------------------------------------------------------------------
// Typed errors and sentinels
// ---------------------------------------------------------------------------

func TestHostileEveryOutcomeIsTypedAndStatusSurvives(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, raw string
		status    int // 0: no status error expected
	}{
		{"html 401", "HTTP/1.1 401 Unauthorized\r\nContent-Type: text/html\r\nContent-Length: 14\r\n\r\n<html><b>x</b>", 401},
		{"broken json 400", "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n{\"error\":", 400},
		{"json array 422", "HTTP/1.1 422 Unprocessable\r\nContent-Length: 9\r\n\r\n[1,2,3,4]", 422},
		{"error is number", "HTTP/1.1 400 x\r\nContent-Length: 13\r\n\r\n{\"error\":1e9}", 400},
		{"fields wrong shape", "HTTP/1.1 422 x\r\nContent-Length: 25\r\n\r\n{\"fields\":{\"a\":\"string\"}}", 422},
		{"empty 500", "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n", 500},
		{"4xx reset mid-body", "HTTP/1.1 403 Forbidden\r\nContent-Length: 1000\r\n\r\n{\"error\":\"nope", 403},
		{"4xx broken chunking", "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc", 404},
		{"4xx bad gzip", "HTTP/1.1 409 Conflict\r\nContent-Encoding: gzip\r\nContent-Length: 10\r\n\r\nnot-gzip!!", 409},
		{"302", "HTTP/1.1 302 Found\r\nLocation: https://evil.example/\r\nContent-Length: 0\r\n\r\n", 302},
		{"101", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n", 101},
		{"status 600", "HTTP/1.1 600 Weird\r\nContent-Length: 0\r\n\r\n", 600},
		{"status 000", "HTTP/1.1 000 Zero\r\nContent-Length: 0\r\n\r\n", 0},
		{"200 not json", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 0},
		{"200 null", "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnull", 0},
		{"200 wrong types", "HTTP/1.1 200 OK\r\nContent-Length: 55\r\n\r\n{\"access_token\":1,\"refresh_token\":\"r\",\"requires_2fa\":5}", 0},
		{"200 bad gzip", "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 10\r\n\r\nnot-gzip!!", 0},
		{"garbage", "\x00\x01\x02 not http at all\r\n\r\n", 0},
		{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 0},
		{"HTTP/0.9", "{\"access_token\":\"a\",\"refresh_token\":\"r\"}", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newRawServer(t, func(_ *rawServer, c net.Conn, _ *http.Request, _ []byte) {
				io.WriteString(c, tc.raw)
				reset(c)
			})
			c := newClient(t, srv.URL(), userauth.WithoutRetries(), userauth.WithTimeout(time.Second))
			var err error
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("panic: %v", p)
					}
				}()
				_, err = c.Login(context.Background(), userauth.LoginRequest{Email: "ann@example.com", Password: "pw"})
			}()
			if err == nil || !isTyped(err) {
				t.Fatalf("err = %T %v, want a typed error", err, err)
			}
			if tc.status != 0 {
				var ae *userauth.APIError
				if !errors.As(err, &ae) || ae.StatusCode != tc.status {
					t.Errorf("err = %T %v, want an APIError with status %d", err, err, tc.status)
				}
			}
		})
	}
	t.Run("nil context and bad input", func(t *testing.T) {
		c := newClient(t, refusedURL(t))
		var nilCtx context.Context
		for _, err := range []error{
			func() error { _, err := c.Login(nilCtx, userauth.LoginRequest{Email: "a", Password: "b"}); return err }(),
			func() error { _, err := c.Login(context.Background(), userauth.LoginRequest{}); return err }(),
			c.Logout(context.Background(), "tok\r\nX-Evil: 1"),
			c.Logout(nilCtx, "tok"),
			func() error {
				_, err := c.TwoFactorAuthentication(context.Background(), userauth.Confirm2FA{Code: "  ", RefreshToken: "r"})
				return err
			}(),
		} {
			var ve *userauth.ValidationError
			if !errors.As(err, &ve) {
				t.Errorf("err = %T %v, want *ValidationError", err, err)
			}
		}
	})
}

func TestHostileSentinelsMatchOnlyWhereDocumented(t *testing.T) {
	t.Parallel()
	status := atomic.Int32{}
	var body atomic.Value
	body.Store("")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(int(status.Load()))
		io.WriteString(w, body.Load().(string))
	}))
	t.Cleanup(srv.Close)
	for _, prefix := range []string{"", "/v1"} {
		c := newClient(t, srv.URL+prefix, userauth.WithoutRetries())
		for _, ep := range endpoints() {
			for _, tc := range []struct {
				status           int
				body             string
				creds, code, exp bool
			}{
				{401, `{"error":"bad"}`, ep.path == userauthtest.PathLogin, false, false},
				{422, `{}`, false, ep.path == userauthtest.PathTwoFactor, false},
				{422, `{"fields":{"code":[{"code":"invalid","message":"wrong"}]}}`, false, ep.path == userauthtest.PathTwoFactor, false},
				{422, `{"fields":{"refresh_token":[{"code":"invalid","message":"bad"}]}}`, false, false, false},
				{400, `{"fields":{"code":[{"code":"invalid","message":"wrong"}]}}`, false, false, false},
				{403, `{"error":"invalid credentials"}`, false, false, false},
				{424, `{}`, false, false, true},
			} {
				status.Store(int32(tc.status))
				body.Store(tc.body)
				err := ep.call(context.Background(), c)
				if got := errors.Is(err, userauth.ErrInvalidCredentials); got != tc.creds {
					t.Errorf("%s%s %d %s: Is(ErrInvalidCredentials) = %v", prefix, ep.name, tc.status, tc.body, got)
				}
				if got := errors.Is(err, userauth.ErrInvalidCode); got != tc.code {
					t.Errorf("%s%s %d %s: Is(ErrInvalidCode) = %v", prefix, ep.name, tc.status, tc.body, got)
				}
				if got := errors.Is(err, userauth.ErrTwoFactorExpired); got != tc.exp {
					t.Errorf("%s%s %d %s: Is(ErrTwoFactorExpired) = %v", prefix, ep.name, tc.status, tc.body, got)
				}
			}
		}
	}
}

// "Any 2xx answer is success" for Logout, also one whose body is over the
// response limit, or arrives broken: the session was revoked.
func TestHostileLogout2xxWithLargeBodyIsNotSuccess(t *testing.T) {
	t.Parallel()
	t.Run("200 with a body over 1 MiB", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Content-Length", strconv.Itoa(2<<20))
			w.WriteHeader(http.StatusOK)
			w.Write(bytes.Repeat([]byte(" "), 2<<20))
		}))
		t.Cleanup(srv.Close)
		c := newClient(t, srv.URL, userauth.WithoutRetries())
		if err := c.Logout(context.Background(), "access"); err != nil {
			t.Errorf("Logout after a 200 answer = %v, want nil (any 2xx is success)", err)
		}
	})
	t.Run("200 then reset mid-body", func(t *testing.T) {
		srv := newRawServer(t, func(_ *rawServer, c net.Conn, _ *http.Request, _ []byte) {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{")
			reset(c)
		})
		c := newClient(t, srv.URL(), userauth.WithoutRetries())
		if err := c.Logout(context.Background(), "access"); err != nil {
			t.Errorf("Logout after a 200 answer = %v, want nil (any 2xx is success)", err)
		}
	})
}

// ---------------------------------------------------------------------------
// APIKeyClient
// ---------------------------------------------------------------------------

const apiKey = "ak_live_0123456789abcdef"

// A request for the API's URL whose Host header names another site: over a
// shared front end (CDN, reverse proxy, virtual hosting) it is routed to
// that site, so it must go without the key.
func TestHostileAPIKeyHostHeaderOverride(t *testing.T) {
	t.Parallel()
	var gotHost, gotKey atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotHost.Store(r.Host)
		gotKey.Store(r.Header.Get(userauthtest.APIKeyHeader))
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL)
	hc := c.APIKeyClient(apiKey)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/account", nil)
	req.Host = "attacker.example"
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if gotKey.Load().(string) == apiKey {
		t.Errorf("the API key went out in a request for Host %q", gotHost.Load())
	}
}

func TestHostileAPIKeyStaysOnItsHost(t *testing.T) {
	verifyNoLeaks(t)
	type seen struct{ host, key string }
	var mu sync.Mutex
	var log []seen
	record := func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		log = append(log, seen{r.Host, r.Header.Get(userauthtest.APIKeyHeader)})
		mu.Unlock()
	}
	other := httptest.NewServer(http.HandlerFunc(record))
	t.Cleanup(other.Close)
	var api *httptest.Server
	api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		record(w, r)
		u, _ := url.Parse(api.URL)
		switch r.URL.Path {
		case "/to-other":
			http.Redirect(w, r, other.URL+"/x", http.StatusTemporaryRedirect)
		case "/to-localhost-name": // same port, another host name
			http.Redirect(w, r, "http://localhost:"+u.Port()+"/x", http.StatusFound)
		case "/to-userinfo":
			http.Redirect(w, r, "http://"+u.Host+"@"+strings.TrimPrefix(other.URL, "http://")+"/x", http.StatusFound)
		case "/to-protocol-relative":
			http.Redirect(w, r, "//"+strings.TrimPrefix(other.URL, "http://")+"/x", http.StatusFound)
		case "/to-backslash":
			w.Header().Set("Location", "/\\"+strings.TrimPrefix(other.URL, "http://")+"/x")
			w.WriteHeader(http.StatusFound)
		}
	}))
	t.Cleanup(api.Close)
	c := newClient(t, api.URL)
	hc := c.APIKeyClient(apiKey)
	for _, p := range []string{"/to-other", "/to-localhost-name", "/to-userinfo", "/to-protocol-relative", "/to-backslash"} {
		resp, err := hc.Get(api.URL + p)
		if err == nil {
			resp.Body.Close()
		}
	}
	// Direct requests to other hosts and schemes.
	for _, u := range []string{other.URL + "/direct", strings.Replace(api.URL, "127.0.0.1", "localhost", 1) + "/alias"} {
		resp, err := hc.Get(u)
		if err == nil {
			resp.Body.Close()
		}
	}
	apiHost := strings.TrimPrefix(api.URL, "http://")
	mu.Lock()
	defer mu.Unlock()
	for _, s := range log {
		if s.key != "" && s.host != apiHost {
			t.Errorf("key sent to %q", s.host)
		}
	}
	t.Logf("requests seen: %+v", log)
	if len(log) < 10 {
		t.Errorf("the redirects were not all followed: %+v", log)
	}
	if len(log) == 0 || log[0].key != apiKey {
		t.Errorf("the key did not reach the API itself: %+v", log)
	}
	if s := fmt.Sprintf("%v %+v %#v", hc, hc, hc.Transport); strings.Contains(s, apiKey) {
		t.Errorf("APIKeyClient prints the key: %s", s)
	}
}

// Plain http to a host that is not loopback: refused before any dial, even
// with WithInsecureHTTP; and an https base never sends the key over http.
func TestHostileAPIKeyNeverOverPlainHTTP(t *testing.T) {
	t.Parallel()
	var dialed atomic.Int32
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, n, a string) (net.Conn, error) {
		dialed.Add(1)
		return nil, errors.New("no dial in this test")
	}}}
	for _, base := range []string{"http://10.255.255.1", "http://LOCALHOST.", "http://127.0.0.1.nip.io", "http://[::ffff:10.0.0.1]"} {
		c, err := userauth.NewClient(base, userauth.WithInsecureHTTP(), userauth.WithHTTPClient(hc))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.APIKeyClient(apiKey).Get(base + "/account")
		if err == nil {
			resp.Body.Close()
		}
		var ve *userauth.ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("%s: err = %v, want *ValidationError", base, err)
		}
		if err != nil && strings.Contains(err.Error(), apiKey) {
			t.Errorf("error prints the key: %v", err)
		}
	}
	if n := dialed.Load(); n != 0 {
		t.Errorf("%d dials", n)
	}
	// https base, http request to the same host: no key.
	var got atomic.Value
	got.Store("")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Get(userauthtest.APIKeyHeader))
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	c := newClient(t, "https://"+u.Host)
	resp, err := c.APIKeyClient(apiKey).Get(srv.URL + "/account")
	if err == nil {
		resp.Body.Close()
	}
	if got.Load().(string) != "" {
		t.Error("key sent over http for an https base URL")
	}
}

// CheckResponse on an APIKeyClient answer that echoes the key.
func TestHostileAPIKeyEchoScrubbedByCheckResponse(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k := r.Header.Get(userauthtest.APIKeyHeader)
		w.Header().Set("X-Echo", k)
		w.Header().Set("X-Request-Id", k)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `{"error":"key %s revoked","code":%q,"fields":{%q:[{"code":"x","message":%q}]}} %s`,
			k, k, k, k, url.QueryEscape(k))
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL)
	resp, err := c.APIKeyClient(apiKey).Get(srv.URL + "/account")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	err = userauth.CheckResponse(resp)
	var ce *userauth.ClientError
	if !errors.As(err, &ce) || ce.StatusCode != 403 {
		t.Fatalf("err = %v", err)
	}
	assertNoExposure(t, err, apiKey)
	// The body is still whole for the caller.
	b, _ := io.ReadAll(resp.Body)
	if !bytes.Contains(b, []byte(apiKey)) {
		t.Error("CheckResponse did not put the body back")
	}
	// Odd responses: no panic, typed.
	for _, r := range []*http.Response{
		{StatusCode: 500},
		{StatusCode: 401, Request: &http.Request{}},
		{StatusCode: 101, Body: io.NopCloser(strings.NewReader("x"))},
		{StatusCode: 0, Header: http.Header{"X-Request-Id": {"\x1b[2J"}}},
	} {
		if err := userauth.CheckResponse(r); err == nil || !isTyped(err) {
			t.Errorf("CheckResponse(%d) = %T %v", r.StatusCode, err, err)
		}
	}
}

// ---------------------------------------------------------------------------
// Connections and goroutines
// ---------------------------------------------------------------------------

// A failed call closes the idle connections of the transport it used: never
// those of http.DefaultTransport, whichever way the Client was made without
// a transport. Not parallel: it swaps http.DefaultTransport for a spy,
// while no other test runs.
func TestHostileDefaultTransportIdleConnectionsSurvive(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hj, _ := w.(http.Hijacker)
		c, _, _ := hj.Hijack()
		c.Close() // a transport error: go-retryablehttp then closes idle connections
	}))
	t.Cleanup(srv.Close)
	spy := &closeSpy{RoundTripper: http.DefaultTransport}
	http.DefaultTransport = spy
	t.Cleanup(func() { http.DefaultTransport = spy.RoundTripper })
	for name, opts := range map[string][]userauth.Option{
		"default":                   nil,
		"WithHTTPClient(Default)":   {userauth.WithHTTPClient(http.DefaultClient)},
		"WithHTTPClient(&Client{})": {userauth.WithHTTPClient(&http.Client{Timeout: time.Second})},
	} {
		t.Run(name, func(t *testing.T) {
			c := newClient(t, srv.URL, append(opts, fastRetries())...)
			_, err := c.Login(context.Background(), userauth.LoginRequest{Email: "a@b.c", Password: "pw"})
			if err == nil {
				t.Fatal("no error")
			}
			c.CloseIdleConnections()
			if n := spy.closes.Load(); n != 0 {
				t.Errorf("http.DefaultTransport's idle connections were closed by the Client %d times", n)
			}
			if n := spy.trips.Load(); n != 0 {
				t.Errorf("the Client went through http.DefaultTransport %d times", n)
			}
		})
	}
}

// closeSpy counts the calls to a RoundTripper and to its
// CloseIdleConnections.
type closeSpy struct {
	http.RoundTripper
	trips, closes atomic.Int32
}

func (s *closeSpy) RoundTrip(r *http.Request) (*http.Response, error) {
	s.trips.Add(1)
	return s.RoundTripper.RoundTrip(r)
}

func (s *closeSpy) CloseIdleConnections() { s.closes.Add(1) }

// After a call has ended, against a server that stays up, the Client's own
// pool keeps a keep-alive connection and its two goroutines (readLoop,
// writeLoop) for IdleConnTimeout (90 s), until CloseIdleConnections.
func TestHostileIdleConnectionGoroutinesOutliveTheCall(t *testing.T) {
	srv := userauthtest.NewServer()
	t.Cleanup(srv.Close)
	if _, err := srv.AddUser(userauthtest.User{Email: "ann@example.com", Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	cur := goleak.IgnoreCurrent()
	c := newClient(t, srv.URL)
	if _, err := c.Login(context.Background(), userauth.LoginRequest{Email: "ann@example.com", Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	c.CloseIdleConnections() // the pool's connections are the Client's until then
	if err := goleak.Find(append([]goleak.Option{cur}, serverIgnores...)...); err != nil {
		t.Errorf("goroutines left by a finished Login while the server is up:\n%v", err)
	}
}

// After timeouts and cancellations the client side leaves nothing, even
// while the hostile server still holds its end of every connection.
func TestHostileNoGoroutinesAfterTimeoutsAndCancellation(t *testing.T) {
	srv := newRawServer(t, func(s *rawServer, c net.Conn, _ *http.Request, _ []byte) { s.hold(c) })
	// The Client made here must not pool anything: every attempt times out.
	cur := goleak.IgnoreCurrent()
	c := newClient(t, srv.URL(), userauth.WithTimeout(100*time.Millisecond), fastRetries())
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ctx, cancel := context.WithCancel(context.Background())
			if i%2 == 0 {
				time.AfterFunc(30*time.Millisecond, cancel)
			}
			defer cancel()
			var err error
			switch i % 4 {
			case 0, 1:
				_, err = c.Login(ctx, userauth.LoginRequest{Email: "a@b.c", Password: "pw"})
			case 2:
				_, err = c.RefreshToken(ctx, userauth.RefreshRequest{RefreshToken: "rt"})
			case 3:
				err = c.Logout(ctx, "at")
			}
			if err == nil || !isTyped(err) {
				t.Errorf("err = %T %v", err, err)
			}
		}(i)
	}
	wg.Wait()
	if err := goleak.Find(append([]goleak.Option{cur}, serverIgnores...)...); err != nil {
		t.Errorf("goroutines left while the server holds its connections:\n%v", err)
	}
}

// ---------------------------------------------------------------------------
// HTTP/2: no retries below the SDK's policy
// ---------------------------------------------------------------------------

// Over HTTPS the Client's transport negotiates HTTP/2 (cleanhttp sets
// ForceAttemptHTTP2). net/http's HTTP/2 transport resends by itself a
// request whose stream the server reset with PROTOCOL_ERROR, when the body
// can be rewound (GetBody) or there is none. A server that acted on the
// request (spent the refresh token, the 2FA code, the captcha answer; sent
// the e-mail; logged out) and then reset the stream must see it once
// WithoutRetries ("every call a single attempt").
func TestHostileHTTP2StreamResetResendsCalls(t *testing.T) {
	t.Parallel()
	for _, ep := range endpoints() {
		t.Run(ep.name, func(t *testing.T) {
			srv := newH2Server(t, func(int32) h2Answer { return h2Reset })
			// The Client's default transport, only trusting the test's
			// certificate.
			tr := cleanhttp.DefaultPooledTransport()
			pool := x509.NewCertPool()
			pool.AddCert(srv.cert)
			tr.TLSClientConfig = &tls.Config{RootCAs: pool}
			t.Cleanup(tr.CloseIdleConnections)
			c := newClient(t, "https://"+srv.ln.Addr().String(),
				userauth.WithHTTPClient(&http.Client{Transport: tr}), userauth.WithoutRetries(),
				userauth.WithTimeout(1500*time.Millisecond))
			err := ep.call(context.Background(), c)
			if err == nil {
				t.Fatal("no error")
			}
			if n := srv.requests.Load(); n != 1 {
				t.Errorf("server received the request %d times in 1.5 s, want 1 (WithoutRetries); err %v", n, err)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// "Loopback" by name
// ---------------------------------------------------------------------------

// fakeDNS answers every A query with ip, as a hostile or misconfigured
// network resolver may.
func fakeDNS(t *testing.T, ip net.IP) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := buf[:n]
			if len(q) < 12 {
				continue
			}
			i := 12
			for i < len(q) && q[i] != 0 {
				i += int(q[i]) + 1
			}
			i++ // the root label
			if i+4 > len(q) {
				continue
			}
			qtype := int(q[i])<<8 | int(q[i+1])
			question := q[12 : i+4]
			resp := []byte{q[0], q[1], 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0}
			resp = append(resp, question...)
			if qtype == 1 {
				resp[7] = 1
				resp = append(resp, 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4)
				resp = append(resp, ip.To4()...)
			}
			pc.WriteTo(resp, addr)
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	return pc.LocalAddr().String()
}

// A "*.localhost" name is not loopback by its spelling: Go's resolver may
// send it to the network's DNS, and whatever that answers would get, over
// plain http and without WithInsecureHTTP, the password and the API key.
func TestHostileLocalhostSubdomainIsTrustedByName(t *testing.T) {
	t.Parallel()
	var ip net.IP
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			ip = n.IP.To4()
			break
		}
	}
	if ip == nil {
		t.Skip("no non-loopback IPv4 address on this machine")
	}
	var gotKey, gotBody atomic.Value
	gotKey.Store("")
	gotBody.Store("")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if k := r.Header.Get(userauthtest.APIKeyHeader); k != "" {
			gotKey.Store(k)
		}
		if b, _ := io.ReadAll(r.Body); len(b) > 0 {
			gotBody.Store(string(b))
		}
		w.WriteHeader(http.StatusUnauthorized)
	}))
	ln, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
	if err != nil {
		t.Skip(err)
	}
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)

	dns := fakeDNS(t, ip)
	tr := cleanhttp.DefaultPooledTransport()                                         // the Client's own transport...
	tr.DialContext = (&net.Dialer{Timeout: 5 * time.Second, Resolver: &net.Resolver{ // ...on a network whose DNS answers
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "udp", dns)
		},
	}}).DialContext
	t.Cleanup(tr.CloseIdleConnections)

	base := "http://api.localhost:" + strings.Split(ln.Addr().String(), ":")[1]
	c, err := userauth.NewClient(base, userauth.WithHTTPClient(&http.Client{Transport: tr}), userauth.WithoutRetries())
	if err != nil {
		return // refused: the guarantee holds
	}
	resp, err := c.APIKeyClient(apiKey).Get(base + "/account")
	if err == nil {
		resp.Body.Close()
	}
	_, _ = c.Login(context.Background(), userauth.LoginRequest{Email: "ann@example.com", Password: "Hunter2-Secret-Pw"})
	if gotKey.Load().(string) == apiKey {
		t.Errorf("the API key went over plain http to %s (%s resolved by the network's DNS)", ln.Addr(), base)
	}
	if strings.Contains(gotBody.Load().(string), "Hunter2-Secret-Pw") {
		t.Errorf("the password went over plain http, without WithInsecureHTTP, to %s", ln.Addr())
	}
}

// chanListener hands an http.Server the connections it is given.
type chanListener struct {
	ch   chan net.Conn
	addr net.Addr
	once sync.Once
	done chan struct{}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}
func (l *chanListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *chanListener) Addr() net.Addr { return l.addr }

type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// A redirect from the https API to http:// on the same host and port (one
// port that speaks both, told apart by the first byte): the key must not
// follow.
func TestHostileAPIKeyRedirectToSameHostOtherScheme(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cert := selfSignedCert(t, "localhost")
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	cl := &chanListener{ch: make(chan net.Conn), addr: ln.Addr(), done: make(chan struct{})}
	type seen struct {
		tls bool
		key string
	}
	var mu sync.Mutex
	var log []seen
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		log = append(log, seen{r.TLS != nil, r.Header.Get(userauthtest.APIKeyHeader)})
		mu.Unlock()
		if r.TLS != nil && r.URL.Path == "/start" {
			http.Redirect(w, r, "http://localhost:"+strings.Split(ln.Addr().String(), ":")[1]+"/x", http.StatusFound)
		}
	})}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); hs.Serve(cl) }()
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				br := bufio.NewReader(c)
				b, err := br.Peek(1)
				if err != nil {
					c.Close()
					return
				}
				var conn net.Conn = peekedConn{c, br}
				if b[0] == 0x16 {
					conn = tls.Server(conn, tlsCfg)
				}
				select {
				case cl.ch <- conn:
				case <-cl.done:
					c.Close()
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); hs.Close(); wg.Wait() })

	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	tr := cleanhttp.DefaultPooledTransport()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	t.Cleanup(tr.CloseIdleConnections)
	base := "https://localhost:" + strings.Split(ln.Addr().String(), ":")[1]
	c := newClient(t, base, userauth.WithHTTPClient(&http.Client{Transport: tr}))
	resp, err := c.APIKeyClient(apiKey).Get(base + "/start")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(log) != 2 || !log[0].tls || log[0].key != apiKey || log[1].tls {
		t.Fatalf("unexpected exchange: %+v", log)
	}
	if log[1].key != "" {
		t.Error("the key followed a redirect to plain http on the same host")
	}
}
