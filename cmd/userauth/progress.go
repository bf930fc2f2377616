package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// statusDelay is how long a wait lasts before the status line shows, so
// that a quick answer draws nothing.
const statusDelay = 250 * time.Millisecond

// statusLine is the one line on stderr that shows a command waiting for
// the API: "waiting for <API> ... 3s", then "(attempt 2)" once the SDK
// retries. It is redrawn in place with \r every second and cleared when
// the wait ends. It is off unless stderr is a terminal, so pipes and files
// never see it.
type statusLine struct {
	on  bool
	w   io.Writer
	api string

	mu      sync.Mutex
	attempt int // the attempt in progress, once the SDK has retried
	width   int // of the text on the terminal, 0 when nothing is drawn
}

// newStatusLine returns the status line of waits for api.
func newStatusLine(e *env, api string) *statusLine {
	return &statusLine{on: e.stderrIsTerminal(), w: e.stderr, api: api}
}

// show starts showing the line and returns the function that stops and
// clears it. The goroutine that draws the line ends before stop returns.
func (s *statusLine) show() (stop func()) {
	if !s.on {
		return func() {}
	}
	start := time.Now()
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTimer(statusDelay)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				s.draw(time.Since(start))
				t.Reset(time.Second)
			}
		}
	}()
	return func() {
		close(quit)
		<-done
		s.clear()
	}
}

// draw writes the line over the one drawn before.
func (s *statusLine) draw(waited time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	text := fmt.Sprintf("waiting for %s ... %ds", s.api, int(waited.Seconds()))
	if s.attempt > 1 {
		text += fmt.Sprintf(" (attempt %d)", s.attempt)
	}
	pad := strings.Repeat(" ", max(0, s.width-len(text)))
	fmt.Fprint(s.w, "\r"+text+pad)
	s.width = len(text)
}

// clear blanks the line, leaving the cursor at its start.
func (s *statusLine) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.width > 0 {
		fmt.Fprint(s.w, "\r"+strings.Repeat(" ", s.width)+"\r")
		s.width = 0
	}
}

// retrying records that the SDK is about to retry after attempt.
func (s *statusLine) retrying(attempt int) {
	s.mu.Lock()
	s.attempt = attempt + 1
	s.mu.Unlock()
}

// retryWatcher is the SDK client's logger on a terminal: it reads the
// SDK's info-level "retrying" records (which carry the attempt number,
// never a secret) into the status line, and drops everything else.
type retryWatcher struct{ line *statusLine }

// Enabled keeps the info level, at which the SDK logs its retries.
func (w retryWatcher) Enabled(_ context.Context, l slog.Level) bool { return l == slog.LevelInfo }

// Handle passes a retry's attempt number to the status line.
func (w retryWatcher) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "attempt" && a.Value.Kind() == slog.KindInt64 {
			w.line.retrying(int(a.Value.Int64()))
		}
		return true
	})
	return nil
}

// WithAttrs returns w: the attributes are not needed.
func (w retryWatcher) WithAttrs([]slog.Attr) slog.Handler { return w }

// WithGroup returns w: groups are not needed.
func (w retryWatcher) WithGroup(string) slog.Handler { return w }
