package graph

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/pentographer/pentographer/auth"
	"github.com/pentographer/pentographer/graph/scalar"
)

// The extensions.code values of SPEC §7.
const (
	CodeUnauthenticated = "UNAUTHENTICATED"
	CodeForbidden       = "FORBIDDEN"
	CodeNotFound        = "NOT_FOUND"
	CodeBadUserInput    = "BAD_USER_INPUT"
	CodeRateLimited     = "RATE_LIMITED"
	CodeLimitExceeded   = "LIMIT_EXCEEDED"
	CodeInternal        = "INTERNAL"
)

func codeFor(k auth.Kind) string {
	switch k {
	case auth.KindUnauthenticated:
		return CodeUnauthenticated
	case auth.KindForbidden:
		return CodeForbidden
	case auth.KindNotFound:
		return CodeNotFound
	case auth.KindInvalid, auth.KindConflict:
		return CodeBadUserInput
	case auth.KindRateLimited:
		return CodeRateLimited
	case auth.KindLimitExceeded:
		return CodeLimitExceeded
	}
	return CodeInternal
}

// errorPresenter maps domain errors to extensions.code in one place. Errors the
// GraphQL engine raised itself (parse, validation) keep their message; anything
// else is logged in full with the request id and shown only as INTERNAL.
func errorPresenter(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		var authErr *auth.Error
		switch {
		case errors.As(err, &authErr):
			gqlErr.Message = authErr.Message
			setCode(gqlErr, codeFor(authErr.Kind))
			if authErr.Field != "" {
				gqlErr.Extensions["field"] = authErr.Field
			}
		case errors.Is(err, scalar.ErrBadInput):
			gqlErr.Message = strings.TrimPrefix(gqlErr.Message, scalar.ErrBadInput.Error()+": ")
			setCode(gqlErr, CodeBadUserInput)
		case gqlErr.Err == nil || isEngineError(gqlErr.Err):
			// Raised by gqlgen/gqlparser from the query text: safe to show.
		default:
			level, msg := slog.LevelError, "graphql resolver failed"
			if errors.Is(err, context.Canceled) && errors.Is(ctx.Err(), context.Canceled) {
				// The client went away: not a server error.
				level, msg = slog.LevelDebug, "client disconnected"
			}
			log.Log(ctx, level, msg,
				"request_id", auth.RequestMetaFrom(ctx).RequestID, "path", gqlErr.Path.String(), "error", err)
			gqlErr.Message = "internal error"
			gqlErr.Extensions = nil
			setCode(gqlErr, CodeInternal)
		}
		return gqlErr
	}
}

// isEngineError reports whether err was raised by gqlgen itself (e.g. a complexity
// or shape limit), which carries its own message and code.
func isEngineError(err error) bool {
	var inner *gqlerror.Error
	return errors.As(err, &inner)
}

func setCode(e *gqlerror.Error, code string) {
	if e.Extensions == nil {
		e.Extensions = map[string]any{}
	}
	e.Extensions["code"] = code
}

// recoverFunc turns a resolver panic into an INTERNAL error, logging the value
// with the request id; the client never sees it.
func recoverFunc(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, v any) error {
		log.ErrorContext(ctx, "graphql resolver panicked",
			"request_id", auth.RequestMetaFrom(ctx).RequestID, "panic", v)
		return errors.New("resolver panic")
	}
}
