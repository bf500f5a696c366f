package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"strings"
	"time"
)

// ErrNoCredential means the request carried no bearer credential at all (RFC 6750
// §3.1: the challenge then names no error code).
var ErrNoCredential = &Error{Kind: KindUnauthenticated, Message: "a bearer credential is required"}

// Messages of the invalid_token answers. Unknown and revoked credentials share
// one, so an answer never tells whether a credential ever existed.
const (
	msgMalformed = "the bearer credential is malformed"
	msgUnknown   = "the credential is unknown or revoked"
	msgExpired   = "the credential has expired"
)

// invalidToken is an authentication failure with a safe description.
func invalidToken(desc string) *Error { return &Error{Kind: KindUnauthenticated, Message: desc} }

// maxAuthorizationLength bounds the Authorization header we even look at; every
// real credential is far shorter.
const maxAuthorizationLength = 4096

// lastUsedInterval is how often a key's last_used_at is written at most.
const lastUsedInterval = time.Minute

// Authenticator turns an Authorization header into a Principal. It is the one
// bearer resolver of the server: API keys and, through the same entry point,
// access tokens and sessions.
type Authenticator struct {
	svc *Service
}

// NewAuthenticator returns the bearer resolver over svc.
func NewAuthenticator(svc *Service) *Authenticator { return &Authenticator{svc: svc} }

// Authenticate resolves one Authorization header value. It returns
// ErrNoCredential for an empty header, and a KindUnauthenticated *Error with a safe
// message for anything else that fails. Malformed credentials are refused before
// any database access.
func (a *Authenticator) Authenticate(ctx context.Context, header string) (*Principal, error) {
	if header == "" {
		return nil, ErrNoCredential
	}
	token, err := ParseBearer(header)
	if err != nil {
		return nil, err
	}
	switch {
	case strings.HasPrefix(token, apiKeyFormat.prefix):
		return a.apiKey(ctx, token)
	case strings.Count(token, ".") == 2:
		return a.accessToken(ctx, token)
	}
	return nil, invalidToken(msgMalformed)
}

// ParseBearer extracts the credential of a "Bearer" Authorization header (the
// scheme is case-insensitive, RFC 7235 §2.1) and checks it is an RFC 6750 b64token.
func ParseBearer(header string) (string, error) {
	if len(header) > maxAuthorizationLength {
		return "", invalidToken(msgMalformed)
	}
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", invalidToken("the Authorization header must use the Bearer scheme")
	}
	token = strings.TrimLeft(token, " ")
	if !isB64Token(token) {
		return "", invalidToken(msgMalformed)
	}
	return token, nil
}

// isB64Token implements RFC 6750 §2.1: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" /
// "+" / "/" ) *"=".
func isB64Token(s string) bool {
	if s == "" {
		return false
	}
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if !(isBase62(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') {
			break
		}
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// apiKey authenticates a ptg_ key: format and checksum first (no I/O), then one
// indexed lookup by digest that also yields the creator's current role.
func (a *Authenticator) apiKey(ctx context.Context, key string) (*Principal, error) {
	if !apiKeyFormat.valid(key) {
		return nil, invalidToken(msgMalformed)
	}
	digest := Digest(key)
	now := a.svc.clock()
	cached, gen := a.svc.cache.get(digest, now)
	if cached != nil {
		return cached, nil
	}
	c, err := a.svc.store.APIKeyCredentialByDigest(ctx, digest)
	if isNotFound(err) {
		return nil, invalidToken(msgUnknown)
	}
	if err != nil {
		return nil, err
	}
	role := roleFromStore(c.Role)
	// The lookup matched on the digest already; comparing again in constant time
	// keeps the decision independent of how the database compares bytes.
	if subtle.ConstantTimeCompare(c.Digest, digest) != 1 || c.RevokedAt != nil || role == RoleNone {
		return nil, invalidToken(msgUnknown)
	}
	if c.ExpiresAt != nil && !now.Before(*c.ExpiresAt) {
		return nil, invalidToken(msgExpired)
	}
	if c.LastUsedAt == nil || now.Sub(*c.LastUsedAt) >= lastUsedInterval {
		if err := a.svc.store.TouchAPIKey(ctx, c.ID, now, lastUsedInterval); err != nil && !errors.Is(err, context.Canceled) {
			a.svc.log.WarnContext(ctx, "recording api key use failed", "credential_id", c.ID, "error", err)
		}
	}
	p := &Principal{
		UserID: c.UserID, OrgID: c.OrgID, Role: role,
		Scopes: ParseScopes(c.Scopes).Intersect(a.svc.scopes.ForRole(role)),
		Method: MethodAPIKey, CredentialID: c.ID,
	}
	if c.ExpiresAt != nil {
		p.ExpiresAt = *c.ExpiresAt
	}
	a.svc.cache.put(digest, p, gen, now)
	return p, nil
}
