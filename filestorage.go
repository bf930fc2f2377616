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
	"runtime"
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
// not hold a record (see DecodeRecord; a file of an earlier version, a bare
// token, is read as a record, and the next save upgrades it). Errors read
// "userauth: loading tokens from <path>: ...".
func (f *FileStorage) Load(ctx context.Context) (*Record, error) {
	rec, err := f.load(ctx)
	if err != nil {
		return nil, f.fail(opLoad, err)
	}
	return rec, nil
}

func (f *FileStorage) load(ctx context.Context) (*Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	file, info, err := openRegular(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer file.Close()
	if err := checkPrivate(info.Mode(), f.cfg.wideModes); err != nil {
		return nil, err
	}
	return decodeTokenFile(file)
}

// openRegular opens path for reading if it is a regular file, and refuses
// anything else without blocking or following it: a named pipe planted
// there would block a plain open until a writer came, and a symbolic link
// would hand over another file. A Save renaming a new file into place
// meanwhile makes it try again.
func openRegular(path string) (file *os.File, info fs.FileInfo, err error) {
	for range 3 {
		file, info, err = openRegularOnce(path)
		if !errors.Is(err, errReplaced) {
			break
		}
	}
	return file, info, err
}

// errReplaced says that another file took the path between the Lstat check
// and the open.
var errReplaced = errors.New("replaced while being opened")

// openRegularOnce is one try of openRegular. The Lstat check refuses what
// is there; O_NOFOLLOW and O_NONBLOCK (noBlockNoFollow), where the OS has
// them, and the checks on the opened file refuse an entry swapped in
// meanwhile. Without O_NOFOLLOW, os.SameFile is what shows that the open
// followed a link swapped in.
func openRegularOnce(path string) (*os.File, fs.FileInfo, error) {
	before, err := os.Lstat(path)
	if err != nil {
		return nil, nil, err
	}
	if !before.Mode().IsRegular() {
		return nil, nil, notRegular(before.Mode())
	}
	file, err := os.OpenFile(path, os.O_RDONLY|noBlockNoFollow, 0)
	if err != nil {
		return nil, nil, err
	}
	info, err := file.Stat()
	switch {
	case err != nil:
	case !info.Mode().IsRegular():
		err = notRegular(info.Mode())
	case !openRefusesLinks && !os.SameFile(before, info):
		err = errReplaced
	}
	if err != nil {
		file.Close()
		return nil, nil, err
	}
	return file, info, nil
}

// notRegular is the error for an entry FileStorage refuses to open.
func notRegular(mode fs.FileMode) error {
	var kind string
	switch t := mode.Type(); {
	case t&fs.ModeSymlink != 0:
		kind = "a symbolic link"
	case t&fs.ModeDir != 0:
		kind = "a directory"
	case t&fs.ModeNamedPipe != 0:
		kind = "a named pipe"
	case t&fs.ModeSocket != 0:
		kind = "a socket"
	case t&fs.ModeDevice != 0:
		kind = "a device"
	default:
		kind = "of type " + t.String()
	}
	return fmt.Errorf("not a regular file but %s", kind)
}

// maxTokenFile bounds what Load reads; a token file is a few KiB.
const maxTokenFile = 1 << 20

func decodeTokenFile(r io.Reader) (*Record, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxTokenFile+1))
	switch {
	case err != nil:
		return nil, err
	case len(data) > maxTokenFile:
		return nil, &sentinelError{ErrCorruptTokenFile, "larger than a token file is"}
	}
	rec, err := DecodeRecord(data)
	if err != nil {
		return nil, &sentinelError{ErrCorruptTokenFile, err.Error()}
	}
	return rec, nil
}

// Save writes r atomically: temporary file, fsync, rename, directory
// fsync. The rename replaces whatever else is at the path, a symbolic link
// included, without writing through it. It first reads the file: one that
// holds a record of r's generation or a higher one is left as it is
// (ErrConflict), as is one it cannot read. The check and the rename are one
// step for callers that hold the Lock, as a TokenStore does. When ctx ends
// before the rename, Save leaves the old record in place and its error
// matches ctx.Err(). Errors read "userauth: saving tokens to <path>: ...".
func (f *FileStorage) Save(ctx context.Context, r *Record) error {
	if err := f.save(ctx, r); err != nil {
		return f.fail(opSave, err)
	}
	return nil
}

func (f *FileStorage) save(ctx context.Context, r *Record) error {
	if r == nil {
		return errors.New("nil record")
	}
	// What cannot be read as a record (nothing, something damaged, not a
	// regular file) has no generation to keep.
	if old, err := f.load(ctx); err == nil && old != nil && old.Generation >= r.Generation {
		return fmt.Errorf("generation %d over %d: %w", r.Generation, old.Generation, ErrConflict)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	tmp, err := writeTemp(f.path, data)
	if err != nil {
		return err
	}
	// Writing and syncing can take long; a caller that gave up meanwhile
	// keeps the old token.
	if err := ctx.Err(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, f.path); err != nil {
		os.Remove(tmp)
		return err
	}
	syncDir(filepath.Dir(f.path))
	return nil
}

// writeTemp writes data to a new temporary file (mode 0600) beside path,
// synced and closed, and returns its name. It leaves nothing behind when it
// fails.
func writeTemp(path string, data []byte) (string, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	return tmp.Name(), nil
}

// syncDir makes a rename durable. Some file systems cannot sync a
// directory; the rename is already atomic there, so errors are ignored.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// Clear removes the token file, or a symbolic link at its path (never the
// link's target): for a file a TokenStore should no longer read (a damaged
// one, say). A TokenStore never calls it; its logout writes a logged-out
// record. It refuses to remove anything else, such as a directory,
// and removes nothing when ctx has ended (then its error matches
// ctx.Err()). Errors read "userauth: clearing tokens at <path>: ...".
func (f *FileStorage) Clear(ctx context.Context) error {
	if err := f.clear(ctx); err != nil {
		return f.fail(opClear, err)
	}
	return nil
}

func (f *FileStorage) clear(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	info, err := os.Lstat(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() && info.Mode()&fs.ModeSymlink == 0 {
		return notRegular(info.Mode())
	}
	if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// lockPoll is how often Lock tries again while another process holds the
// lock.
const lockPoll = 5 * time.Millisecond

// Lock takes an exclusive advisory lock on path + ".lock", waiting until it
// is free or ctx ends (then its error matches ctx.Err()). The lock excludes
// other processes and other goroutines alike. It refuses a lock path that
// holds anything but a regular file, a symbolic link included, and opens
// the lock file without blocking or following a link. Errors read
// "userauth: locking <path>.lock: ...".
func (f *FileStorage) Lock(ctx context.Context) (func(), error) {
	unlock, err := f.lock(ctx)
	if err != nil {
		return nil, fmt.Errorf("userauth: locking %s: %w", f.lockPath, err)
	}
	return unlock, nil
}

func (f *FileStorage) lock(ctx context.Context) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	info, err := os.Lstat(f.lockPath)
	switch {
	case err == nil && !info.Mode().IsRegular():
		return nil, notRegular(info.Mode())
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	fl := flock.New(f.lockPath, flock.SetPermissions(0o600), flock.SetFlag(lockFileFlags()))
	ok, err := fl.TryLockContext(ctx, lockPoll)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errors.New("not acquired")
	}
	return func() { _ = fl.Unlock() }, nil
}

// lockFileFlags are flock.New's own open flags, plus noBlockNoFollow.
// Where locks are fcntl's (AIX, Solaris, illumos), an exclusive lock needs
// the file open for writing.
func lockFileFlags() int {
	access := os.O_RDONLY
	switch runtime.GOOS {
	case "aix", "solaris", "illumos":
		access = os.O_RDWR
	}
	return os.O_CREATE | access | noBlockNoFollow
}
