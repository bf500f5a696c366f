package server

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/pentographer/pentographer/auth"
	"github.com/pentographer/pentographer/internal/failures"
	"github.com/pentographer/pentographer/mcp"
)

// The web pages' side of the server: sign-in, sessions, invitations and
// password resets. A session is one more credential the Authenticator admits;
// its token travels in a cookie.

// The names of the session cookie. On https it carries the __Host- prefix:
// browsers then accept it only from this very host, over https, for path /,
// so a sibling subdomain cannot plant a session of its choosing.
const (
	SessionCookie       = "ptg_session"
	SecureSessionCookie = "__Host-ptg_session"
)

// secure reports whether the server is reached over https.
func (s *Server) secure() bool { return strings.HasPrefix(s.cfg.PublicURL, "https://") }

// sessionCookieName is the session cookie's name for this server.
func (s *Server) sessionCookieName() string {
	if s.secure() {
		return SecureSessionCookie
	}
	return SessionCookie
}

// sessionToken returns the session cookie's value ("" when absent).
func (s *Server) sessionToken(r *http.Request) string {
	c, err := r.Cookie(s.sessionCookieName())
	if err != nil {
		return ""
	}
	return c.Value
}

// setSessionCookie hands the browser a new session: HttpOnly (no script reads
// it), SameSite=Lax (no cross-site POST carries it), Secure on https.
func (s *Server) setSessionCookie(w http.ResponseWriter, token string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name: s.sessionCookieName(), Value: token, Path: "/", Expires: expires,
		MaxAge: int(time.Until(expires) / time.Second), HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: s.secure(),
	})
}

func (s *Server) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: s.sessionCookieName(), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: s.secure(),
	})
}

// errForbiddenOrigin is the answer to a cookie request that could have been
// forged by another site.
func (s *Server) refuseCrossSite(w http.ResponseWriter) {
	writeJSON(w, http.StatusForbidden, map[string]string{
		"error": "forbidden",
		"error_description": "a request signed in with a cookie must be a POST of application/json from " +
			originOf(s.cfg.PublicURL),
	})
}

// fromOurPages reports whether r is a POST of application/json whose Origin is
// the public URL's: what the pages send, and what another site cannot make a
// browser send with our cookie (CSRF).
func (s *Server) fromOurPages(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	origins := r.Header.Values("Origin")
	return r.Method == http.MethodPost && err == nil && mt == "application/json" &&
		len(origins) == 1 && originOf(origins[0]) != "" && originOf(origins[0]) == originOf(s.cfg.PublicURL)
}

// requireCredential authenticates an API request: a bearer credential when an
// Authorization header (or a credential in the URL) is present, else the
// session cookie, which is honoured only on what our pages send (fromOurPages).
func (s *Server) requireCredential(next http.Handler) http.Handler {
	bearer := s.requireBearer(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := s.sessionToken(r)
		if token == "" || len(r.Header.Values("Authorization")) > 0 || r.URL.RawQuery != "" {
			bearer.ServeHTTP(w, r)
			return
		}
		if !s.fromOurPages(r) {
			s.refuseCrossSite(w)
			return
		}
		p, err := s.authn.Session(r.Context(), token)
		switch {
		case auth.KindOf(err) == auth.KindUnauthenticated:
			w.Header().Set("WWW-Authenticate", realm)
			writeJSON(w, http.StatusUnauthorized, map[string]string{
				"error": "invalid_session", "error_description": "the session has ended or chose no organization; sign in again",
			})
			return
		case err != nil:
			s.refuseCredential(w, r, realm, err)
			return
		}
		ri := requestInfoFrom(r.Context())
		ri.credentialID, ri.method = p.CredentialID, p.Method
		next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
}

// unavailable answers 503 for a failure to check credentials (the store is
// down), logging the cause, unless the client went away.
func (s *Server) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	if s.clientGone(r, err) {
		return
	}
	s.log.ErrorContext(r.Context(), "authentication failed", "request_id", requestIDFrom(r.Context()), "error", err)
	w.Header().Set("Retry-After", "1")
	writeJSON(w, http.StatusServiceUnavailable, map[string]string{
		"error": "temporarily_unavailable", "error_description": "the server cannot check credentials right now",
	})
}

// pageError is an answer of the pages' JSON endpoints.
type pageError struct {
	status int
	code   string
	desc   string
	field  string
}

func (e *pageError) Error() string { return e.code + ": " + e.desc }

// pageHandler is a JSON endpoint of the pages: it returns the value to answer
// with, or an error that one adapter (servePage) turns into a safe answer.
type pageHandler func(w http.ResponseWriter, r *http.Request) (any, error)

// servePage runs h and writes its answer. auth.Errors keep their safe message;
// anything else is logged and answered as a generic 500.
func (s *Server) servePage(h pageHandler) http.Handler {
	return noStore(via(auth.ChannelWeb, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out, err := h(w, r)
		if err == nil {
			writeJSON(w, http.StatusOK, out)
			return
		}
		var pe *pageError
		var ae *auth.Error
		switch {
		case s.clientGone(r, err):
			return
		case errors.As(err, &pe):
		case errors.As(err, &ae):
			pe = &pageError{desc: ae.Message, field: ae.Field}
			switch ae.Kind {
			case auth.KindUnauthenticated:
				pe.status, pe.code = http.StatusUnauthorized, "unauthorized"
			case auth.KindForbidden:
				pe.status, pe.code = http.StatusForbidden, "forbidden"
			case auth.KindNotFound:
				pe.status, pe.code = http.StatusNotFound, "not_found"
			case auth.KindRateLimited:
				// Too many passwords being checked at once: soon, not never.
				w.Header().Set("Retry-After", "5")
				pe.status, pe.code = http.StatusTooManyRequests, "too_many_attempts"
			default:
				pe.status, pe.code = http.StatusBadRequest, "invalid_request"
			}
		default:
			s.log.ErrorContext(r.Context(), "page endpoint failed", "request_id", requestIDFrom(r.Context()), "error", err)
			pe = &pageError{status: http.StatusInternalServerError, code: "server_error", desc: "internal error"}
		}
		body := map[string]string{"error": pe.code, "error_description": pe.desc}
		if pe.field != "" {
			body["field"] = pe.field
		}
		writeJSON(w, pe.status, body)
	})))
}

// readJSON decodes a page's JSON body into v, after the CSRF check: every POST
// of the pages must come from them.
func (s *Server) readJSON(r *http.Request, v any) error {
	if !s.fromOurPages(r) {
		return &pageError{status: http.StatusForbidden, code: "forbidden",
			desc: "this must be a POST of application/json from " + originOf(s.cfg.PublicURL)}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err == nil {
		err = json.Unmarshal(body, v)
	}
	if err != nil {
		return &pageError{status: http.StatusBadRequest, code: "invalid_request", desc: "the body must be one JSON object"}
	}
	return nil
}

// orgJSON and sessionJSON are the pages' view of organizations and sessions.
type orgJSON struct {
	ID   string `json:"id"`
	Slug string `json:"slug"`
	Name string `json:"name"`
	Role string `json:"role,omitempty"`
}

func orgsJSON(ms []auth.OrgMembership) []orgJSON {
	out := make([]orgJSON, len(ms))
	for i, m := range ms {
		out[i] = orgJSON{ID: m.Organization.ID, Slug: m.Organization.Slug, Name: m.Organization.Name, Role: m.Role.String()}
	}
	return out
}

// next is where the pages go after signing in: the settings, or the chooser
// (null) while the session has no organization.
func next(info auth.SessionInfo) *string {
	if info.Organization == nil {
		return nil
	}
	to := "/settings"
	return &to
}

// signIn is POST /login: email and password in, a session cookie out. Attempts
// are limited per account, per account and address, and per address.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) (any, error) {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := s.readJSON(r, &in); err != nil {
		return nil, err
	}
	attempt, err := s.passwordAttempt(w, r, in.Email)
	if err != nil {
		return nil, err
	}
	signed, err := s.svc.SignIn(r.Context(), in.Email, in.Password)
	if errors.Is(err, auth.ErrInvalidCredentials) {
		return nil, &pageError{status: http.StatusUnauthorized, code: "invalid_credentials", desc: err.Error()}
	}
	attempt.Succeeded()
	if err != nil {
		return nil, err
	}
	s.setSessionCookie(w, signed.Token, signed.Session.ExpiresAt)
	return map[string]any{"organizations": orgsJSON(signed.Session.Organizations), "next": next(signed.Session)}, nil
}

// passwordAttempt counts an attempt to prove a password for the account of
// email, before the password is checked, so that attempts sent in parallel
// are bounded like attempts sent one after the other; the caller gives it
// back unless the password was wrong. Past a limit (per account, per account
// and address, per address) it refuses with 429.
func (s *Server) passwordAttempt(w http.ResponseWriter, r *http.Request, email string) (*failures.Attempt, error) {
	account := strings.ToLower(strings.TrimSpace(email))
	addr := failures.AddressKey(clientAddress(r))
	attempt, ok := s.signInFailures.Attempt(
		failures.Limit{Key: "signin-account:" + account, Max: s.cfg.SignInAccountLimit},
		failures.Limit{Key: "signin-account-addr:" + addr + "\x00" + account, Max: s.cfg.SignInAccountAddressLimit},
		failures.Limit{Key: "signin-addr:" + addr, Max: s.cfg.SignInAddressLimit},
	)
	if ok {
		return attempt, nil
	}
	s.cfg.Metrics.limited(limiterSignIn)
	retry := s.signInFailures.RetryAfter()
	w.Header().Set("Retry-After", retry)
	s.log.WarnContext(r.Context(), "password refused unchecked: too many failed attempts",
		"request_id", requestIDFrom(r.Context()), "remote_addr", clientAddress(r))
	return nil, &pageError{status: http.StatusTooManyRequests, code: "too_many_attempts",
		desc: "too many failed sign-ins; try again in " + retry + " seconds"}
}

// chooseOrganization is POST /login/organization: the session acts in the
// organization chosen (also to switch).
func (s *Server) chooseOrganization(_ http.ResponseWriter, r *http.Request) (any, error) {
	var in struct {
		OrganizationID string `json:"organizationId"`
	}
	if err := s.readJSON(r, &in); err != nil {
		return nil, err
	}
	info, err := s.svc.ChooseOrganization(r.Context(), s.sessionToken(r), in.OrganizationID)
	if err != nil {
		return nil, err
	}
	return map[string]any{"next": next(info)}, nil
}

// signOut is POST /logout: the session ends and the cookie goes.
func (s *Server) signOut(w http.ResponseWriter, r *http.Request) (any, error) {
	var in struct{}
	if err := s.readJSON(r, &in); err != nil {
		return nil, err
	}
	if err := s.svc.SignOut(r.Context(), s.sessionToken(r)); err != nil {
		return nil, err
	}
	s.clearSessionCookie(w)
	return map[string]string{"next": "/login"}, nil
}

// currentSession is GET /api/session: who is signed in, for the pages.
func (s *Server) currentSession(_ http.ResponseWriter, r *http.Request) (any, error) {
	info, err := s.svc.CurrentSession(r.Context(), s.sessionToken(r))
	if err != nil {
		return nil, err
	}
	var org *orgJSON
	if info.Organization != nil {
		o := orgsJSON([]auth.OrgMembership{*info.Organization})[0]
		org = &o
	}
	return map[string]any{
		"user":          map[string]string{"id": info.User.ID, "email": info.User.Email, "name": info.User.Name},
		"organization":  org,
		"organizations": orgsJSON(info.Organizations),
		"expiresAt":     info.ExpiresAt.UTC().Format(time.RFC3339),
	}, nil
}

// inspectInvitation is POST /api/invitation/inspect: what a link is for.
func (s *Server) inspectInvitation(_ http.ResponseWriter, r *http.Request) (any, error) {
	var in struct {
		Token string `json:"token"`
	}
	if err := s.readJSON(r, &in); err != nil {
		return nil, err
	}
	p, err := s.svc.InspectInvitation(r.Context(), in.Token)
	if auth.KindOf(err) == auth.KindNotFound {
		return nil, &pageError{status: http.StatusNotFound, code: "invalid_invitation", desc: err.Error()}
	}
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"organization":    map[string]string{"name": p.Organization.Name, "slug": p.Organization.Slug},
		"email":           p.Email,
		"role":            p.Role.String(),
		"existingAccount": p.ExistingAccount,
		"expiresAt":       p.ExpiresAt.UTC().Format(time.RFC3339),
	}, nil
}

// acceptInvitation is POST /api/invitation/accept: join, and be signed in.
func (s *Server) acceptInvitation(w http.ResponseWriter, r *http.Request) (any, error) {
	var in struct {
		Token    string `json:"token"`
		Name     string `json:"name"`
		Password string `json:"password"`
	}
	if err := s.readJSON(r, &in); err != nil {
		return nil, err
	}
	// For an existing account the password is checked like a sign-in's, and
	// limited with it; a new account's is hashed, which costs as much.
	preview, err := s.svc.InspectInvitation(r.Context(), in.Token)
	if auth.KindOf(err) == auth.KindNotFound {
		return nil, &pageError{status: http.StatusNotFound, code: "invalid_invitation", desc: err.Error()}
	}
	if err != nil {
		return nil, err
	}
	attempt, err := s.passwordAttempt(w, r, preview.Email)
	if err != nil {
		return nil, err
	}
	signed, err := s.svc.AcceptInvitation(r.Context(), in.Token, in.Name, in.Password)
	if auth.KindOf(err) != auth.KindUnauthenticated {
		attempt.Succeeded()
	}
	switch {
	case auth.KindOf(err) == auth.KindNotFound:
		return nil, &pageError{status: http.StatusNotFound, code: "invalid_invitation", desc: err.Error()}
	case auth.KindOf(err) == auth.KindUnauthenticated:
		return nil, &pageError{status: http.StatusUnauthorized, code: "invalid_credentials", desc: err.Error(), field: "password"}
	case err != nil:
		return nil, err
	}
	s.setSessionCookie(w, signed.Token, signed.Session.ExpiresAt)
	return map[string]any{"next": next(signed.Session), "organizations": orgsJSON(signed.Session.Organizations)}, nil
}

// resetPassword is POST /api/password/reset: a new password with a reset link,
// and a fresh session.
func (s *Server) resetPassword(w http.ResponseWriter, r *http.Request) (any, error) {
	var in struct {
		Token    string `json:"token"`
		Password string `json:"password"`
	}
	if err := s.readJSON(r, &in); err != nil {
		return nil, err
	}
	signed, err := s.svc.ResetPassword(r.Context(), in.Token, in.Password)
	if auth.KindOf(err) == auth.KindNotFound {
		return nil, &pageError{status: http.StatusNotFound, code: "invalid_reset", desc: err.Error()}
	}
	if err != nil {
		return nil, err
	}
	s.setSessionCookie(w, signed.Token, signed.Session.ExpiresAt)
	return map[string]any{"next": next(signed.Session), "organizations": orgsJSON(signed.Session.Organizations)}, nil
}

// mcpConfig is GET /api/mcp/config?editor=...: the editor's snippet with the
// placeholder key, for the settings page's "Connect your AI editor" panel,
// which fills in a key it just made.
func (s *Server) mcpConfig(_ http.ResponseWriter, r *http.Request) (any, error) {
	editor := r.URL.Query().Get("editor")
	snippet, err := mcp.EditorConfig(editor, s.cfg.PublicURL, "")
	if err != nil {
		return nil, &pageError{status: http.StatusBadRequest, code: "invalid_request", desc: err.Error(), field: "editor"}
	}
	return map[string]string{"editor": editor, "snippet": snippet, "where": mcpWhere[editor]}, nil
}

// mcpWhere says where each editor's snippet goes.
var mcpWhere = map[string]string{
	"claude-code":    "Run it in a terminal.",
	"claude-desktop": "Settings › Developer › Edit Config opens claude_desktop_config.json; merge it in and restart Claude Desktop (needs Node.js for npx).",
	"cursor":         "Put it in ~/.cursor/mcp.json (every project) or .cursor/mcp.json (this project).",
	"vscode":         "Run \"MCP: Open User Configuration\" in VS Code and merge it in.",
}

// signedInPage serves a page for a signed-in person with an organization, and
// sends anyone else to /login.
func (s *Server) signedInPage(page http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, err := s.svc.CurrentSession(r.Context(), s.sessionToken(r))
		if err != nil || info.Organization == nil {
			if err != nil && auth.KindOf(err) != auth.KindUnauthenticated {
				s.log.WarnContext(r.Context(), "session check failed", "request_id", requestIDFrom(r.Context()), "error", err)
			}
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		page.ServeHTTP(w, r)
	})
}

// home is GET /: the settings for a signed-in person, the sign-in page for
// anyone else.
func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	if _, err := s.svc.CurrentSession(r.Context(), s.sessionToken(r)); err == nil {
		http.Redirect(w, r, "/settings", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
