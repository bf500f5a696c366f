package server

import (
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/pentographer/pentographer/auth"
	"github.com/pentographer/pentographer/internal/failures"
	"github.com/pentographer/pentographer/internal/jsonw"
)

// maxFormBytes bounds the body of the OAuth endpoints; real requests are tiny.
const maxFormBytes = 16 << 10

// oauthError is an RFC 6749 §5.2 error answer. desc is a constant of this file:
// it never holds input, CR/LF or a secret.
type oauthError struct {
	status int
	code   string
	desc   string
	basic  bool // add the Basic challenge (client_secret_basic was tried)
}

func (e *oauthError) Error() string { return e.code + ": " + e.desc }

func invalidRequest(desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: "invalid_request", desc: desc}
}

func invalidClient(basic bool) *oauthError {
	return &oauthError{status: http.StatusUnauthorized, code: "invalid_client", desc: "client authentication failed", basic: basic}
}

// writeOAuth writes a JSON answer of the OAuth endpoints, never cacheable.
func writeOAuth(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, status, v)
}

func writeOAuthError(w http.ResponseWriter, e *oauthError) {
	if e.basic {
		w.Header().Set("WWW-Authenticate", `Basic realm="pentographer"`)
	}
	writeOAuth(w, e.status, map[string]string{"error": e.code, "error_description": e.desc})
}

// knownParams are the parameters the OAuth endpoints read; only these names are
// ever repeated back in an error.
var knownParams = []string{"grant_type", "scope", "client_id", "client_secret", "token", "token_type_hint"}

// readForm reads an application/x-www-form-urlencoded body strictly: no
// parameters in the URL, the right content type, valid encoding, no repeats.
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, *oauthError) {
	if r.URL.RawQuery != "" {
		return nil, invalidRequest("parameters must be sent in the request body, never in the URL")
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, invalidRequest("the body must be application/x-www-form-urlencoded")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFormBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &oauthError{status: http.StatusRequestEntityTooLarge, code: "invalid_request", desc: "the request body is too large"}
		}
		return nil, invalidRequest("the request body could not be read")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, invalidRequest("the form body is not valid application/x-www-form-urlencoded")
	}
	for name, values := range form {
		if len(values) > 1 {
			for _, known := range knownParams {
				if name == known {
					return nil, invalidRequest("the " + known + " parameter is repeated")
				}
			}
			return nil, invalidRequest("a parameter is repeated")
		}
	}
	return form, nil
}

// clientCredentials extracts client authentication: client_secret_basic (RFC 6749
// §2.3.1, id and secret form-urlencoded inside Basic) or client_secret_post.
// Using both is invalid_request. ok is false when the request carries none.
func clientCredentials(r *http.Request, form url.Values) (id, secret string, basic, ok bool, oerr *oauthError) {
	headers := r.Header.Values("Authorization")
	if len(headers) > 1 {
		return "", "", false, false, invalidRequest("send exactly one Authorization header")
	}
	if len(headers) == 1 {
		scheme, payload, _ := strings.Cut(headers[0], " ")
		if !strings.EqualFold(scheme, "Basic") {
			// Not client authentication (e.g. a bearer for introspection);
			// the body may still carry client_secret_post credentials.
			return formCredentials(form)
		}
		if form.Has("client_secret") {
			return "", "", true, false, invalidRequest("use one client authentication method: Basic or client_secret in the body, not both")
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(payload))
		if err != nil {
			return "", "", true, false, invalidClient(true)
		}
		rawID, rawSecret, found := strings.Cut(string(raw), ":")
		if !found {
			return "", "", true, false, invalidClient(true)
		}
		id, err1 := url.QueryUnescape(rawID)
		secret, err2 := url.QueryUnescape(rawSecret)
		if err1 != nil || err2 != nil {
			return "", "", true, false, invalidClient(true)
		}
		if form.Has("client_id") && form.Get("client_id") != id {
			return "", "", true, false, invalidRequest("client_id in the body differs from the Basic credentials")
		}
		return id, secret, true, true, nil
	}
	return formCredentials(form)
}

// formCredentials reads client_secret_post credentials.
func formCredentials(form url.Values) (id, secret string, basic, ok bool, oerr *oauthError) {
	if !form.Has("client_id") && !form.Has("client_secret") {
		return "", "", false, false, nil
	}
	return form.Get("client_id"), form.Get("client_secret"), false, true, nil
}

// The client-authentication failure counters are keyed where the attacker
// stands: a client id with the address it was tried from, and the address alone.
// A client id is public (it is in tokens and the audit log), so failures with it
// from one address must not lock its owner out everywhere.
func (s *Server) clientLimits(clientID, address string) []failures.Limit {
	address = failures.AddressKey(address)
	return []failures.Limit{
		{Key: "client:" + address + "\x00" + clientID, Max: s.cfg.ClientFailureLimit},
		{Key: "client-addr:" + address, Max: s.cfg.AddressFailureLimit},
	}
}

// authenticateClient runs client authentication with the failure limit. It
// returns the client principal or writes the error answer.
func (s *Server) authenticateClient(w http.ResponseWriter, r *http.Request, form url.Values) (*auth.Principal, bool) {
	id, secret, basic, ok, oerr := clientCredentials(r, form)
	if oerr != nil {
		writeOAuthError(w, oerr)
		return nil, false
	}
	if !ok {
		writeOAuthError(w, invalidClient(basic))
		return nil, false
	}
	limits := s.clientLimits(id, clientAddress(r))
	if s.clientFailures.Blocked(limits...) {
		s.cfg.Metrics.limited(limiterClientAuthentication)
		w.Header().Set("Retry-After", s.clientFailures.RetryAfter())
		writeOAuth(w, http.StatusTooManyRequests, map[string]string{
			"error": "temporarily_unavailable", "error_description": "too many failed attempts; retry later",
		})
		return nil, false
	}
	client, err := s.authn.AuthenticateClient(r.Context(), id, secret)
	if auth.KindOf(err) == auth.KindUnauthenticated {
		s.clientFailures.Fail(limits...)
		writeOAuthError(w, invalidClient(basic))
		return nil, false
	}
	if err != nil {
		// The client could not be checked (the store is unreachable): a
		// temporary condition, like the bearer endpoints' 503.
		if s.clientGone(r, err) {
			return nil, false
		}
		s.log.ErrorContext(r.Context(), "client authentication failed", "request_id", requestIDFrom(r.Context()), "error", err)
		w.Header().Set("Retry-After", "1")
		writeOAuth(w, http.StatusServiceUnavailable, map[string]string{
			"error": "temporarily_unavailable", "error_description": "the server cannot check client credentials right now",
		})
		return nil, false
	}
	ri := requestInfoFrom(r.Context())
	ri.credentialID, ri.method = client.CredentialID, client.Method
	return client, true
}

// serverError logs err with the request id and answers a generic 500, unless
// the client went away (then there is nobody to answer).
func (s *Server) serverError(w http.ResponseWriter, r *http.Request, err error) {
	if s.clientGone(r, err) {
		return
	}
	s.log.ErrorContext(r.Context(), "oauth endpoint failed", "request_id", requestIDFrom(r.Context()), "error", err)
	writeOAuth(w, http.StatusInternalServerError, map[string]string{"error": "server_error", "error_description": "internal error"})
}

// token is POST /api/oauth/token: the client credentials grant (RFC 6749 §4.4).
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	form, oerr := readForm(w, r)
	if oerr != nil {
		writeOAuthError(w, oerr)
		return
	}
	switch gt := form.Get("grant_type"); {
	case !form.Has("grant_type") || gt == "":
		writeOAuthError(w, invalidRequest("grant_type is required"))
		return
	case gt != "client_credentials":
		writeOAuthError(w, &oauthError{status: http.StatusBadRequest, code: "unsupported_grant_type", desc: "only the client_credentials grant is supported"})
		return
	}
	client, ok := s.authenticateClient(w, r, form)
	if !ok {
		return
	}
	tok, err := s.svc.IssueClientToken(r.Context(), client, form.Get("scope"))
	if auth.KindOf(err) == auth.KindInvalid {
		writeOAuthError(w, &oauthError{status: http.StatusBadRequest, code: "invalid_scope", desc: "the requested scope is unknown or exceeds the client's scopes"})
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	// The answer is written by hand: it is the endpoint's hot path.
	body := make([]byte, 0, len(tok.AccessToken)+len(tok.Scope)+80)
	body = append(body, `{"access_token":`...)
	body = jsonw.AppendString(body, tok.AccessToken)
	body = append(body, `,"expires_in":`...)
	body = strconv.AppendInt(body, int64(tok.ExpiresIn), 10)
	body = append(body, `,"scope":`...)
	body = jsonw.AppendString(body, tok.Scope)
	body = append(body, `,"token_type":"Bearer"}`+"\n"...)
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// introspect is POST /api/oauth/introspect (RFC 7662). The resource server
// authenticates as an OAuth client or with any bearer credential of the
// organization.
func (s *Server) introspect(w http.ResponseWriter, r *http.Request) {
	form, oerr := readForm(w, r)
	if oerr != nil {
		writeOAuthError(w, oerr)
		return
	}
	ctx := r.Context()
	if h := r.Header.Get("Authorization"); len(r.Header.Values("Authorization")) == 1 && strings.HasPrefix(strings.ToLower(h), "bearer ") {
		p, err := s.authn.Authenticate(ctx, h)
		if err != nil {
			s.refuseCredential(w, r, realm, err)
			return
		}
		ctx = auth.WithPrincipal(ctx, p)
	} else {
		client, ok := s.authenticateClient(w, r, form)
		if !ok {
			return
		}
		ctx = auth.WithPrincipal(ctx, client)
	}
	if !form.Has("token") {
		writeOAuthError(w, invalidRequest("token is required"))
		return
	}
	out, err := s.authn.Introspect(ctx, form.Get("token"))
	if auth.KindOf(err) == auth.KindRateLimited {
		s.refuseCredential(w, r, realm, err)
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(out.AppendJSON(make([]byte, 0, 512)), '\n'))
}

// revoke is POST /api/oauth/revoke (RFC 7009): a client revokes an access token
// it was issued. The answer is 200 whether or not the token was valid.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	form, oerr := readForm(w, r)
	if oerr != nil {
		writeOAuthError(w, oerr)
		return
	}
	client, ok := s.authenticateClient(w, r, form)
	if !ok {
		return
	}
	if !form.Has("token") {
		writeOAuthError(w, invalidRequest("token is required"))
		return
	}
	err := s.svc.RevokeAccessToken(auth.WithPrincipal(r.Context(), client), form.Get("token"))
	if k := auth.KindOf(err); k == auth.KindUnauthenticated || k == auth.KindForbidden {
		// The client was revoked, or its creator left, since it authenticated.
		_, _, basic := r.BasicAuth()
		writeOAuthError(w, invalidClient(basic))
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// metadata is GET /.well-known/oauth-authorization-server (RFC 8414).
func (s *Server) metadata(w http.ResponseWriter, _ *http.Request) {
	base := s.cfg.PublicURL
	authMethods := []string{"client_secret_basic", "client_secret_post"}
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                base,
		"token_endpoint":                        base + "/api/oauth/token",
		"jwks_uri":                              base + "/.well-known/jwks.json",
		"introspection_endpoint":                base + "/api/oauth/introspect",
		"revocation_endpoint":                   base + "/api/oauth/revoke",
		"grant_types_supported":                 []string{"client_credentials"},
		"response_types_supported":              []string{},
		"token_endpoint_auth_methods_supported": authMethods,
		"introspection_endpoint_auth_methods_supported": authMethods,
		"revocation_endpoint_auth_methods_supported":    authMethods,
		"scopes_supported":                          []string(s.svc.Scopes().All()),
		"access_token_signing_alg_values_supported": auth.SigningAlgs,
		// RFC 9728 §4: the protected resources this server issues tokens for
		// that publish their own metadata.
		"protected_resources": []string{base + "/mcp"},
	})
}

// resourceMetadata is GET /.well-known/oauth-protected-resource[/mcp]: the RFC
// 9728 metadata of the MCP endpoint, which the 401 challenges of /mcp point at.
func (s *Server) resourceMetadata(w http.ResponseWriter, _ *http.Request) {
	base := s.cfg.PublicURL
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, http.StatusOK, map[string]any{
		"resource":                 base + "/mcp",
		"authorization_servers":    []string{base},
		"scopes_supported":         []string(s.svc.Scopes().All()),
		"bearer_methods_supported": []string{"header"},
		"resource_name":            "Pentographer MCP server",
	})
}

// jwks is GET /.well-known/jwks.json: the public keys of live tokens.
func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	keys, err := s.svc.JWKS(r.Context())
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=60")
	writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
}
