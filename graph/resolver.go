// Package graph is the GraphQL layer: generated code, thin resolvers that call the
// auth services, the @hasRole directive, the error presenter and query limits.
package graph

import (
	"log/slog"

	"github.com/pentographer/pentographer/auth"
)

// Resolver is the root resolver. Resolvers only translate between GraphQL and the
// auth services; every rule lives in auth.
type Resolver struct {
	svc *auth.Service
	log *slog.Logger
}
