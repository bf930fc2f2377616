package userauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofrs/flock"
)

// ErrCorruptTokenFile is matched (with errors.Is) when a FileStorage file
// exists but does not hold a complete token.
var ErrCorruptTokenFile = errors.New("userauth: corrupt token file")

// ErrTokenFileExposed is matched (with errors.Is) when a FileStorage file
// can be read by users other than its owner. Only Unix systems report it:
// elsewhere file modes are synthesised (on Windows every writable file
// looks 0666) and the file's access control list, not its mode, decides
// who can read it.
var ErrTokenFileExposed = errors.New("userauth: token file readable by others")

// FileStorage keeps the token in a JSON file, readable by its owner only
// (mode 0600). A save writes a temporary file, syncs it and renames it over
// the old one, so a crash leaves the old token or the new one, never a torn
// file. FileStorage implements Locker with an advisory file lock on a
// sibling file (path + ".lock"), so several processes can share one token
// file. Safe for concurrent use.
type FileStorage struct {
	path     string
	lockPath string
	cfg      fileStorageConfig
}

// fileStorageConfig is what FileStorageOptions set.
type fileStorageConfig struct {
	wideModes bool // WithInsecureFileMode
}

// FileStorageOption configures a FileStorage. NewFileStorage applies the
// options in order, skips a nil one, and stops at the first that reports
// an invalid value, returning its error.
type FileStorageOption func(*fileStorageConfig) error

// WithInsecureFileMode lets Load read a token file that users other than
// its owner can read (mode wider than 0600), which it refuses by default:
// for setups where a group is meant to share the file. Saves still write
// 0600. It is always valid, and changes nothing outside Unix, where Load
// does not check modes (see ErrTokenFileExposed).
func WithInsecureFileMode() FileStorageOption {
	return func(c *fileStorageConfig) error {
		c.wideModes = true
		return nil
	}
}

// NewFileStorage returns a FileStorage keeping the token at path, creating
// the file's directory (mode 0700) when it is missing. The file itself is
// created by the first Save. An invalid option's error is returned before
// anything on disk is touched.
func NewFileStorage(path string, opts ...FileStorageOption) (*FileStorage, error) {
	if path == "" {
		return nil, errors.New("userauth: NewFileStorage: empty path")
	}
	var cfg fileStorageConfig
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("userauth: NewFileStorage: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("userauth: NewFileStorage: %w", err)
	}
	removeStaleTemps(abs)
	return &FileStorage{path: abs, lockPath: abs + ".lock", cfg: cfg}, nil
}

// staleTempAge is how old a temporary file must be before NewFileStorage
// takes it for the leftover of a writer that died mid-save.
const staleTempAge = time.Minute

// removeStaleTemps deletes temporary files that writers killed mid-save
// left beside the token file. Younger ones may belong to a live writer.
func removeStaleTemps(path string) {
	tmps, _ := filepath.Glob(globEscape(path) + ".tmp-*")
	for _, tmp := range tmps {
		if info, err := os.Lstat(tmp); err == nil && info.Mode().IsRegular() && time.Since(info.ModTime()) > staleTempAge {
			_ = os.Remove(tmp)
		}
	}
}

// globEscape escapes the pattern characters of a literal path.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Path returns the absolute path of the token file.
func (f *FileStorage) Path() string { return f.path }

// The operations a FileStorage error names, before the file's path.
const (
	opLoad  = "loading tokens from"
	opSave  = "saving tokens to"
	opClear = "clearing tokens at"
)

// fail names the operation and the token file once, in front of err.
func (f *FileStorage) fail(op string, err error) error {
	return fmt.Errorf("userauth: %s %s: %w", op, f.path, err)
}

// sentinelError matches its sentinel (errors.Is) and reads as the
// sentinel's message without the package prefix, then the detail: it goes
// inside an error that already names the package.
type sentinelError struct {
	sentinel error
	detail   string
}

func (e *sentinelError) Error() string {
	return strings.TrimPrefix(e.sentinel.Error(), "userauth: ") + ": " + e.detail
}

func (e *sentinelError) Unwrap() error { return e.sentinel }

// Load reads the token file: (nil, nil) when it does not exist, an error
// matching ErrTokenFileExposed when its mode lets others read it (unless
// WithInsecureFileMode), and one matching ErrCorruptTokenFile when it does
// not hold a complete token. Errors read "userauth: loading tokens from
// <path>: ...".
func (f *FileStorage) Load(ctx context.Context) (*Token, error) {
	tok, err := f.load(ctx)
	if err != nil {
		return nil, f.fail(opLoad, err)
	}
	return tok, nil
}

func (f *FileStorage) load(context.Context) (*Token, error) {
	file, err := os.Open(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	if err := checkPrivate(info.Mode(), f.cfg.wideModes); err != nil {
		return nil, err
	}
	return decodeTokenFile(file)
}

// maxTokenFile bounds what Load reads; a token file is a few KiB.
const maxTokenFile = 1 << 20

func decodeTokenFile(r io.Reader) (*Token, error) {
	var t Token
	dec := json.NewDecoder(io.LimitReader(r, maxTokenFile))
	if err := dec.Decode(&t); err != nil {
		// The JSON error names an offset, never the content.
		return nil, &sentinelError{ErrCorruptTokenFile, err.Error()}
	}
	if dec.More() {
		return nil, &sentinelError{ErrCorruptTokenFile, "data after the token"}
	}
	if t.AccessToken == "" || t.RefreshToken == "" {
		return nil, &sentinelError{ErrCorruptTokenFile, "missing access or refresh token"}
	}
	if t.Expiry.IsZero() {
		t.Expiry = jwtExpiry(t.AccessToken)
	}
	return &t, nil
}

// Save writes t atomically: temporary file, fsync, rename, directory fsync.
// Errors read "userauth: saving tokens to <path>: ...".
func (f *FileStorage) Save(ctx context.Context, t *Token) error {
	if err := f.save(ctx, t); err != nil {
		return f.fail(opSave, err)
	}
	return nil
}

func (f *FileStorage) save(_ context.Context, t *Token) error {
	if t == nil {
		return errors.New("nil token")
	}
	data, err := json.Marshal(t)
	if err != nil {
		return err
	}
	dir := filepath.Dir(f.path)
	tmp, err := os.CreateTemp(dir, filepath.Base(f.path)+".tmp-*") // mode 0600
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), f.path); err != nil {
		return err
	}
	ok = true
	syncDir(dir)
	return nil
}

// syncDir makes a rename durable. Some file systems cannot sync a
// directory; the rename is already atomic there, so errors are ignored.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// Clear removes the token file. Errors read "userauth: clearing tokens at
// <path>: ...".
func (f *FileStorage) Clear(context.Context) error {
	if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return f.fail(opClear, err)
	}
	return nil
}

// lockPoll is how often Lock tries again while another process holds the
// lock.
const lockPoll = 5 * time.Millisecond

// Lock takes an exclusive advisory lock on path + ".lock", waiting until it
// is free or ctx ends. The lock excludes other processes and other
// goroutines alike. Errors read "userauth: locking <path>.lock: ...".
func (f *FileStorage) Lock(ctx context.Context) (func(), error) {
	fl := flock.New(f.lockPath, flock.SetPermissions(0o600))
	ok, err := fl.TryLockContext(ctx, lockPoll)
	if err != nil {
		return nil, fmt.Errorf("userauth: locking %s: %w", f.lockPath, err)
	}
	if !ok {
		return nil, fmt.Errorf("userauth: locking %s: not acquired", f.lockPath)
	}
	return func() { _ = fl.Unlock() }, nil
}
