// Package server is the HTTP edge: the mux, the middleware chain (request ids,
// the access log, limits), bearer and session authentication through
// auth.Authenticator, the OAuth endpoints, sign-in and the pages' JSON
// endpoints, the web pages, /mcp, probes, metrics and graceful shutdown. It
// mounts graph's and mcp's handlers; every rule they apply lives in auth.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/go-chi/httprate"

	"github.com/pentographer/pentographer/auth"
	"github.com/pentographer/pentographer/graph"
	"github.com/pentographer/pentographer/internal/failures"
	"github.com/pentographer/pentographer/mcp"
	"github.com/pentographer/pentographer/web"
)

// Config is the HTTP part of the server's configuration.
type Config struct {
	// PublicURL is the deployment's base URL (issuer, links).
	PublicURL string
	// MaxBodyBytes caps every request body.
	MaxBodyBytes int64
	// RequestTimeout bounds the work done for one request.
	RequestTimeout time.Duration
	// Limits bound GraphQL queries.
	Limits graph.Limits
	// ClientFailureLimit and AddressFailureLimit are how many failed client
	// authentications one client id from one address, or one address for all
	// client ids, may have per FailureWindow before the OAuth endpoints answer
	// 429 there. A client id is public, so its failures lock out only the
	// address they came from: the right secret from elsewhere always works.
	ClientFailureLimit  int
	AddressFailureLimit int
	FailureWindow       time.Duration
	// TrustedProxies are the peers whose forwarding headers are believed for
	// the client's address (PTG_TRUSTED_PROXIES).
	TrustedProxies []netip.Prefix
	// ForwardedHeader is the one forwarding header those proxies set:
	// HeaderXForwardedFor (the default) or HeaderForwarded
	// (PTG_FORWARDED_HEADER).
	ForwardedHeader string
	// SignInAccountLimit, SignInAccountAddressLimit and SignInAddressLimit are
	// how many failed sign-ins one account (from everywhere), one account from
	// one address, and one address (for every account) may have per
	// SignInWindow before /login answers 429 there.
	SignInAccountLimit        int
	SignInAccountAddressLimit int
	SignInAddressLimit        int
	SignInWindow              time.Duration
	// MCPRate is how many requests one credential may make to /mcp per minute
	// before it gets 429.
	MCPRate int
	// Metrics, when set, count requests, authentications, tokens and
	// refusals (nil: nothing is counted).
	Metrics *Metrics
	// AccessLog, when set, receives the access log as lean JSON lines,
	// buffered; the server's logger must then write its JSON to the same
	// LogWriter, so that lines keep their order. Nil: the access log goes
	// through the server's logger like any other line.
	AccessLog *LogWriter
}

// DefaultConfig returns the defaults the command line starts from.
func DefaultConfig() Config {
	return Config{
		PublicURL:      "http://localhost:8080",
		MaxBodyBytes:   1 << 20,
		RequestTimeout: 30 * time.Second,
		Limits:         graph.DefaultLimits,

		ClientFailureLimit:  10,
		AddressFailureLimit: 50,
		FailureWindow:       time.Minute,

		SignInAccountLimit:        100,
		SignInAccountAddressLimit: 10,
		SignInAddressLimit:        50,
		SignInWindow:              15 * time.Minute,

		MCPRate: 120,
	}
}

// Server serves the credentials API.
type Server struct {
	cfg   Config
	log   *slog.Logger
	svc   *auth.Service
	authn *auth.Authenticator
	graph http.Handler
	mcp   http.Handler
	// clientFailures and signInFailures count failed client authentications
	// and sign-ins.
	clientFailures *failures.Limiter
	signInFailures *failures.Limiter
	address        addressResolver
	ready          func(context.Context) error
	mcpRate        *httprate.RateLimiter
}

// New builds the server over svc. ready reports whether the server can serve
// (the store answers); /readyz asks it.
func New(cfg Config, log *slog.Logger, svc *auth.Service, ready func(context.Context) error) *Server {
	def := DefaultConfig()
	if cfg.PublicURL == "" {
		cfg.PublicURL = def.PublicURL
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = def.MaxBodyBytes
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = def.RequestTimeout
	}
	if cfg.ClientFailureLimit <= 0 {
		cfg.ClientFailureLimit = def.ClientFailureLimit
	}
	if cfg.AddressFailureLimit <= 0 {
		cfg.AddressFailureLimit = def.AddressFailureLimit
	}
	if cfg.FailureWindow <= 0 {
		cfg.FailureWindow = def.FailureWindow
	}
	if cfg.SignInAccountLimit <= 0 {
		cfg.SignInAccountLimit = def.SignInAccountLimit
	}
	if cfg.SignInAccountAddressLimit <= 0 {
		cfg.SignInAccountAddressLimit = def.SignInAccountAddressLimit
	}
	if cfg.SignInAddressLimit <= 0 {
		cfg.SignInAddressLimit = def.SignInAddressLimit
	}
	if cfg.SignInWindow <= 0 {
		cfg.SignInWindow = def.SignInWindow
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.MCPRate <= 0 {
		cfg.MCPRate = def.MCPRate
	}
	return &Server{
		cfg: cfg, log: log, svc: svc, ready: ready,
		authn:          svc.Authenticator(),
		graph:          graph.NewHandler(svc, log, cfg.Limits),
		mcp:            mcp.NewHandler(svc, mcp.Options{Logger: log, MaxBodyBytes: cfg.MaxBodyBytes}),
		clientFailures: failures.New(cfg.FailureWindow),
		signInFailures: failures.New(cfg.SignInWindow),
		address:        addressResolver{trusted: cfg.TrustedProxies, header: cfg.ForwardedHeader},
		mcpRate:        newMCPRateLimiter(cfg.MCPRate),
	}
}

// Handler returns the whole HTTP stack: routes behind the middleware chain.
func (s *Server) Handler() http.Handler {
	return s.chain(s.routes())
}

// routes builds the mux with Go 1.22 method patterns.
func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	explorer := web.Explorer("/graphql")
	api := s.requireCredential(noStore(via(auth.ChannelGraphQL, s.graph)))

	mux.Handle("POST /graphql", api)
	mux.Handle("GET /graphql", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if wantsHTML(r) {
			explorer.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	}))
	mux.Handle("GET /explorer", explorer)
	mux.Handle("GET /explorer/", explorer)
	pages := web.Pages()
	for _, p := range []string{web.LoginPath, web.InvitationPath, web.ResetPasswordPath, web.AssetsPath} {
		mux.Handle("GET "+p, pages)
	}
	mux.Handle("GET "+web.SettingsPath, s.signedInPage(pages))
	mux.Handle("POST /api/oauth/token", via(auth.ChannelOAuth, http.HandlerFunc(s.token)))
	mux.Handle("POST /api/oauth/introspect", via(auth.ChannelOAuth, http.HandlerFunc(s.introspect)))
	mux.Handle("POST /api/oauth/revoke", via(auth.ChannelOAuth, http.HandlerFunc(s.revoke)))
	mux.Handle("/mcp", s.sameOrigin(s.requireBearerFor(s.mcpChallenge(), s.limitMCP(noStore(via(auth.ChannelMCP, s.mcp))))))
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", s.metadata)
	mux.HandleFunc("GET /.well-known/oauth-protected-resource", s.resourceMetadata)
	mux.HandleFunc("GET /.well-known/oauth-protected-resource/mcp", s.resourceMetadata)
	mux.HandleFunc("GET /.well-known/jwks.json", s.jwks)
	mux.Handle("POST /login", s.servePage(s.signIn))
	mux.Handle("POST /login/organization", s.servePage(s.chooseOrganization))
	mux.Handle("POST /logout", s.servePage(s.signOut))
	mux.Handle("GET /api/session", s.servePage(s.currentSession))
	mux.Handle("POST /api/invitation/inspect", s.servePage(s.inspectInvitation))
	mux.Handle("POST /api/invitation/accept", s.servePage(s.acceptInvitation))
	mux.Handle("POST /api/password/reset", s.servePage(s.resetPassword))
	mux.Handle("GET /api/mcp/config", s.servePage(s.mcpConfig))
	mux.HandleFunc("GET /{$}", s.home)
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	// The catch-all "/" would otherwise answer a wrong method on a known path
	// with 404; these answer 405 with the allowed methods.
	for path, allow := range map[string]string{
		"/graphql": "GET, POST", "/explorer": "GET", "/healthz": "GET", "/readyz": "GET",
		"/settings": "GET", "/invitation": "GET", "/reset-password": "GET",
		"/api/oauth/token": "POST", "/api/oauth/introspect": "POST", "/api/oauth/revoke": "POST",
		"/.well-known/oauth-authorization-server": "GET", "/.well-known/jwks.json": "GET",
		"/.well-known/oauth-protected-resource": "GET", "/.well-known/oauth-protected-resource/mcp": "GET",
		"/login/organization": "POST", "/logout": "POST", "/api/session": "GET",
		"/api/invitation/inspect": "POST", "/api/invitation/accept": "POST", "/api/password/reset": "POST",
		"/api/mcp/config": "GET",
	} {
		mux.Handle(path, methodNotAllowed(allow))
	}
	// Unknown paths: a browser gets a small page with links to the pages
	// that exist, an API client the JSON error.
	notFound := web.NotFound()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if wantsHTML(r) {
			notFound.ServeHTTP(w, r)
			return
		}
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not_found", "error_description": "no such endpoint"})
	})
	return mux
}

func methodNotAllowed(allow string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Allow", allow)
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{
			"error": "invalid_request", "error_description": "method not allowed; use " + allow,
		})
	})
}

// wantsHTML reports whether a GET comes from a browser navigating to the page
// (Accept: text/html, and no GraphQL query in the URL).
func wantsHTML(r *http.Request) bool {
	if r.URL.Query().Has("query") {
		return false
	}
	for part := range strings.SplitSeq(r.Header.Get("Accept"), ",") {
		mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(mt), "text/html") {
			return true
		}
	}
	return false
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		if s.clientGone(r, err) {
			return
		}
		s.log.WarnContext(ctx, "readiness check failed", "request_id", requestIDFrom(ctx), "error", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// Serve runs the server on ln until ctx ends, then shuts down gracefully, letting
// in-flight requests finish for up to grace.
func (s *Server) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	return serveUntil(ctx, &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      s.cfg.RequestTimeout + 10*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}, ln, grace)
}

// serveUntil runs hs on ln until ctx ends, then shuts it down gracefully,
// letting in-flight requests finish for up to grace.
func serveUntil(ctx context.Context, hs *http.Server, ln net.Listener, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
