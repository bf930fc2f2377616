package userauthtest

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"time"
)

// Fault is what an injected failure does to one call.
type Fault struct {
	// Status answers with this status instead of handling the call.
	Status int
	// RetryAfter, when set, is sent as the Retry-After header.
	RetryAfter string
	// Body is the body sent with Status; ContentType its type (default
	// application/json).
	Body, ContentType string
	// Delay waits this long (or until the client gives up) first.
	Delay time.Duration
	// Hold handles the call for real (tokens rotate, codes are spent,
	// sessions end), then holds the answer back this long, or until the
	// client gives up or the server closes, before it is written: a server
	// that holds an answer back after acting on it. A client that gives up
	// meanwhile never learns what was done. With Truncate, the answer is
	// also cut short once it is written. Hang, Drop, Reset, Raw and Status
	// do not handle the call, and take precedence over Hold.
	Hold time.Duration
	// Hang accepts the request and never answers, until the client gives
	// up or the server closes.
	Hang bool
	// Drop reads the request and closes the connection without answering.
	Drop bool
	// Reset reads the request and resets the connection (TCP RST).
	Reset bool
	// Raw reads the request, writes these bytes as they are (for answers
	// net/http will not write, such as a final 1xx) and closes the
	// connection.
	Raw string
	// Truncate handles the call but sends only half of the answer's body,
	// with a Content-Length for all of it.
	Truncate bool
	// Oversize handles the call by sending this many bytes of padding.
	Oversize int64
}

// Fail makes the next n calls of path suffer f, after any faults queued
// before.
func (s *Server) Fail(path string, n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults[path] = append(s.faults[path], f)
	}
}

// fault plays one injected failure.
func (s *Server) fault(w http.ResponseWriter, r *http.Request, f *Fault, next http.Handler) {
	w.Header().Set(FaultHeader, "1")
	// Read the body first: the server only notices a client that hangs up
	// once the body is consumed.
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	r.Body = io.NopCloser(bytes.NewReader(body))
	if f.Delay > 0 && !s.wait(r, f.Delay) {
		abort(w)
		return
	}
	switch {
	case f.Hang:
		select {
		case <-r.Context().Done():
		case <-s.closed:
		}
		abort(w)
	case f.Drop || f.Reset || f.Raw != "":
		breakConnection(w, f)
	case f.Status != 0:
		s.writeFaultStatus(w, f)
	case f.Truncate || f.Hold > 0:
		s.actThenAnswer(w, r, f, next)
	case f.Oversize > 0:
		s.writeOversize(w, f.Oversize)
	default:
		next.ServeHTTP(w, r)
	}
}

// breakConnection drops or resets the connection, after writing f.Raw.
func breakConnection(w http.ResponseWriter, f *Fault) {
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	if f.Raw != "" {
		_, _ = buf.WriteString(f.Raw)
		_ = buf.Flush()
	}
	if tc, ok := conn.(*net.TCPConn); ok && f.Reset {
		_ = tc.SetLinger(0) // close sends RST
	}
	conn.Close()
}

// writeFaultStatus answers f.Status with f's header and body.
func (s *Server) writeFaultStatus(w http.ResponseWriter, f *Fault) {
	ct := f.ContentType
	if ct == "" {
		ct = "application/json"
	}
	w.Header().Set("Content-Type", ct)
	s.stamp(w, s.now())
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	w.WriteHeader(f.Status)
	_, _ = io.WriteString(w, f.Body)
}

// actThenAnswer handles the call for real, then holds the answer back for
// f.Hold, or sends only half its body (f.Truncate).
func (s *Server) actThenAnswer(w http.ResponseWriter, r *http.Request, f *Fault, next http.Handler) {
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, r)
	if f.Hold > 0 && !s.wait(r, f.Hold) {
		abort(w) // acted on, never answered
		return
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	body := rec.Body.Bytes()
	if !f.Truncate {
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body[:len(body)/2])
	if conn, buf, err := w.(http.Hijacker).Hijack(); err == nil {
		_ = buf.Flush()
		conn.Close()
	}
}

// writeOversize answers 200 with n bytes of padding.
func (s *Server) writeOversize(w http.ResponseWriter, n int64) {
	w.Header().Set("Content-Type", "application/json")
	s.stamp(w, s.now())
	w.WriteHeader(http.StatusOK)
	chunk := bytes.Repeat([]byte(" "), 32<<10)
	for left := n; left > 0; left -= int64(len(chunk)) {
		if int64(len(chunk)) > left {
			chunk = chunk[:left]
		}
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
}

// wait waits d and reports true, or reports false as soon as the client
// gives up or the server closes.
func (s *Server) wait(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	case <-s.closed:
		return false
	}
}

// abort closes the connection without answering; returning from the
// handler instead would make net/http send an empty 200.
func abort(w http.ResponseWriter) {
	if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
		conn.Close()
	}
}
