package server

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/httprate"

	"github.com/pentographer/pentographer/auth"
)

// The edge of /mcp: the MCP handler itself (package mcp) runs behind the Origin
// check, the bearer resolver and a per-credential rate limit.

// mcpChallenge is the Bearer challenge of /mcp: it points clients at the RFC 9728
// metadata of the resource (MCP authorization, 2025-06-18).
func (s *Server) mcpChallenge() string {
	return realm + `, resource_metadata="` + s.cfg.PublicURL + `/.well-known/oauth-protected-resource/mcp"`
}

// sameOrigin refuses, with 403, a request whose Origin header is present and is
// not the public URL's origin: a web page must not reach /mcp through a browser
// (DNS rebinding; the MCP transport rules require the check).
func (s *Server) sameOrigin(next http.Handler) http.Handler {
	public := originOf(s.cfg.PublicURL)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origins := r.Header.Values("Origin")
		if len(origins) > 1 || len(origins) == 1 && (public == "" || originOf(origins[0]) != public) {
			writeJSON(w, http.StatusForbidden, map[string]string{
				"error": "forbidden", "error_description": "requests from this Origin are not allowed",
			})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// originOf returns the RFC 6454 origin of a URL (scheme://host[:port], lower
// case, without a default port), or "" when raw is not an absolute http(s) URL.
func originOf(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return ""
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if scheme == "http" && port == "80" || scheme == "https" && port == "443" {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host
}

// newMCPRateLimiter allows each credential perMinute requests to /mcp in a
// sliding window (go-chi/httprate).
func newMCPRateLimiter(perMinute int) *httprate.RateLimiter {
	return httprate.NewRateLimiter(perMinute, time.Minute, httprate.WithLimitHandler(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusTooManyRequests, map[string]string{
			"error": "rate_limited", "error_description": "too many requests with this credential; retry later",
		})
	}))
}

// limitMCP answers 429 with Retry-After once the caller's credential has used up
// its requests; it runs after authentication, so the key is the credential.
func (s *Server) limitMCP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := "credential:"
		if p := auth.PrincipalFrom(r.Context()); p != nil {
			key += p.CredentialID
		}
		if s.mcpRate.RespondOnLimit(w, r, key) {
			s.cfg.Metrics.limited(limiterMCP)
			return
		}
		next.ServeHTTP(w, r)
	})
}
