package userauth

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tarilabs/userauth/userauthtest"
)

func TestMemoryStorage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := NewMemoryStorage()
	got, err := loadPair(ctx, m)
	require.NoError(t, err)
	assert.Nil(t, got)
	tok := &Token{AccessToken: "a", RefreshToken: "r"}
	require.NoError(t, savePair(ctx, m, tok))
	tok.AccessToken = "changed by the caller"
	got, _ = loadPair(ctx, m)
	assert.Equal(t, "a", got.AccessToken, "Save keeps a copy")
	got.AccessToken = "changed again"
	again, _ := loadPair(ctx, m)
	assert.Equal(t, "a", again.AccessToken, "Load hands out a copy")
	assert.Error(t, savePair(ctx, m, nil))
	older := recordOf(&Token{AccessToken: "older", RefreshToken: "r"})
	assert.ErrorIs(t, m.Save(ctx, older), ErrConflict, "a record of a generation it holds already is refused")
	got, _ = loadPair(ctx, m)
	assert.Equal(t, "a", got.AccessToken)
}

// memoryLocker returns m as a Locker, failing the test when it is none.
func memoryLocker(t *testing.T, m *MemoryStorage) Locker {
	t.Helper()
	l, ok := any(m).(Locker)
	if !ok {
		t.Fatalf("got %T without a Lock method, want a Locker", m)
	}
	return l
}

func TestMemoryStorageLockExcludes(t *testing.T) {
	t.Parallel()
	l := memoryLocker(t, NewMemoryStorage())
	const workers, rounds = 8, 50
	var inside atomic.Int32
	counter := 0 // guarded by l alone: the race detector sees a broken lock
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				unlock, err := l.Lock(context.Background())
				if err != nil {
					t.Errorf("Lock: got %v, want nil", err)
					return
				}
				if n := inside.Add(1); n != 1 {
					t.Errorf("got %d holders inside the lock, want 1", n)
				}
				counter++
				runtime.Gosched()
				inside.Add(-1)
				unlock()
			}
		}()
	}
	wg.Wait()
	if counter != workers*rounds {
		t.Errorf("got counter %d, want %d", counter, workers*rounds)
	}
}

func TestMemoryStorageLockHonoursContext(t *testing.T) {
	t.Parallel()
	var m MemoryStorage // the zero value works
	l := memoryLocker(t, &m)
	unlock, err := l.Lock(context.Background())
	require.NoError(t, err)
	defer unlock()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := l.Lock(ctx)
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Lock while another holds it, context cancelled: got %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Lock still waiting 10s after its context was cancelled")
	}

	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.Lock(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lock while another holds it, deadline: got %v, want context.DeadlineExceeded", err)
	}
}

// returns fails the test when f has not returned after a generous while.
func returns(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s still blocked after 10s, want it to return", what)
	}
}

func TestMemoryStorageUnlockTwice(t *testing.T) {
	t.Parallel()
	l := memoryLocker(t, NewMemoryStorage())
	first, err := l.Lock(context.Background())
	require.NoError(t, err)
	first()
	returns(t, "a second unlock", first) // must neither block nor release anyone else's hold

	second, err := l.Lock(context.Background())
	require.NoError(t, err)
	defer second()
	first() // still nothing: the lock belongs to second
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if unlock, err := l.Lock(ctx); err == nil {
		unlock()
		t.Fatal("Lock: got the lock while second holds it, want context.DeadlineExceeded")
	} else if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lock: got %v, want context.DeadlineExceeded", err)
	}
}

func TestFileStorageRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "nested", "dir")
	f, err := NewFileStorage(filepath.Join(dir, "tokens.json"))
	require.NoError(t, err)
	info, err := os.Stat(dir)
	require.NoError(t, err)
	if modesAreReal {
		assert.Equal(t, fs.FileMode(0o700), info.Mode().Perm(), "directory created 0700")
	}

	got, err := loadPair(ctx, f)
	require.NoError(t, err)
	assert.Nil(t, got, "no file: no token")

	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tok := &Token{AccessToken: "a", RefreshToken: "r", Requires2FA: TwoFactorSMS, Expiry: exp}
	require.NoError(t, savePair(ctx, f, tok))
	info, err = os.Stat(f.Path())
	require.NoError(t, err)
	if modesAreReal {
		assert.Equal(t, fs.FileMode(0o600), info.Mode().Perm())
	}
	got, err = loadPair(ctx, f)
	require.NoError(t, err)
	assert.Equal(t, tok, got)

	leftovers, _ := filepath.Glob(filepath.Join(dir, "*.tmp-*"))
	assert.Empty(t, leftovers)

	require.NoError(t, f.Clear(ctx))
	require.NoError(t, f.Clear(ctx), "clearing twice is fine")
	got, err = loadPair(ctx, f)
	require.NoError(t, err)
	assert.Nil(t, got)
}

func TestNewFileStorageOptions(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "never-created")
	errBad := errors.New("userauth: an invalid option")
	bad := FileStorageOption(func(*fileStorageConfig) error { return errBad })
	laterRan := false
	later := FileStorageOption(func(*fileStorageConfig) error { laterRan = true; return nil })

	f, err := NewFileStorage(filepath.Join(dir, "tokens.json"), nil, WithInsecureFileMode(), bad, later)
	if !errors.Is(err, errBad) {
		t.Errorf("got error %v, want the option's error %v", err, errBad)
	}
	if f != nil {
		t.Errorf("got a FileStorage %v with an error, want nil", f)
	}
	if laterRan {
		t.Error("an option after the invalid one ran, want NewFileStorage to stop at the first error")
	}
	if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("directory after an invalid option: got Lstat error %v, want fs.ErrNotExist", err)
	}

	f, err = NewFileStorage(filepath.Join(dir, "tokens.json"), nil, WithInsecureFileMode(), nil)
	require.NoError(t, err, "nil options are skipped")
	if !f.cfg.wideModes {
		t.Error("got wideModes false after WithInsecureFileMode, want true")
	}
}

func TestFileStorageCorrupt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for name, content := range map[string]string{
		"empty":      "",
		"torn":       `{"access_token":"a","refresh_to`,
		"not json":   "hello",
		"no refresh": `{"access_token":"a"}`,
		"two values": `{"access_token":"a","refresh_token":"r"} {}`,
		"wrong type": `{"access_token":1,"refresh_token":"r"}`,
		"unsendable": `{"access_token":"a\r\nX-Injected: 1","refresh_token":"r"}`,
	} {
		t.Run(name, func(t *testing.T) {
			f, err := NewFileStorage(filepath.Join(t.TempDir(), "tokens.json"))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(f.Path(), []byte(content), 0o600))
			_, err = loadPair(ctx, f)
			assert.ErrorIs(t, err, ErrCorruptTokenFile)
		})
	}
}

func TestFileStorageFillsExpiryFromJWT(t *testing.T) {
	t.Parallel()
	srv := userauthtest.NewServer()
	defer srv.Close()
	_, err := srv.AddUser(userauthtest.User{Email: "a@b.c", Password: "p"})
	require.NoError(t, err)
	c, _ := NewClient(srv.URL)
	tr, err := c.Login(context.Background(), LoginRequest{Email: "a@b.c", Password: "p"})
	require.NoError(t, err)
	f, _ := NewFileStorage(filepath.Join(t.TempDir(), "t.json"))
	require.NoError(t, os.WriteFile(f.Path(), []byte(fmt.Sprintf(`{"access_token":%q,"refresh_token":"r"}`, tr.AccessToken)), 0o600))
	got, err := loadPair(context.Background(), f)
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(15*time.Minute), got.Expiry, 2*time.Second)
}

func TestFileStorageLockExcludes(t *testing.T) {
	t.Parallel()
	f, err := NewFileStorage(filepath.Join(t.TempDir(), "tokens.json"))
	require.NoError(t, err)
	var inside, maxInside atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				unlock, err := f.Lock(context.Background())
				if !assert.NoError(t, err) {
					return
				}
				n := inside.Add(1)
				if n > maxInside.Load() {
					maxInside.Store(n)
				}
				time.Sleep(100 * time.Microsecond)
				inside.Add(-1)
				unlock()
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(1), maxInside.Load())

	unlock, err := f.Lock(context.Background())
	require.NoError(t, err)
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err = f.Lock(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "a held lock makes others wait until their context ends")
}

// The tests below re-execute the test binary as helper processes: true
// separate processes, sharing nothing but the token file and the server.

const helperEnv = "USERAUTH_TEST_HELPER"

// TestHelperProcess is not a test: it is the body of a helper process,
// chosen by the helperEnv variable, and does nothing otherwise.
func TestHelperProcess(t *testing.T) {
	switch os.Getenv(helperEnv) {
	case "":
		return
	case "refresh":
		helperRefresh()
	case "writer":
		helperWriter()
	}
	os.Exit(0)
}

// helperRefresh waits for a start time, asks its own TokenStore over the
// shared FileStorage for a token, and prints a digest of it.
func helperRefresh() {
	offset, _ := time.ParseDuration(os.Getenv("USERAUTH_CLOCK_OFFSET"))
	var startNanos int64
	fmt.Sscan(os.Getenv("USERAUTH_START_AT"), &startNanos)
	c, err := NewClient(os.Getenv("USERAUTH_BASE_URL"))
	if err != nil {
		fmt.Println("ERR", err)
		return
	}
	storage, err := NewFileStorage(os.Getenv("USERAUTH_TOKEN_FILE"))
	if err != nil {
		fmt.Println("ERR", err)
		return
	}
	store, err := NewTokenStore(c, storage, WithClock(func() time.Time { return time.Now().Add(offset) }))
	if err != nil {
		fmt.Println("ERR", err)
		return
	}
	time.Sleep(time.Until(time.Unix(0, startNanos)))
	tok, err := store.AccessToken(context.Background())
	if err != nil {
		fmt.Println("ERR", err)
		return
	}
	fmt.Println("TOKEN", digestOf(tok))
}

// helperWriter saves tokens to the file as fast as it can, forever.
func helperWriter() {
	storage, err := NewFileStorage(os.Getenv("USERAUTH_TOKEN_FILE"))
	if err != nil {
		fmt.Println("ERR", err)
		return
	}
	for i := 0; ; i++ {
		// Tokens of varying length, so a torn write would show.
		tok := &Token{AccessToken: strings.Repeat("a", 100+i%900), RefreshToken: fmt.Sprint("r", i), Expiry: time.Now()}
		if err := savePair(context.Background(), storage, tok); err != nil {
			fmt.Println("ERR", err)
			return
		}
		if i == 0 {
			fmt.Println("READY")
		}
	}
}

func digestOf(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:8])
}

func helperCommand(t *testing.T, mode string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), append([]string{helperEnv + "=" + mode}, env...)...)
	return cmd
}

func TestTwoProcessesShareOneRefresh(t *testing.T) {
	t.Parallel()
	srv := userauthtest.NewServer()
	t.Cleanup(srv.Close)
	_, err := srv.AddUser(userauthtest.User{Email: ann.Email, Password: ann.Password})
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "tokens.json")
	storage, err := NewFileStorage(path)
	require.NoError(t, err)
	c, err := NewClient(srv.URL)
	require.NoError(t, err)
	_, err = mustStore(t, c, storage).Login(context.Background(), ann)
	require.NoError(t, err)

	var offset time.Duration
	for round := 1; round <= 3; round++ {
		srv.Advance(16 * time.Minute) // every saved access token is now expired
		offset += 16 * time.Minute
		startAt := time.Now().Add(500 * time.Millisecond).UnixNano()
		outs := make([][]byte, 2)
		var wg sync.WaitGroup
		for i := range outs {
			cmd := helperCommand(t, "refresh",
				"USERAUTH_BASE_URL="+srv.URL, "USERAUTH_TOKEN_FILE="+path,
				"USERAUTH_CLOCK_OFFSET="+offset.String(), fmt.Sprint("USERAUTH_START_AT=", startAt))
			wg.Add(1)
			go func() {
				defer wg.Done()
				outs[i], _ = cmd.CombinedOutput()
			}()
		}
		wg.Wait()
		var digests []string
		for _, out := range outs {
			line := findLine(string(out), "TOKEN ")
			require.NotEmpty(t, line, "helper output: %s", out)
			digests = append(digests, line)
		}
		assert.Equal(t, digests[0], digests[1], "round %d: both processes end with the same token", round)
		assert.Equal(t, round, srv.Calls(userauthtest.PathRefresh), "round %d: exactly one refresh per round", round)
		assert.Equal(t, 0, srv.ReuseDetected())
	}
}

func findLine(out, prefix string) string {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), prefix) {
			return sc.Text()
		}
	}
	return ""
}

func TestFileStorageSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	kills := 200
	if testing.Short() {
		kills = 20
	}
	path := filepath.Join(t.TempDir(), "tokens.json")
	storage, err := NewFileStorage(path)
	require.NoError(t, err)
	ctx := context.Background()
	for i := range kills {
		cmd := helperCommand(t, "writer", "USERAUTH_TOKEN_FILE="+path)
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		ready := bufio.NewScanner(stdout)
		require.True(t, ready.Scan(), "writer %d said nothing", i)
		require.Equal(t, "READY", ready.Text())
		time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
		require.NoError(t, cmd.Process.Kill()) // SIGKILL: no chance to clean up
		_ = cmd.Wait()

		tok, err := loadPair(ctx, storage)
		require.NoError(t, err, "after kill %d", i)
		require.NotNil(t, tok)
		require.True(t, strings.HasPrefix(tok.RefreshToken, "r"))
		require.GreaterOrEqual(t, len(tok.AccessToken), 100)
	}
	// Killed writers may leave temporary files behind; never the token
	// file torn.
	tmps, _ := filepath.Glob(path + ".tmp-*")
	t.Logf("%d kills, %d temporary files left behind", kills, len(tmps))

	// NewFileStorage sweeps the ones old enough to be surely dead.
	old := time.Now().Add(-2 * staleTempAge)
	for _, tmp := range tmps[:len(tmps)/2] {
		require.NoError(t, os.Chtimes(tmp, old, old))
	}
	_, err = NewFileStorage(path)
	require.NoError(t, err)
	left, _ := filepath.Glob(path + ".tmp-*")
	assert.Len(t, left, len(tmps)-len(tmps)/2, "only stale temporary files are removed")
	tok, err := loadPair(ctx, storage)
	require.NoError(t, err)
	assert.NotNil(t, tok)
}

func TestFileStorageErrorsAreTyped(t *testing.T) {
	t.Parallel()
	_, err := NewFileStorage("")
	assert.Error(t, err)
	dir := t.TempDir()
	f, err := NewFileStorage(filepath.Join(dir, "tokens.json"))
	require.NoError(t, err)
	require.NoError(t, os.Mkdir(f.Path(), 0o700)) // a directory where the file should be
	_, err = loadPair(context.Background(), f)
	assert.Error(t, err)
	assert.False(t, errors.Is(err, ErrCorruptTokenFile))
	assert.Error(t, savePair(context.Background(), f, &Token{AccessToken: "a", RefreshToken: "r"}))
}

func TestFileStorageHonoursEndedContext(t *testing.T) {
	t.Parallel()
	f, err := NewFileStorage(filepath.Join(t.TempDir(), "tokens.json"))
	require.NoError(t, err)
	require.NoError(t, savePair(context.Background(), f, &Token{AccessToken: "old", RefreshToken: "r"}))
	before, err := os.ReadFile(f.Path())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	for _, c := range []struct {
		op, prefix string
		err        error
	}{
		{"Save", "userauth: saving tokens to ", savePair(ctx, f, &Token{AccessToken: "new", RefreshToken: "r"})},
		{"Clear", "userauth: clearing tokens at ", f.Clear(ctx)},
		{"Load", "userauth: loading tokens from ", func() error { _, err := loadPair(ctx, f); return err }()},
	} {
		if !errors.Is(c.err, context.Canceled) {
			t.Errorf("%s with a cancelled context: got %v, want an error matching context.Canceled", c.op, c.err)
			continue
		}
		checkNamesOnce(t, c.err, c.prefix+f.Path()+": ")
	}
	if err := lockOnce(ctx, f); !errors.Is(err, context.Canceled) {
		t.Errorf("Lock with a cancelled context: got %v, want an error matching context.Canceled", err)
	}

	after, err := os.ReadFile(f.Path())
	if err != nil || !bytes.Equal(after, before) {
		t.Errorf("token file after cancelled calls: got %q, %v, want it unchanged %q", after, err, before)
	}
	if tmps, _ := filepath.Glob(f.Path() + ".tmp-*"); len(tmps) != 0 {
		t.Errorf("got temporary files %v left behind, want none", tmps)
	}
}

// operationPhrases are the phrases a storage error names its operation
// with; none may appear twice in one error.
var operationPhrases = []string{"userauth:", "loading tokens", "saving tokens", "clearing tokens", "locking"}

// checkNamesOnce fails the test unless err starts with prefix and says no
// operation phrase twice.
func checkNamesOnce(t *testing.T, err error, prefix string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one starting %q", prefix)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, prefix) {
		t.Errorf("got %q, want it to start with %q", msg, prefix)
	}
	for _, phrase := range operationPhrases {
		if n := strings.Count(msg, phrase); n > 1 {
			t.Errorf("got %q, which says %q %d times, want once at most", msg, phrase, n)
		}
	}
}

// plantDir makes a directory (not empty) where the token file is, or the
// file at its path plus suffix: every operation on it fails, for root too.
func plantDir(suffix string) func(*testing.T, *FileStorage) {
	return func(t *testing.T, f *FileStorage) {
		require.NoError(t, os.MkdirAll(filepath.Join(f.Path()+suffix, "inside"), 0o700))
	}
}

// makeDirReadOnly makes the token file's directory read-only, or skips
// the test where that would not stop its user from writing.
func makeDirReadOnly(t *testing.T, f *FileStorage) {
	if runtime.GOOS == "windows" || os.Geteuid() == 0 {
		t.Skip("file modes do not stop this user from writing")
	}
	dir := filepath.Dir(f.Path())
	require.NoError(t, os.Chmod(dir, 0o500))
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
}

// writeCorrupt writes a token file without a refresh token.
func writeCorrupt(t *testing.T, f *FileStorage) {
	require.NoError(t, os.WriteFile(f.Path(), []byte(`{"access_token":"a"}`), 0o600))
}

// lockOnce takes f's lock and releases it at once.
func lockOnce(ctx context.Context, f *FileStorage) error {
	unlock, err := f.Lock(ctx)
	if err == nil {
		unlock()
	}
	return err
}

func TestStorageErrorsNameTheOperationOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tok := &Token{AccessToken: "a", RefreshToken: "r"}
	save := func(f *FileStorage) error { return savePair(ctx, f, tok) }
	load := func(f *FileStorage) error { _, err := loadPair(ctx, f); return err }
	lock := func(f *FileStorage) error { return lockOnce(ctx, f) }
	for _, c := range []struct {
		name    string
		prepare func(*testing.T, *FileStorage)
		call    func(*FileStorage) error
		prefix  string // then the path, or the lock path for Lock
		is      error  // a sentinel the error must match too
	}{
		{"save over a directory", plantDir(""), save, "userauth: saving tokens to ", nil},
		{"save into a read-only directory", makeDirReadOnly, save, "userauth: saving tokens to ", nil},
		{"save a nil token", nil, func(f *FileStorage) error { return savePair(ctx, f, nil) }, "userauth: saving tokens to ", nil},
		{"load a corrupt file", writeCorrupt, load, "userauth: loading tokens from ", ErrCorruptTokenFile},
		{"load a directory", plantDir(""), load, "userauth: loading tokens from ", nil},
		{"clear a directory", plantDir(""), func(f *FileStorage) error { return f.Clear(ctx) }, "userauth: clearing tokens at ", nil},
		{"lock a directory", plantDir(".lock"), lock, "userauth: locking ", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f, err := NewFileStorage(filepath.Join(t.TempDir(), "tokens.json"))
			require.NoError(t, err)
			if c.prepare != nil {
				c.prepare(t, f)
			}
			path := f.Path()
			if strings.HasPrefix(c.prefix, "userauth: locking") {
				path += ".lock"
			}
			err = c.call(f)
			checkNamesOnce(t, err, c.prefix+path+": ")
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("got %v, want an error matching %v", err, c.is)
			}
		})
	}
	t.Run("memory: save a nil token", func(t *testing.T) {
		t.Parallel()
		checkNamesOnce(t, NewMemoryStorage().Save(ctx, nil), "userauth: saving tokens: ")
	})
}

func FuzzDecodeTokenFile(f *testing.F) {
	for _, seed := range []string{
		`{"access_token":"a","refresh_token":"r","expiry":"2030-01-01T00:00:00Z"}`,
		`{"access_token":"a","refresh_token":"r","requires_2fa":"SMS","expiry":"0001-01-01T00:00:00Z"}`,
		`{"access_token":"eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE5MDAwMDAwMDB9.x","refresh_token":"r"}`,
		`{"access_token":"a"}`, `{}`, `null`, `[]`, ``, `{"access_token":"a","refresh_to`, `{} {}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := decodeTokenFile(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrCorruptTokenFile) {
				t.Fatalf("got %v, want an error matching ErrCorruptTokenFile", err)
			}
			if rec != nil {
				t.Fatal("a record with an error")
			}
			return
		}
		if rec.hasPair() && (rec.Token.AccessToken == "" || rec.Token.RefreshToken == "") {
			t.Fatalf("accepted an incomplete token: %v", rec)
		}
		if rec.Generation == 0 {
			t.Fatalf("accepted a record of generation 0: %v", rec)
		}
	})
}
