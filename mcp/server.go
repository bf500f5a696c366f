// Package mcp is the Model Context Protocol server AI editors reach at /mcp: a
// stateless Streamable HTTP endpoint whose tools call the same auth service
// methods as the GraphQL API, so every rule lives once, in package auth.
//
// The caller (package server) authenticates each HTTP request with the bearer
// resolver, checks its Origin and rate, and puts the principal and the request
// metadata into the context before the handler runs.
package mcp

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pentographer/pentographer/auth"
)

// ServerName is the implementation name the server announces at initialize and
// the name the editor snippets give it.
const ServerName = "pentographer"

// minProtocolVersion is the oldest MCP revision served (the first with
// structured tool output and without JSON-RPC batches).
const minProtocolVersion = "2025-06-18"

// Options configure the handler.
type Options struct {
	// Logger receives tool failures that are not the caller's fault, with the
	// request id; never a secret. Nil discards.
	Logger *slog.Logger
	// MaxBodyBytes caps a request body (the server's body limit applies first).
	MaxBodyBytes int64
}

// NewHandler returns the /mcp endpoint over svc. Every request must already
// carry its principal (auth.WithPrincipal) and request metadata.
func NewHandler(svc *auth.Service, opts Options) http.Handler {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// The SDK logs lifecycle chatter at Info for every stateless request; only
	// its warnings and errors are worth the operator's log.
	sdkLog := slog.New(minLevel{Handler: log.Handler(), min: slog.LevelWarn})
	srv := sdk.NewServer(&sdk.Implementation{Name: ServerName, Title: "Pentographer credentials", Version: version()},
		&sdk.ServerOptions{
			Instructions:              instructions,
			Logger:                    sdkLog,
			SupportedProtocolVersions: protocolVersions(),
		})
	addTools(srv, &tools{svc: svc, log: log})
	h := sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return srv }, &sdk.StreamableHTTPOptions{
		// One request, one answer: no session to keep between requests, so any
		// replica can serve any request.
		Stateless:    true,
		JSONResponse: true,
		Logger:       sdkLog,
		// The server in front checks the Origin against the public URL, which
		// is the DNS rebinding defence that also works behind a local reverse
		// proxy (where the SDK's loopback check would refuse every request).
		DisableLocalhostProtection: true,
		MaxRequestBodyBytes:        opts.MaxBodyBytes,
	})
	return refuseBatches(keepRequestContext(noStore(h)))
}

const instructions = `Pentographer issues scoped API keys (ptg_…) and OAuth clients for one organization.
Use whoami to see who you act as, your role and your scopes. Create and revoke tools change real
credentials: a created key or client secret is returned once, in that tool's result, and never again.
OWNER and ADMIN see every credential of the organization (all: true); a MEMBER sees only their own.`

// protocolVersions are the SDK's revisions from minProtocolVersion on.
func protocolVersions() []string {
	var out []string
	for _, v := range sdk.SupportedProtocolVersions() {
		if v >= minProtocolVersion {
			out = append(out, v)
		}
	}
	return out
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "devel"
}

// minLevel drops records below min.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{Handler: h.Handler.WithAttrs(as), min: h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{Handler: h.Handler.WithGroup(name), min: h.min}
}

// refuseBatches answers a JSON-RPC batch with 400. Revision 2025-06-18 removed
// batches; refusing them keeps one tool call per HTTP request, so the body, time
// and rate limits of a request bound exactly one call.
func refuseBatches(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Body == nil {
			next.ServeHTTP(w, r)
			return
		}
		br := bufio.NewReaderSize(r.Body, 64) // small: only the first bytes are looked at here
		var space []byte                      // leading white space, given back unchanged
		for {
			b, err := br.ReadByte()
			if err != nil {
				break // empty or unreadable: the SDK answers it
			}
			if b == ' ' || b == '\t' || b == '\r' || b == '\n' {
				space = append(space, b)
				continue
			}
			_ = br.UnreadByte()
			if b == '[' {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"JSON-RPC batches are not supported; send one message per request"}}`)
				return
			}
			break
		}
		var body io.Reader = br
		if len(space) > 0 {
			body = io.MultiReader(bytes.NewReader(space), br)
		}
		r.Body = readCloser{Reader: body, Closer: r.Body}
		next.ServeHTTP(w, r)
	})
}

type readCloser struct {
	io.Reader
	io.Closer
}

// noStore makes every answer uncacheable: a create result holds a secret. The
// SDK sets its own Cache-Control (no-cache, which still allows storing), so the
// header is set again just before the status line goes out.
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&noStoreWriter{ResponseWriter: w}, r)
	})
}

type noStoreWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *noStoreWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		w.Header().Set("Cache-Control", "no-store")
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *noStoreWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *noStoreWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type requestContextKey struct{}

// keepRequestContext lets tool handlers see the HTTP request's context. The SDK
// runs handlers on a context that keeps the request's values but drops its
// deadline and cancellation; bound restores both, so a tool call stops at the
// same deadline as any other request, or when the client goes away.
func keepRequestContext(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := context.WithValue(r.Context(), requestContextKey{}, r.Context())
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// bound returns ctx ending when the HTTP request carrying it ends.
func bound(ctx context.Context) (context.Context, context.CancelFunc) {
	req, ok := ctx.Value(requestContextKey{}).(context.Context)
	if !ok {
		return context.WithCancel(ctx)
	}
	cancelDeadline := context.CancelFunc(func() {})
	if dl, ok := req.Deadline(); ok {
		ctx, cancelDeadline = context.WithDeadline(ctx, dl)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(req, func() { cancel(context.Cause(req)) })
	return ctx, func() {
		stop()
		cancel(context.Canceled)
		cancelDeadline()
	}
}

// errInternal is what a caller sees of a failure that is not theirs.
var errInternal = errors.New("internal error")
