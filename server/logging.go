package server

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pentographer/pentographer/auth"
)

// LogHandler is the handler every logger of the process is built on: h behind
// RedactingHandler, which adds the request id to every record logged with a
// request's context (RequestIDHandler).
func LogHandler(h slog.Handler) slog.Handler { return RedactingHandler(RequestIDHandler(h)) }

// RequestIDHandler wraps a slog handler so that a record logged with a
// request's context carries that request's id as request_id, unless it has one
// already (as an attribute of the record or of the logger). Records logged
// without a request's context (at start, by the MCP SDK, by net/http) have none.
func RequestIDHandler(h slog.Handler) slog.Handler { return requestIDs{next: h} }

type requestIDs struct {
	next slog.Handler
	has  bool // the logger's own attributes hold a request_id
}

const requestIDKey = "request_id"

func (h requestIDs) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h requestIDs) Handle(ctx context.Context, rec slog.Record) error {
	if h.has {
		return h.next.Handle(ctx, rec)
	}
	id := auth.RequestMetaFrom(ctx).RequestID
	if id == "" {
		return h.next.Handle(ctx, rec)
	}
	found := false
	rec.Attrs(func(a slog.Attr) bool {
		found = a.Key == requestIDKey
		return !found
	})
	if !found {
		rec = rec.Clone()
		rec.AddAttrs(slog.String(requestIDKey, id))
	}
	return h.next.Handle(ctx, rec)
}

func (h requestIDs) WithAttrs(attrs []slog.Attr) slog.Handler {
	has := h.has
	for _, a := range attrs {
		has = has || a.Key == requestIDKey
	}
	return requestIDs{next: h.next.WithAttrs(attrs), has: has}
}

func (h requestIDs) WithGroup(name string) slog.Handler {
	return requestIDs{next: h.next.WithGroup(name), has: h.has}
}

// RedactingHandler wraps a slog handler so that nothing credential-shaped ever
// reaches the log, whoever logs it and however it got into the text: request
// paths, ids, user agents and error messages all come from clients. Every
// string, error and Stringer value, and the message, pass through
// auth.RedactSecrets.
func RedactingHandler(h slog.Handler) slog.Handler { return redacting{h} }

type redacting struct{ next slog.Handler }

func (r redacting) Enabled(ctx context.Context, l slog.Level) bool { return r.next.Enabled(ctx, l) }

func (r redacting) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, auth.RedactSecrets(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return r.next.Handle(ctx, out)
}

func (r redacting) WithAttrs(attrs []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		clean[i] = redactAttr(a)
	}
	return redacting{r.next.WithAttrs(clean)}
}

func (r redacting) WithGroup(name string) slog.Handler { return redacting{r.next.WithGroup(name)} }

func redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, auth.RedactSecrets(v.String()))
	case slog.KindGroup:
		group := v.Group()
		clean := make([]any, len(group))
		for i, g := range group {
			clean[i] = redactAttr(g)
		}
		return slog.Group(a.Key, clean...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, auth.RedactSecrets(x.Error()))
		case fmt.Stringer:
			return slog.String(a.Key, auth.RedactSecrets(x.String()))
		case []byte:
			return slog.String(a.Key, auth.RedactSecrets(string(x)))
		default:
			return slog.String(a.Key, auth.RedactSecrets(fmt.Sprint(x)))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
