package auth

import (
	"errors"
	"fmt"
)

// Kind classifies a domain error so each transport can map it to its own codes.
type Kind int

// The error kinds.
const (
	KindInternal Kind = iota
	KindUnauthenticated
	KindForbidden
	KindNotFound
	KindInvalid
	KindConflict
	KindRateLimited
	// KindLimitExceeded: a cap on active credentials is reached.
	KindLimitExceeded
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case KindUnauthenticated:
		return "unauthenticated"
	case KindForbidden:
		return "forbidden"
	case KindNotFound:
		return "not found"
	case KindInvalid:
		return "invalid"
	case KindConflict:
		return "conflict"
	case KindRateLimited:
		return "rate limited"
	case KindLimitExceeded:
		return "limit exceeded"
	}
	return "internal"
}

// Error is a domain error whose Message is safe to show to the caller: it never
// holds a secret or an internal detail.
type Error struct {
	Kind    Kind
	Message string
	// Field names the offending input field for KindInvalid, when there is one.
	Field string
}

func (e *Error) Error() string { return e.Message }

// Is makes errors.Is(err, &Error{Kind: k}) match on the kind alone.
func (e *Error) Is(target error) bool {
	t, ok := errorOf(target)
	return ok && t.Kind == e.Kind && t.Message == ""
}

// KindOf returns the kind of err, KindInternal for errors that are not *Error.
func KindOf(err error) Kind {
	if e, ok := errorOf(err); ok {
		return e.Kind
	}
	return KindInternal
}

// errorOf is errors.As for *Error, without errors.As's reflection and
// allocation when err is one already: the refusals of a flood of bad
// credentials come through here several times each.
func errorOf(err error) (*Error, bool) {
	if e, ok := err.(*Error); ok { //nolint:errorlint // the fast path; wrapped errors take errors.As below
		return e, e != nil
	}
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// asError is errors.As for *Error.
func asError(err error, target **Error) bool {
	e, ok := errorOf(err)
	if ok {
		*target = e
	}
	return ok
}

func errorf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

func invalidField(field, format string, args ...any) *Error {
	return &Error{Kind: KindInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Errors shared by several services.
var (
	ErrUnauthenticated = &Error{Kind: KindUnauthenticated, Message: "authentication required"}
	// errNotFound is the answer for anything missing or outside the caller's
	// visibility, so that existence is never leaked.
	errNotFound = &Error{Kind: KindNotFound, Message: "not found"}
)
