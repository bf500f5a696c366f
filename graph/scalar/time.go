// Package scalar holds the GraphQL custom scalars.
package scalar

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
)

// MarshalTime writes t as an RFC 3339 string in UTC.
func MarshalTime(t time.Time) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.Quote(t.UTC().Format(time.RFC3339Nano)))
	})
}

// ErrBadInput marks a value a client sent that a scalar cannot read; the error
// presenter answers it with BAD_USER_INPUT.
var ErrBadInput = errors.New("bad input")

// UnmarshalTime reads an RFC 3339 string (any offset; kept as UTC).
func UnmarshalTime(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, fmt.Errorf("%w: Time must be an RFC 3339 string", ErrBadInput)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: Time must be an RFC 3339 string, e.g. 2026-12-31T23:59:59Z", ErrBadInput)
	}
	return t.UTC(), nil
}
