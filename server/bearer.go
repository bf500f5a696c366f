package server

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/pentographer/pentographer/auth"
	"github.com/pentographer/pentographer/internal/jsonw"
)

// realm is the protection space named in every Bearer challenge.
const realm = `Bearer realm="pentographer"`

// requireBearer authenticates the request with the one bearer resolver and puts
// the principal into the context. Every failure is a 401 of RFC 6750 §3 whose
// description never repeats the presented credential.
func (s *Server) requireBearer(next http.Handler) http.Handler {
	return s.requireBearerFor(realm, next)
}

// requireBearerFor is requireBearer whose challenges start with challenge (realm
// and any further parameters of the protected resource).
func (s *Server) requireBearerFor(challenge string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if credentialInURL(r.URL) {
			unauthorized(w, challenge, "invalid_request", "credentials must be sent in the Authorization header, never in the URL")
			return
		}
		values := r.Header.Values("Authorization")
		if len(values) > 1 {
			unauthorized(w, challenge, "invalid_request", "send exactly one Authorization header")
			return
		}
		header := ""
		if len(values) == 1 {
			header = values[0]
		}
		p, err := s.authn.Authenticate(r.Context(), header)
		if err != nil {
			s.refuseCredential(w, r, challenge, err)
			return
		}
		ri := requestInfoFrom(r.Context())
		ri.credentialID, ri.method = p.CredentialID, p.Method
		next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
}

// refuseCredential answers a failed authentication: 401 with the challenge
// (RFC 6750 §3; no error code when nothing was presented), 429 for an address
// throttled for presenting unknown credentials, 503 when credentials cannot be
// checked (the store is down).
func (s *Server) refuseCredential(w http.ResponseWriter, r *http.Request, challenge string, err error) {
	switch {
	case errors.Is(err, auth.ErrNoCredential):
		w.Header().Set("WWW-Authenticate", challenge)
		writeError(w, http.StatusUnauthorized, "unauthorized", err.Error())
	case auth.KindOf(err) == auth.KindUnauthenticated:
		unauthorized(w, challenge, "invalid_token", err.Error())
	case auth.KindOf(err) == auth.KindRateLimited:
		s.cfg.Metrics.limited(limiterUnknownCredentials)
		w.Header().Set("Retry-After", "60")
		writeError(w, http.StatusTooManyRequests, "too_many_requests", err.Error())
	default:
		s.unavailable(w, r, err)
	}
}

// unauthorized writes a 401 with an RFC 6750 challenge naming the error code.
func unauthorized(w http.ResponseWriter, challenge, code, desc string) {
	w.Header().Set("WWW-Authenticate", challenge+`, error="`+code+`", error_description="`+desc+`"`)
	writeError(w, http.StatusUnauthorized, code, desc)
}

// writeError writes {"error": code, "error_description": desc}, by hand:
// refusals are what a flood of bad requests costs, so they stay cheap.
func writeError(w http.ResponseWriter, status int, code, desc string) {
	b := make([]byte, 0, 48+len(code)+len(desc))
	b = append(b, `{"error":`...)
	b = jsonw.AppendString(b, code)
	b = append(b, `,"error_description":`...)
	b = jsonw.AppendString(b, desc)
	b = append(b, "}\n"...)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// credentialInURL reports whether the query string carries a credential: the RFC
// 6750 §2.3 access_token parameter, or anything shaped like a ptg_ key.
func credentialInURL(u *url.URL) bool {
	if u.RawQuery == "" {
		return false
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		// An unparsable query can hide anything; refuse it.
		return strings.Contains(u.RawQuery, "ptg")
	}
	if q.Has("access_token") {
		return true
	}
	for _, vs := range q {
		for _, v := range vs {
			if containsAPIKey(v) {
				return true
			}
		}
	}
	return false
}

// containsAPIKey finds a well-formed ptg_ key anywhere in s.
func containsAPIKey(s string) bool {
	for {
		i := strings.Index(s, "ptg_")
		if i < 0 {
			return false
		}
		s = s[i:]
		if len(s) >= 50 && auth.ValidAPIKey(s[:50]) {
			return true
		}
		s = s[4:]
	}
}
