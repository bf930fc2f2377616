//go:build unix

package userauth

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// plantFIFO makes a named pipe at path. Opening one for reading without
// O_NONBLOCK waits until a writer comes: forever, if none does.
func plantFIFO(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
}

// returnsDespiteFIFO runs op, which must not block on the named pipe at
// fifo, and returns its error. If op is still blocked after a generous
// while, the test fails, after a writer opened on fifo set op free (so that
// no goroutine outlives the test).
func returnsDespiteFIFO(t *testing.T, what, fifo string, op func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- op() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
	}
	if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
		w.Close()
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
	t.Fatalf("%s: still blocked on the named pipe after 30s, want it refused at once", what)
	return nil
}

func TestFileStorageRefusesFIFOAtTokenPath(t *testing.T) {
	t.Parallel()
	f, err := NewFileStorage(filepath.Join(t.TempDir(), "tokens.json"))
	if err != nil {
		t.Fatal(err)
	}
	plantFIFO(t, f.Path())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()

	var tok *Token
	err = returnsDespiteFIFO(t, "Load", f.Path(), func() (err error) {
		tok, err = loadPair(ctx, f)
		return err
	})
	if err == nil || tok != nil {
		t.Fatalf("Load of a named pipe: got %v, %v, want no token and an error", tok, err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Load of a named pipe: got %v, want it refused before the deadline", err)
	}
	checkNamesOnce(t, err, "userauth: loading tokens from "+f.Path()+": ")

	err = returnsDespiteFIFO(t, "Clear", f.Path(), func() error { return f.Clear(ctx) })
	if err == nil {
		t.Error("Clear of a named pipe: got nil, want an error")
	}
	if info, lerr := os.Lstat(f.Path()); lerr != nil || info.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("after a refused Clear: got %v, %v at the token path, want the named pipe left alone", info, lerr)
	}

	// Save never opens the path: its rename replaces the pipe.
	want := &Token{AccessToken: "a", RefreshToken: "r"}
	err = returnsDespiteFIFO(t, "Save", f.Path(), func() error { return savePair(ctx, f, want) })
	if err != nil {
		t.Fatalf("Save over a named pipe: got %v, want nil", err)
	}
	if got, err := loadPair(ctx, f); err != nil || got == nil || got.AccessToken != want.AccessToken {
		t.Errorf("Load after Save: got %v, %v, want the saved token", got, err)
	}
}

func TestFileStorageRefusesFIFOAtLockPath(t *testing.T) {
	t.Parallel()
	f, err := NewFileStorage(filepath.Join(t.TempDir(), "tokens.json"))
	if err != nil {
		t.Fatal(err)
	}
	lockPath := f.Path() + ".lock"
	plantFIFO(t, lockPath)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()

	err = returnsDespiteFIFO(t, "Lock", lockPath, func() error { return lockOnce(ctx, f) })
	if err == nil {
		t.Fatal("Lock on a named pipe: got the lock, want an error")
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lock on a named pipe: got %v, want it refused before the deadline", err)
	}
	checkNamesOnce(t, err, "userauth: locking "+lockPath+": ")
}
