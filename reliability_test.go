package userauth

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tarilabs/userauth/userauthtest"
)

// This file is the fault matrix: every fault, on every endpoint and on an
// authenticated GET through the token store's transport, with the exact
// outcome, the attempts the server saw and what happened to the stored
// tokens. The table it produces is RELIABILITY.md; run with -update to
// rewrite it, otherwise the run must match it.

var update = flag.Bool("update", false, "rewrite RELIABILITY.md from this run")

// matrixRetries is the retry count of the clients in the matrix; waits are
// a millisecond or two.
const matrixRetries = 3

type fault struct {
	name string
	f    userauthtest.Fault
	conn string // "refused" or "reset-on-accept": no HTTP server at all
}

func matrixFaults() []fault {
	statusBodies := []struct{ kind, ctype, body string }{
		{"json", "application/json", `{"error":{"code":"E","reason":"went wrong"}}`},
		{"text", "text/plain", "went wrong"},
		{"html", "text/html", "<html><body><h1>went wrong</h1></body></html>"},
		{"empty", "application/json", ""},
	}
	out := []fault{
		{name: "500", f: userauthtest.Fault{Status: 500, Body: `{"error":{"code":"500","reason":"boom"}}`}},
		{name: "502", f: userauthtest.Fault{Status: 502, Body: "Bad Gateway", ContentType: "text/plain"}},
		{name: "503", f: userauthtest.Fault{Status: 503}},
		{name: "503 Retry-After", f: userauthtest.Fault{Status: 503, RetryAfter: "1"}},
		{name: "504", f: userauthtest.Fault{Status: 504}},
		{name: "429 Retry-After seconds", f: userauthtest.Fault{Status: 429, RetryAfter: "1"}},
		{name: "429 Retry-After date", f: userauthtest.Fault{Status: 429, RetryAfter: time.Now().Add(time.Second).UTC().Format(http.TimeFormat)}},
	}
	for _, code := range []int{400, 401, 403, 404, 409, 422, 424} {
		for _, b := range statusBodies {
			out = append(out, fault{name: fmt.Sprintf("%d %s", code, b.kind), f: userauthtest.Fault{Status: code, Body: b.body, ContentType: b.ctype}})
		}
	}
	return append(out,
		fault{name: "200 truncated mid-JSON", f: userauthtest.Fault{Truncate: true}},
		fault{name: "200 HTML page", f: userauthtest.Fault{Status: 200, Body: "<html>maintenance</html>", ContentType: "text/html"}},
		fault{name: "200 body of 100 MiB", f: userauthtest.Fault{Oversize: 100 << 20}},
		fault{name: "101 (1xx)", f: userauthtest.Fault{Raw: "HTTP/1.1 101 Switching Protocols\r\nConnection: close\r\n\r\n"}},
		fault{name: "302 (3xx)", f: userauthtest.Fault{Status: 302, ContentType: "text/html"}},
		fault{name: "never answers", f: userauthtest.Fault{Hang: true}},
		fault{name: "reset after the request", f: userauthtest.Fault{Reset: true}},
		fault{name: "closed after the request", f: userauthtest.Fault{Drop: true}},
		fault{name: "reset before the request", conn: "reset-on-accept"},
		fault{name: "connection refused", conn: "refused"},
	)
}

// target is one operation under test.
type target struct {
	name    string
	path    string
	stored  bool // whether it uses the token store's storage
	prepare func(e *matrixEnv)
	call    func(ctx context.Context, e *matrixEnv) (*http.Response, error)
}

func matrixTargets() []target {
	return []target{
		{"Login", PathLogin, true, func(*matrixEnv) {}, func(ctx context.Context, e *matrixEnv) (*http.Response, error) {
			_, err := e.store.Login(ctx, LoginRequest{Email: "ann@example.com", Password: "pw-ann-SECRET"})
			return nil, err
		}},
		{"Login with a captcha answer", PathLogin, true, func(*matrixEnv) {}, func(ctx context.Context, e *matrixEnv) (*http.Response, error) {
			_, err := e.store.Login(ctx, LoginRequest{Email: "ann@example.com", Password: "pw-ann-SECRET", RecaptchaResponse: "captcha-SECRET"})
			return nil, err
		}},
		{"MagicLinkLogin", PathMagicLink, false, func(*matrixEnv) {}, func(ctx context.Context, e *matrixEnv) (*http.Response, error) {
			_, err := e.client.MagicLinkLogin(ctx, MagicLinkLoginRequest{Email: "ann@example.com", RecaptchaResponse: "captcha-SECRET"})
			return nil, err
		}},
		{"RefreshToken (TokenStore.Refresh)", PathRefresh, true, (*matrixEnv).loginAnn, func(ctx context.Context, e *matrixEnv) (*http.Response, error) {
			_, err := e.store.Refresh(ctx)
			return nil, err
		}},
		{"TwoFactorAuthentication (TokenStore.CompleteTwoFactor)", PathTwoFactor, true, (*matrixEnv).loginTom, func(ctx context.Context, e *matrixEnv) (*http.Response, error) {
			code, err := e.srv.Code(e.secret)
			if err != nil {
				return nil, err
			}
			e.secrets = append(e.secrets, code)
			_, err = e.store.CompleteTwoFactor(ctx, code)
			return nil, err
		}},
		{"GET /account (TokenStore transport)", PathAccount, true, (*matrixEnv).loginAnn, func(ctx context.Context, e *matrixEnv) (*http.Response, error) {
			// The caller's deadline is the only timeout of a plain http.Client.
			ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.base+PathAccount, nil)
			if err != nil {
				return nil, err
			}
			resp, err := e.store.HTTPClient().Do(req)
			if err == nil {
				resp.Body.Close()
			}
			return resp, err
		}},
	}
}

const (
	PathLogin     = userauthtest.PathLogin
	PathMagicLink = userauthtest.PathMagicLink
	PathRefresh   = userauthtest.PathRefresh
	PathTwoFactor = userauthtest.PathTwoFactor
	PathAccount   = userauthtest.PathAccount
)

// matrixEnv is one fake server, one client and one token store, with
// everything they log or return collected for the secret audit.
type matrixEnv struct {
	t       *testing.T
	srv     *userauthtest.Server
	base    string
	client  *Client
	store   *TokenStore
	storage *MemoryStorage
	secret  string
	secrets []string // every secret value that went by
	audit   *secretAudit
}

func newMatrixEnv(t *testing.T, audit *secretAudit, f fault) *matrixEnv {
	srv := userauthtest.NewServer()
	t.Cleanup(srv.Close)
	_, err := srv.AddUser(userauthtest.User{Email: "ann@example.com", Password: "pw-ann-SECRET"})
	require.NoError(t, err)
	secret, err := srv.AddUser(userauthtest.User{Email: "tom@example.com", Password: "pw-tom-SECRET", TwoFactor: userauthtest.TwoFactorTOTP})
	require.NoError(t, err)
	e := &matrixEnv{t: t, srv: srv, base: srv.URL, storage: NewMemoryStorage(), secret: secret, audit: audit,
		secrets: []string{"pw-ann-SECRET", "pw-tom-SECRET", "captcha-SECRET"}}
	// The preparation runs against the server; the call may go elsewhere.
	e.client = e.newClient(srv.URL)
	e.store = mustStore(t, e.client, e.storage, WithClock(srv.Now))
	return e
}

func (e *matrixEnv) newClient(base string) *Client {
	c, err := NewClient(base,
		WithHTTPClient(e.srv.Client()),
		WithRetry(matrixRetries, time.Millisecond, 2*time.Millisecond),
		WithTimeout(300*time.Millisecond),
		WithLogger(slog.New(slog.NewTextHandler(e.audit, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	require.NoError(e.t, err)
	return c
}

func (e *matrixEnv) loginAnn() {
	_, err := e.store.Login(context.Background(), LoginRequest{Email: "ann@example.com", Password: "pw-ann-SECRET"})
	require.NoError(e.t, err)
}

func (e *matrixEnv) loginTom() {
	_, err := e.store.Login(context.Background(), LoginRequest{Email: "tom@example.com", Password: "pw-tom-SECRET"})
	require.ErrorIs(e.t, err, ErrTwoFactorRequired)
}

// snapshot returns the stored token, remembering its secrets.
func (e *matrixEnv) snapshot() *Token {
	tok, err := loadPair(context.Background(), e.storage)
	require.NoError(e.t, err)
	if tok != nil {
		e.secrets = append(e.secrets, tok.AccessToken, tok.RefreshToken)
	}
	return tok
}

// resetOnAccept is a TCP server that resets every connection it accepts.
func resetOnAccept(t *testing.T) (string, func() int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	n := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			n++
			mu.Unlock()
			_ = c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return "http://" + ln.Addr().String(), func() int { mu.Lock(); defer mu.Unlock(); return n }
}

func refusedURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// row is one line of the matrix.
type row struct {
	target, fault, outcome string
	attempts               int
	storage                string
}

func TestFaultMatrix(t *testing.T) {
	t.Parallel()
	audit := &secretAudit{}
	var rows []row
	var secrets []string
	for _, tg := range matrixTargets() {
		for _, f := range matrixFaults() {
			t.Run(tg.name+"/"+f.name, func(t *testing.T) {
				e := newMatrixEnv(t, audit, f)
				tg.prepare(e)
				before := e.snapshot()
				seen := func() int { return e.srv.Calls(tg.path) }
				e.srv.ResetCalls()

				switch f.conn {
				case "refused":
					e.base = refusedURL(t)
					seen = nil
				case "reset-on-accept":
					var accepted func() int
					e.base, accepted = resetOnAccept(t)
					seen = accepted
				default:
					e.srv.Fail(tg.path, 2*(matrixRetries+1), f.f)
				}
				if e.base != e.srv.URL {
					e.client = e.newClient(e.base)
					e.store = mustStore(t, e.client, e.storage, WithClock(e.srv.Now))
					// The session is this API's: a store never sends one
					// API's tokens to another.
					if rec, _ := e.storage.Load(context.Background()); rec != nil {
						rec.API, rec.Generation = e.client.baseURL.String(), rec.Generation+1
						require.NoError(t, e.storage.Save(context.Background(), rec))
					}
				}

				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				var ms0, ms1 runtime.MemStats
				runtime.ReadMemStats(&ms0)
				resp, err := tg.call(ctx, e)
				runtime.ReadMemStats(&ms1)
				require.NoError(t, ctx.Err(), "the call outlived its guard")
				if f.f.Oversize > 0 {
					assert.Less(t, ms1.TotalAlloc-ms0.TotalAlloc, uint64(32<<20), "memory stays bounded when 100 MiB are offered")
				}
				after := e.snapshot()

				attempts := -1
				if seen != nil {
					attempts = seen()
				} else {
					var te *TransportError
					if errors.As(err, &te) {
						attempts = te.Attempts
					}
				}
				r := row{target: tg.name, fault: f.name, outcome: outcome(resp, err), attempts: attempts, storage: storageChange(tg.stored, before, after)}
				rows = append(rows, r)
				checkRow(t, tg, f, r, err)
				if err != nil {
					audit.Write([]byte(err.Error() + "\n" + fmt.Sprintf("%+v %#v", err, err) + "\n"))
				}
				secrets = append(secrets, e.secrets...)
			})
		}
	}

	leaks := audit.leaks(secrets)
	assert.Empty(t, leaks, "secrets found in error strings or logs")
	checkSection(t, "fault matrix", renderMatrix(rows, len(leaks)))
}

// checkRow asserts the rules the matrix must follow, whatever RELIABILITY.md
// says: statuses survive every body, retries follow the retry table, and
// stored tokens change only as they should.
func checkRow(t *testing.T, tg target, f fault, r row, err error) {
	t.Helper()
	all := matrixRetries + 1
	login := tg.path == PathLogin && !strings.Contains(tg.name, "captcha") // replay-safe
	code := f.f.Status

	// Attempts.
	switch {
	case tg.path == PathAccount:
		// The transport retries only after a 401, once, with a new token;
		// net/http itself repeats an idempotent GET once when a reused
		// connection breaks.
		switch {
		case code == 401:
			assert.Equal(t, 2, r.attempts, "401: one refresh, one retry")
		case f.f.Reset || f.f.Drop:
			assert.Equal(t, 2, r.attempts, "net/http retries a GET on a broken reused connection")
		case f.conn == "":
			assert.Equal(t, 1, r.attempts)
		}
	case f.conn == "reset-on-accept" && !login:
		// A reset that lands before the dial completes means the request
		// never left, and is retried; one that lands after the write may
		// have reached the server, and is not. Which one happens is a race.
		assert.True(t, r.attempts >= 1 && r.attempts <= all, "got %d attempts", r.attempts)
	case f.conn == "refused", code == 429, code == 503 && f.f.RetryAfter != "":
		assert.Equal(t, all, r.attempts, "retried on every endpoint")
	case code == 502, code == 503, code == 504, f.f.Hang, f.f.Reset, f.f.Drop, f.conn == "reset-on-accept":
		if login {
			assert.Equal(t, all, r.attempts, "login is replay-safe")
		} else {
			assert.Equal(t, 1, r.attempts, "never replayed: it may have reached the server")
		}
	case f.conn == "":
		assert.Equal(t, 1, r.attempts, "not retried")
	}

	// The status survives any body.
	if code >= 400 && tg.path != PathAccount {
		var ae *APIError
		if assert.ErrorAs(t, err, &ae) {
			assert.Equal(t, code, ae.StatusCode)
		}
	}

	// Stored tokens.
	switch {
	case !tg.stored:
	case err == nil:
	case tg.path == PathRefresh && (code == 400 || code == 401), tg.path == PathTwoFactor && code == 401:
		assert.Equal(t, "cleared", r.storage, "a refused refresh token ends the session")
		assert.ErrorIs(t, err, ErrLoginRequired)
	case (tg.path == PathRefresh || tg.path == PathTwoFactor) && (f.f.Truncate || f.f.Oversize > 0 || code == 200):
		assert.Equal(t, "cleared", r.storage, "a 2xx answer that cannot be read spent the refresh token")
		assert.ErrorIs(t, err, ErrLoginRequired)
	default:
		assert.Contains(t, []string{"unchanged", "empty"}, r.storage, "a failure keeps the tokens")
	}
}

func outcome(resp *http.Response, err error) string {
	if err == nil {
		if resp != nil {
			return fmt.Sprintf("response %d", resp.StatusCode)
		}
		return "ok"
	}
	var (
		ve *ValidationError
		ce *ClientError
		se *ServerError
		ue *UnexpectedStatusError
		de *DecodeError
		te *TransportError
	)
	switch {
	case errors.Is(err, ErrLoginRequired):
		switch {
		case errors.As(err, &ce):
			return fmt.Sprintf("ErrLoginRequired (ClientError %d)", ce.StatusCode)
		case errors.As(err, &de):
			return fmt.Sprintf("ErrLoginRequired (DecodeError of the %d answer: the token was spent)", de.StatusCode)
		case errors.As(err, &te):
			return fmt.Sprintf("ErrLoginRequired (TransportError: the %d answer broke off; the token was spent)", te.StatusCode)
		}
		return "ErrLoginRequired"
	case errors.As(err, &ve):
		return "ValidationError"
	case errors.As(err, &ce):
		s := fmt.Sprintf("ClientError %d", ce.StatusCode)
		if ce.Code != "" || ce.Message != "" {
			s += " with code/message"
		}
		return s
	case errors.As(err, &se):
		return fmt.Sprintf("ServerError %d", se.StatusCode)
	case errors.As(err, &ue):
		return fmt.Sprintf("UnexpectedStatusError %d", ue.StatusCode)
	case errors.As(err, &de) && errors.Is(err, ErrResponseTooLarge):
		return "DecodeError (too large)"
	case errors.As(err, &de):
		return "DecodeError"
	case errors.As(err, &te):
		return "TransportError (" + cause(err) + ")"
	}
	return "error (" + cause(err) + ")"
}

func cause(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		// A broken pipe is the same reset, met by a write instead of a read.
		return "reset"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected EOF"
	case errors.Is(err, io.EOF):
		return "EOF"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	// Not expected in the table: name the error, so that a run that meets
	// it says which it was.
	for u := errors.Unwrap(err); u != nil; u = errors.Unwrap(err) {
		err = u
	}
	return fmt.Sprintf("other: %T %v", err, err)
}

func storageChange(stored bool, before, after *Token) string {
	switch {
	case !stored:
		return "-"
	case before == nil && after == nil:
		return "empty"
	case after == nil:
		return "cleared"
	case before == nil:
		return "saved"
	case *before == *after:
		return "unchanged"
	}
	return "updated"
}

// secretAudit collects everything the matrix logged or returned.
type secretAudit struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (a *secretAudit) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.buf.Write(p)
}

// leaks returns the secrets found in what was collected.
func (a *secretAudit) leaks(secrets []string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	text := a.buf.String()
	var found []string
	seen := map[string]bool{}
	for _, s := range secrets {
		if len(s) >= 6 && !seen[s] && strings.Contains(text, s) {
			found = append(found, s)
		}
		seen[s] = true
	}
	return found
}

// TestSecretAuditCatchesAPlantedSecret is the test of the test: the audit
// does find a secret when one is logged.
func TestSecretAuditCatchesAPlantedSecret(t *testing.T) {
	t.Parallel()
	audit := &secretAudit{}
	logger := slog.New(slog.NewTextHandler(audit, &slog.HandlerOptions{Level: slog.LevelDebug}))
	logger.Debug("attempt", "path", "/auth/token")
	assert.Empty(t, audit.leaks([]string{"pw-SECRET-planted"}))
	logger.Debug("oops", "password", "pw-SECRET-planted") // a careless log line
	assert.Equal(t, []string{"pw-SECRET-planted"}, audit.leaks([]string{"pw-SECRET-planted", "not-there"}))

	// And a secret carried in an error string.
	audit = &secretAudit{}
	err := fmt.Errorf("userauth: login failed for password %s", "hunter2-SECRET")
	audit.Write([]byte(err.Error()))
	assert.Equal(t, []string{"hunter2-SECRET"}, audit.leaks([]string{"hunter2-SECRET"}))
}

func renderMatrix(rows []row, leaks int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Each call runs against `userauthtest` with the fault injected for every\n")
	fmt.Fprintf(&b, "attempt, %d retries allowed (waits of 1-2 ms; Retry-After capped there), a\n", matrixRetries)
	fmt.Fprintf(&b, "300 ms per-attempt timeout. *Attempts* is what the server saw (for a\n")
	fmt.Fprintf(&b, "refused connection, what the client counted); *storage* is the stored\n")
	fmt.Fprintf(&b, "token pair after the call.\n\n")
	fmt.Fprintf(&b, "| operation | fault | outcome | attempts | storage |\n|---|---|---|---|---|\n")
	for _, r := range rows {
		attempts := strconv.Itoa(r.attempts)
		if r.fault == "reset before the request" && r.target != "Login" && !strings.HasPrefix(r.target, "GET") {
			attempts = fmt.Sprintf("1 to %d (a reset during the dial is retried, one after the write is not)", matrixRetries+1)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", r.target, r.fault, r.outcome, attempts, r.storage)
	}
	outcomes := map[string]int{}
	for _, r := range rows {
		outcomes[strings.SplitN(r.outcome, " ", 2)[0]]++
	}
	kinds := make([]string, 0, len(outcomes))
	for k := range outcomes {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	fmt.Fprintf(&b, "\n%d faults tried on %d operations: %d rows, each checked against the retry\n", len(matrixFaults()), len(matrixTargets()), len(rows))
	fmt.Fprintf(&b, "table, the status it carries and what it did to the stored tokens. Outcomes:")
	for _, k := range kinds {
		fmt.Fprintf(&b, " %s %d;", k, outcomes[k])
	}
	fmt.Fprintf(&b, "\n\nSecret audit: every error string (`Error()`, `%%+v`, `%%#v`) and every debug\n")
	fmt.Fprintf(&b, "log line of the matrix, searched for every password, access and refresh\n")
	fmt.Fprintf(&b, "token, 2FA code and reCAPTCHA answer that went by: **%d found**.\n", leaks)
	return b.String()
}

// RELIABILITY.md holds sections the suite writes with -update and checks
// otherwise, each between "<!-- begin NAME -->" and "<!-- end NAME -->".

func sectionMarkers(name string) (string, string) {
	return "<!-- begin " + name + ": generated by the test suite; go test -update . rewrites it -->\n", "<!-- end " + name + " -->\n"
}

func readReliabilitySection(name string) (string, error) {
	b, err := os.ReadFile("RELIABILITY.md")
	if err != nil {
		return "", err
	}
	begin, end := sectionMarkers(name)
	s := string(b)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		return "", fmt.Errorf("RELIABILITY.md has no %s section", name)
	}
	return s[i+len(begin) : j], nil
}

// writeReliability replaces one section of RELIABILITY.md, keeping the
// rest of the file.
func writeReliability(name, content string) error {
	b, err := os.ReadFile("RELIABILITY.md")
	if err != nil {
		return err
	}
	begin, end := sectionMarkers(name)
	s := string(b)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		return fmt.Errorf("RELIABILITY.md has no %s section", name)
	}
	return os.WriteFile("RELIABILITY.md", []byte(s[:i+len(begin)]+content+s[j:]), 0o644)
}

// checkSection compares a generated section with RELIABILITY.md, or writes
// it with -update.
func checkSection(t *testing.T, name, content string) {
	t.Helper()
	if *update {
		require.NoError(t, writeReliability(name, content))
		return
	}
	want, err := readReliabilitySection(name)
	require.NoError(t, err, "run go test -update . to create it")
	assert.Equal(t, want, content, "RELIABILITY.md's %s section changed: review the difference, then run go test -update .", name)
}

// purposes says why the core module requires each of its direct
// dependencies; a requirement missing here fails TestDependencies.
func purposes() map[string]string {
	return map[string]string{
		"github.com/hashicorp/go-retryablehttp": "retries",
		"github.com/hashicorp/go-cleanhttp":     "the Client's own connection pool",
		"github.com/stretchr/testify":           "test assertions",
		"github.com/jarcoal/httpmock":           "HTTP mocks in tests",
		"github.com/golang-jwt/jwt/v5":          "reading the JWT exp and iat; the fake's tokens",
		"github.com/gofrs/flock":                "FileStorage's lock",
		"golang.org/x/oauth2":                   "TokenSource interop",
		"golang.org/x/sync":                     "one renewal for many callers (singleflight)",
		"go.uber.org/goleak":                    "goroutine leak checks in tests",
		"github.com/pquerna/otp":                "TOTP codes in the fake server",
		"github.com/getkin/kin-openapi":         "validating the fake against api/openapi.yaml",
		"golang.org/x/term":                     "the CLI's password prompt without echo",
	}
}

// TestDependencies keeps the core module's dependencies to a known list,
// each with its purpose, and what the SDK package links to a few modules.
func TestDependencies(t *testing.T) {
	t.Parallel()
	goList := func(args ...string) []string {
		cmd := exec.Command("go", append([]string{"list"}, args...)...)
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-buildvcs=false")
		out, err := cmd.Output()
		require.NoError(t, err, "go list %v", args)
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if l != "" && !slices.Contains(lines, l) {
				lines = append(lines, l)
			}
		}
		sort.Strings(lines)
		return lines
	}
	direct := goList("-m", "-f", "{{if and (not .Main) (not .Indirect)}}{{.Path}} {{.Version}}{{end}}", "all")
	linked := goList("-deps", "-f", "{{with .Module}}{{if not .Main}}{{.Path}} {{.Version}}{{end}}{{end}}", ".")
	all := goList("-m", "-f", "{{if not .Main}}{{.Path}} {{.Version}}{{end}}", "all")

	named := purposes()
	var b strings.Builder
	fmt.Fprintf(&b, "Direct requirements of the core module (`go.mod`), with the reason for each:\n\n| module | version | why |\n|---|---|---|\n")
	for _, l := range direct {
		path, version, _ := strings.Cut(l, " ")
		why, ok := named[path]
		assert.True(t, ok, "%s has no stated purpose: add it to purposes()", path)
		fmt.Fprintf(&b, "| %s | %s | %s |\n", path, version, why)
	}
	fmt.Fprintf(&b, "\nCompiled into a program that imports only `github.com/tarilabs/userauth` (what\nusers of the SDK link):\n\n")
	for _, l := range linked {
		fmt.Fprintf(&b, "- %s\n", l)
	}
	fmt.Fprintf(&b, "\nThe whole module graph (`GOWORK=off go list -m all`, test-only and unused\nmodules included): %d modules.\n", len(all))
	checkSection(t, "dependencies", b.String())

	allowedLinked := []string{"github.com/hashicorp/go-retryablehttp", "github.com/hashicorp/go-cleanhttp",
		"github.com/golang-jwt/jwt/v5", "github.com/gofrs/flock", "golang.org/x/oauth2", "golang.org/x/sync", "golang.org/x/sys"}
	for _, l := range linked {
		path, _, _ := strings.Cut(l, " ")
		assert.Contains(t, allowedLinked, path, "the SDK package now links %s", path)
	}
}
