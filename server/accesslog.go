package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/pentographer/pentographer/auth"
	"github.com/pentographer/pentographer/internal/jsonw"
)

// The access log: one line per request, written for every request, so it must
// cost little. With a LogWriter (production's JSON logs) the line is encoded by
// hand into a buffer that is written out at most logFlushEvery later; else it
// goes through the server's slog logger like any other line.

// statusClientClosedRequest is the status the access log and the metrics record
// for a request whose client went away before it was answered (nginx's 499).
// It is never sent: nobody is left to receive it.
const statusClientClosedRequest = 499

const (
	// logFlushEvery is the longest an access log line waits in the buffer.
	logFlushEvery = time.Second
	// logFlushSize is how much may wait before it is written at once.
	logFlushSize = 32 << 10
)

// LogWriter is the process's log output when it logs JSON. Access log lines
// wait in a buffer and are written together, on a short timer or when the
// buffer fills; every other line (the slog handler's, through Write) goes out
// at once, after whatever waits, so the order of lines is kept and a warning
// is never held back. Close writes what waits.
type LogWriter struct {
	mu     sync.Mutex
	out    io.Writer
	buf    []byte
	timer  *time.Timer
	armed  bool // the timer will flush
	closed bool // write every line at once
}

// NewLogWriter returns a LogWriter writing to out.
func NewLogWriter(out io.Writer) *LogWriter {
	w := &LogWriter{out: out, buf: make([]byte, 0, logFlushSize+4<<10)}
	w.timer = time.AfterFunc(time.Hour, func() { _ = w.Flush() })
	w.timer.Stop()
	return w
}

// Write writes p, one complete log line (or several), after any buffered
// access log lines, in one write to the output.
func (w *LogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) == 0 {
		return w.out.Write(p)
	}
	w.buf = append(w.buf, p...)
	if err := w.flushLocked(); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes the buffered access log lines.
func (w *LogWriter) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushLocked()
}

// Close writes the buffered lines; later lines are written at once.
func (w *LogWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	return w.flushLocked()
}

func (w *LogWriter) flushLocked() error {
	if w.armed {
		w.timer.Stop()
		w.armed = false
	}
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.out.Write(w.buf)
	w.buf = w.buf[:0]
	if cap(w.buf) > 4*logFlushSize {
		// One huge line (a long path) must not pin a huge buffer.
		w.buf = make([]byte, 0, logFlushSize+4<<10)
	}
	return err
}

// access buffers one access log line.
func (w *LogWriter) access(e *accessEntry) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = e.appendJSON(w.buf)
	switch {
	case w.closed || len(w.buf) >= logFlushSize:
		_ = w.flushLocked()
	case !w.armed:
		w.timer.Reset(logFlushEvery)
		w.armed = true
	}
}

// accessEntry is what the access log says about one request. Every string in
// it has passed through auth.RedactSecrets: the method and path are client
// text, and credentials sometimes travel in paths.
type accessEntry struct {
	time                                       time.Time
	requestID, method, route, path, remoteAddr string
	authMethod, credentialID                   string
	status, bytes                              int
	duration                                   time.Duration
}

func newAccessEntry(r *http.Request, ri *requestInfo, route string, status, bytes int, at time.Time, d time.Duration) accessEntry {
	e := accessEntry{
		time: at, requestID: auth.RedactSecrets(ri.id), method: auth.RedactSecrets(r.Method), route: route,
		path: auth.RedactSecrets(r.URL.Path), remoteAddr: auth.RedactSecrets(ri.address),
		status: status, bytes: bytes, duration: d,
	}
	if ri.credentialID != "" {
		e.authMethod, e.credentialID = string(ri.method), auth.RedactSecrets(ri.credentialID)
	}
	return e
}

// attrs appends the entry's fields for slog to buf, under the same keys as
// appendJSON's.
func (e *accessEntry) attrs(buf []slog.Attr) []slog.Attr {
	attrs := append(buf,
		slog.String("request_id", e.requestID),
		slog.String("method", e.method),
		slog.String("route", e.route),
		slog.String("path", e.path),
		slog.Int("status", e.status),
		slog.Int("bytes", e.bytes),
		slog.Duration("duration", e.duration),
		slog.String("remote_addr", e.remoteAddr),
	)
	if e.credentialID != "" {
		attrs = append(attrs, slog.String("auth_method", e.authMethod), slog.String("credential_id", e.credentialID))
	}
	return attrs
}

// appendJSON appends the entry as one line of the JSON slog handler's shape:
// time, level, msg, then the fields of attrs (duration in nanoseconds).
func (e *accessEntry) appendJSON(b []byte) []byte {
	b = append(b, `{"time":"`...)
	b = e.time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"INFO","msg":"http request","request_id":`...)
	b = jsonw.AppendString(b, e.requestID)
	b = append(b, `,"method":`...)
	b = jsonw.AppendString(b, e.method)
	b = append(b, `,"route":`...)
	b = jsonw.AppendString(b, e.route)
	b = append(b, `,"path":`...)
	b = jsonw.AppendString(b, e.path)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.status), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, int64(e.bytes), 10)
	b = append(b, `,"duration":`...)
	b = strconv.AppendInt(b, int64(e.duration), 10)
	b = append(b, `,"remote_addr":`...)
	b = jsonw.AppendString(b, e.remoteAddr)
	if e.credentialID != "" {
		b = append(b, `,"auth_method":`...)
		b = jsonw.AppendString(b, e.authMethod)
		b = append(b, `,"credential_id":`...)
		b = jsonw.AppendString(b, e.credentialID)
	}
	return append(b, "}\n"...)
}

// accessLog writes one line per request and counts it in the metrics. It logs
// the path but never the query string, headers, cookies or body, where
// credentials travel.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		elapsed := time.Since(start)
		status := rec.status
		switch {
		case clientWentAway(r.Context()):
			status = statusClientClosedRequest
		case status == 0:
			status = http.StatusOK // what net/http sends for a handler that wrote nothing
		}
		ri := requestInfoFrom(r.Context())
		route := routeLabel(ri.route)
		s.cfg.Metrics.request(route, r.Method, status, elapsed)
		if !s.log.Enabled(r.Context(), slog.LevelInfo) {
			return
		}
		e := newAccessEntry(r, ri, route, status, rec.bytes, start.Add(elapsed), elapsed)
		if s.cfg.AccessLog != nil {
			s.cfg.AccessLog.access(&e)
			return
		}
		var buf [10]slog.Attr
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "http request", e.attrs(buf[:0])...)
	})
}

// recordRoute notes the pattern of the mux that served the request, for the
// access log and the metrics. It runs innermost, on the request the mux is
// handed, since the mux writes the pattern into that request.
func recordRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { requestInfoFrom(r.Context()).route = r.Pattern }()
		next.ServeHTTP(w, r)
	})
}

// clientWentAway reports whether the client of the request whose context is
// ctx has gone away: the context was cancelled (net/http cancels it when the
// connection closes), rather than timed out.
func clientWentAway(ctx context.Context) bool { return errors.Is(ctx.Err(), context.Canceled) }

// clientGone reports whether err only says that the request's client went
// away (the request's context was cancelled, or the connection broke), and
// then logs it at DEBUG: it is not a server error, and there is nobody left to
// answer. The access log records such a request as 499.
func (s *Server) clientGone(r *http.Request, err error) bool {
	ctx := r.Context()
	if !clientWentAway(ctx) ||
		!errors.Is(err, context.Canceled) && !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) {
		return false
	}
	s.log.DebugContext(ctx, "client disconnected", "error", err)
	return true
}
