package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/pentographer/pentographer/auth"
)

// hasRole implements @hasRole: the caller must hold at least role, or the field is
// null with a FORBIDDEN error (UNAUTHENTICATED without a caller). It never returns
// (nil, nil).
func hasRole(ctx context.Context, _ any, next graphql.Resolver, role auth.Role) (any, error) {
	p := auth.PrincipalFrom(ctx)
	if p == nil {
		return nil, auth.ErrUnauthenticated
	}
	if !p.Role.AtLeast(role) {
		return nil, &auth.Error{Kind: auth.KindForbidden, Message: "this field needs the " + role.String() + " role"}
	}
	return next(ctx)
}
