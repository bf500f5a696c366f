package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"runtime/debug"
	"sync/atomic"

	"github.com/pentographer/pentographer/auth"
)

// chain wraps h in the middleware every request passes, outermost first: request
// id, access log and metrics, panic recovery, security headers, body limit,
// deadline, and the note of the route that served it.
func (s *Server) chain(h http.Handler) http.Handler {
	h = recordRoute(h)
	h = s.deadline(h)
	h = s.limitBody(h)
	h = securityHeaders(h)
	h = s.recoverPanics(h)
	h = s.accessLog(h)
	return s.requestID(h)
}

// requestInfo is filled in as a request travels inward and read by the access log.
type requestInfo struct {
	id           string
	address      string
	credentialID string
	method       auth.Method
	route        string // the mux pattern that served the request
}

type requestInfoKey struct{}

func requestInfoFrom(ctx context.Context) *requestInfo {
	ri, _ := ctx.Value(requestInfoKey{}).(*requestInfo)
	if ri == nil {
		return &requestInfo{}
	}
	return ri
}

func requestIDFrom(ctx context.Context) string { return requestInfoFrom(ctx).id }

// requestID takes a well-formed X-Request-Id from the client or makes one, and
// puts it, with the caller's address and user agent, into the context.
func (s *Server) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !safeRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		ri := &requestInfo{id: id, address: s.address.resolve(r)}
		ctx := context.WithValue(r.Context(), requestInfoKey{}, ri)
		ctx = auth.WithRequestMeta(ctx, auth.RequestMeta{
			RequestID: id, Address: ri.address, UserAgent: r.UserAgent(),
		})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// Request ids are a random prefix per process and a counter: unique without
// a system call per request (they need not be unpredictable).
var (
	requestIDPrefix = func() string {
		var b [6]byte
		_, _ = rand.Read(b[:])
		return hex.EncodeToString(b[:])
	}()
	requestCount atomic.Uint64
)

// newRequestID returns the next request id: 24 hex digits.
func newRequestID() string {
	var b [24]byte
	copy(b[:], requestIDPrefix)
	n := requestCount.Add(1)
	for i := 23; i >= 12; i-- {
		b[i] = "0123456789abcdef"[n&0xf]
		n >>= 4
	}
	return string(b[:])
}

// safeRequestID accepts a client's request id when it is short, plain and not
// credential-shaped (it is echoed and logged).
func safeRequestID(id string) bool {
	if id == "" || len(id) > 64 || auth.HasSecretShape(id) {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// clientAddress is the address the request came from, as the requestID
// middleware resolved it (trusted proxies considered).
func clientAddress(r *http.Request) string { return requestInfoFrom(r.Context()).address }

// statusRecorder remembers the status and size of a response for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// recoverPanics turns a handler panic into a logged 500 with a generic body.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			s.log.ErrorContext(r.Context(), "handler panicked", "request_id", requestIDFrom(r.Context()),
				"panic", v, "stack", string(debug.Stack()))
			writeJSON(w, http.StatusInternalServerError, map[string]string{
				"error": "server_error", "error_description": "internal error",
			})
		}()
		next.ServeHTTP(w, r)
	})
}

// securityHeaders sets the headers every response carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// limitBody refuses a declared oversized body at once and caps the rest while
// they are read.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > s.cfg.MaxBodyBytes {
			w.Header().Set("Connection", "close")
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{
				"error": "invalid_request", "error_description": "the request body is too large",
			})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

// via names the channel a route serves, for the audit log.
func via(ch auth.Channel, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(auth.WithChannel(r.Context(), ch)))
	})
}

// noStore marks responses that carry credential data as not cacheable.
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Pragma", "no-cache")
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
