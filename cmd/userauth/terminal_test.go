package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

// terminal is a pseudo-terminal that a test reads as a user would see it.
type terminal struct {
	t      *testing.T
	slave  *os.File
	in     *os.File // the master side, to type into
	chunks chan string
	seen   strings.Builder
}

// newTerminal opens a pseudo-terminal, or skips the test where none can be
// opened. Give slave to the program, then call started.
func newTerminal(t *testing.T) *terminal {
	t.Helper()
	master, slave, err := openPTY()
	if err != nil {
		t.Skip(err)
	}
	tm := &terminal{t: t, slave: slave, in: master, chunks: make(chan string, 64)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(tm.chunks)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			if n > 0 {
				tm.chunks <- string(buf[:n])
			}
			if err != nil {
				return // EIO once every holder of the slave side has closed it
			}
		}
	}()
	t.Cleanup(func() {
		slave.Close()
		for range tm.chunks {
		}
		<-done
		master.Close()
	})
	return tm
}

// started closes the test's copy of the slave side once the program
// holds its own, so that reading ends when the program does.
func (tm *terminal) started() { tm.slave.Close() }

// waitFor reads the terminal until it has shown s.
func (tm *terminal) waitFor(s string) {
	tm.t.Helper()
	timeout := time.After(hangBound)
	for !strings.Contains(tm.seen.String(), s) {
		select {
		case c, ok := <-tm.chunks:
			if !ok {
				tm.t.Fatalf("terminal closed; got %q, want it to show %q", tm.seen.String(), s)
			}
			tm.seen.WriteString(c)
		case <-timeout:
			tm.t.Fatalf("after %v the terminal shows %q, want it to show %q", hangBound, tm.seen.String(), s)
		}
	}
}

// all reads the terminal until the program has closed it, and returns all
// it showed.
func (tm *terminal) all() string {
	tm.t.Helper()
	timeout := time.After(hangBound)
	for {
		select {
		case c, ok := <-tm.chunks:
			if !ok {
				return tm.seen.String()
			}
			tm.seen.WriteString(c)
		case <-timeout:
			tm.t.Fatalf("terminal still open after %v; it shows %q", hangBound, tm.seen.String())
		}
	}
}

// typeLine types s and Enter.
func (tm *terminal) typeLine(s string) {
	tm.t.Helper()
	if _, err := tm.in.WriteString(s + "\n"); err != nil {
		tm.t.Fatal(err)
	}
}
