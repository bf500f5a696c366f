package graph

import (
	"log/slog"
	"net/http"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/pentographer/pentographer/auth"
	"github.com/pentographer/pentographer/graph/model"
)

// NewHandler returns the GraphQL HTTP handler over svc. The caller (package server)
// authenticates the request and puts the principal into its context first.
func NewHandler(svc *auth.Service, log *slog.Logger, limits Limits) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	limits = limits.orDefaults()
	cfg := Config{Resolvers: &Resolver{svc: svc, log: log}}
	cfg.Directives.HasRole = hasRole
	setComplexity(&cfg.Complexity)

	srv := handler.New(NewExecutableSchema(cfg))
	// GET runs queries only (gqlgen refuses mutations over GET); POST is ours. No
	// websocket, no multipart.
	srv.AddTransport(transport.GET{})
	srv.AddTransport(postTransport{})
	cache := lru.New[*ast.QueryDocument](1000)
	srv.SetQueryCache(cache)
	srv.SetParserTokenLimit(limits.MaxTokens)
	srv.Use(extension.Introspection{})
	srv.Use(cheapLimits{limits: limits, cache: cache})
	srv.Use(extension.FixedComplexityLimit(limits.MaxComplexity))
	srv.SetErrorPresenter(errorPresenter(log))
	srv.SetRecoverFunc(recoverFunc(log))
	return srv
}

// pageCost is the number of items a connection field may return, for complexity.
func pageCost(first *int) int {
	if first == nil || *first <= 0 || *first > auth.MaxPageSize {
		return auth.DefaultPageSize
	}
	return *first
}

// setComplexity makes connections cost their page size times their selection.
func setComplexity(c *ComplexityRoot) {
	keys := func(child int, first *int, _ *string, _ *bool, _ *model.CredentialOrder) int {
		return 1 + child*pageCost(first)
	}
	page := func(child int, first *int, _ *string) int { return 1 + child*pageCost(first) }
	c.Organization.APIKeys = keys
	c.Viewer.APIKeys = keys
	c.Organization.OauthClients = keys
	c.Viewer.OauthClients = keys
	c.Organization.Members = page
	c.Organization.AuditLog = page
	c.Organization.Invitations = page
}
