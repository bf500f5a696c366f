package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pentographer/pentographer/store"
)

// TokenConfig shapes access tokens (SPEC §6).
type TokenConfig struct {
	// Issuer is the iss claim: the deployment's public URL.
	Issuer string
	// Audience is the aud claim every token carries and verification demands.
	Audience string
	// TTL is the lifetime of an access token.
	TTL time.Duration
	// Alg is the JWS algorithm of new signing keys (one of SigningAlgs).
	Alg string
}

// DefaultTokenTTL is the lifetime of an access token unless configured.
const DefaultTokenTTL = time.Hour

// tokenLeeway is the clock skew tolerated on exp, nbf and iat.
const tokenLeeway = 60 * time.Second

// Validate checks a token configuration.
func (c TokenConfig) Validate() error {
	if c.Issuer == "" || c.Audience == "" {
		return errors.New("access tokens need an issuer and an audience")
	}
	if c.TTL < time.Minute || c.TTL > 24*time.Hour {
		return fmt.Errorf("access token lifetime must be between 1m and 24h, not %s", c.TTL)
	}
	_, err := methodFor(c.Alg)
	return err
}

// accessClaims are the claims of an RFC 9068 access token.
type accessClaims struct {
	jwt.RegisteredClaims
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
	OrgID    string `json:"org_id"`
}

// errInvalidClient is the one answer to every failed client authentication:
// unknown id, wrong secret, revoked client, creator gone.
var errInvalidClient = &Error{Kind: KindUnauthenticated, Message: "client authentication failed"}

// dummyDigest is compared against when a client id is unknown, so that an unknown
// id and a wrong secret cost the same work.
var dummyDigest = Digest("ptgs_unknown-client")

// AuthenticateClient checks an OAuth client's id and secret. Every failure is the
// same error, whatever its cause; the secret is compared in constant time.
func (s *Service) AuthenticateClient(ctx context.Context, clientID, secret string) (*Principal, error) {
	if !clientIDFormat.valid(clientID) || !clientSecretFormat.valid(secret) {
		return nil, errInvalidClient
	}
	// A client that just authenticated with this id and secret is served from the
	// cache (see principalCache for why that is safe); failures are never cached.
	cacheKey := Digest(clientID + "\x00" + secret)
	now := s.clock()
	cached, gen := s.cache.get(cacheKey, now)
	if cached != nil {
		return cached, nil
	}
	digest := Digest(secret)
	c, err := s.store.ClientAuthentication(ctx, clientID, now.Add(-lastUsedInterval))
	if isNotFound(err) {
		subtle.ConstantTimeCompare(digest, dummyDigest)
		return nil, errInvalidClient
	}
	if err != nil {
		return nil, err
	}
	role := roleFromStore(c.Role)
	if subtle.ConstantTimeCompare(digest, c.SecretDigest) != 1 || c.Revoked || role == RoleNone {
		return nil, errInvalidClient
	}
	if !c.RecentlyUsed {
		s.touchClient(ctx, c.ID, now)
	}
	p := &Principal{
		UserID: c.UserID, OrgID: c.OrgID, Role: role,
		Scopes: ParseScopes(c.Scopes).Intersect(s.scopes.ForRole(role)),
		Method: MethodClientSecret, CredentialID: c.ID, ClientID: c.ClientID,
	}
	s.cache.put(cacheKey, p, gen, now)
	return p, nil
}

func (s *Service) touchClient(ctx context.Context, id string, now time.Time) {
	if err := s.store.TouchOAuthClient(ctx, id, now, lastUsedInterval); err != nil && !errors.Is(err, context.Canceled) {
		s.log.WarnContext(ctx, "recording oauth client use failed", "credential_id", id, "error", err)
	}
}

// IssuedToken is the token endpoint's answer.
type IssuedToken struct {
	AccessToken string
	ExpiresIn   int
	Scope       string
}

// IssueClientToken signs an access token for an authenticated client. scope, when
// not empty, narrows the token to a subset of the client's scopes; asking for
// more is invalid_scope.
func (s *Service) IssueClientToken(ctx context.Context, client *Principal, scope string) (IssuedToken, error) {
	if client == nil || client.Method != MethodClientSecret {
		return IssuedToken{}, errInvalidClient
	}
	granted := client.Scopes
	if requested := ParseScopes(scope); len(requested) > 0 {
		if !client.Scopes.Contains(requested) {
			return IssuedToken{}, invalidField("scope", "the requested scope exceeds the client's scopes")
		}
		granted = requested
	}
	key, err := s.signer(ctx)
	if err != nil {
		return IssuedToken{}, err
	}
	jti, err := randomBase62(24)
	if err != nil {
		return IssuedToken{}, err
	}
	now := s.now().UTC()
	claims := accessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.tokens.Issuer,
			Subject:   client.ClientID,
			Audience:  jwt.ClaimStrings{s.tokens.Audience},
			ExpiresAt: jwt.NewNumericDate(now.Add(s.tokens.TTL)),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        jti,
		},
		ClientID: client.ClientID,
		Scope:    granted.String(),
		OrgID:    client.OrgID,
	}
	tok := jwt.NewWithClaims(key.method, claims)
	tok.Header["typ"] = "at+jwt"
	tok.Header["kid"] = key.kid
	signed, err := tok.SignedString(key.private)
	if err != nil {
		return IssuedToken{}, fmt.Errorf("auth: sign access token: %w", err)
	}
	return IssuedToken{AccessToken: signed, ExpiresIn: int(s.tokens.TTL / time.Second), Scope: claims.Scope}, nil
}

// parseAccessToken verifies a token's signature and claims strictly: an allowed
// algorithm that matches its key, typ at+jwt, a published kid, our issuer and
// audience, exp/nbf/iat with leeway, and the claims SPEC §6 requires.
func (s *Service) parseAccessToken(ctx context.Context, token string) (*accessClaims, error) {
	var claims accessClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		typ, _ := t.Header["typ"].(string)
		if !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
			return nil, errors.New("typ is not at+jwt")
		}
		kid, _ := t.Header["kid"].(string)
		k, ok := s.verificationKey(ctx, kid)
		if !ok {
			return nil, errors.New("unknown kid")
		}
		if t.Method.Alg() != k.alg {
			return nil, errors.New("algorithm does not match the key")
		}
		return k.private.Public(), nil
	},
		jwt.WithValidMethods(SigningAlgs),
		jwt.WithIssuer(s.tokens.Issuer),
		jwt.WithAudience(s.tokens.Audience),
		jwt.WithLeeway(tokenLeeway),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(s.now),
	)
	if err != nil {
		return nil, err
	}
	if claims.ID == "" || claims.ClientID == "" || claims.OrgID == "" || claims.Subject != claims.ClientID {
		return nil, errors.New("required claims are missing")
	}
	return &claims, nil
}

// accessToken authenticates a JWT access token: strict verification, then the
// client must still be active, its creator still a member, and the jti not
// revoked.
func (a *Authenticator) accessToken(ctx context.Context, token string) (*Principal, error) {
	digest := Digest(token)
	now := a.svc.clock()
	cached, gen := a.svc.cache.get(digest, now)
	if cached != nil {
		return cached, nil
	}
	claims, err := a.svc.parseAccessToken(ctx, token)
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return nil, invalidToken(msgExpired)
		}
		return nil, invalidToken("the access token is invalid")
	}
	c, err := a.svc.store.OAuthClientCredential(ctx, claims.ClientID)
	if isNotFound(err) {
		return nil, invalidToken(msgUnknown)
	}
	if err != nil {
		return nil, err
	}
	role := roleFromStore(c.Role)
	if c.RevokedAt != nil || role == RoleNone || c.OrgID != claims.OrgID {
		return nil, invalidToken(msgUnknown)
	}
	revoked, err := a.svc.store.TokenRevoked(ctx, claims.ID)
	if err != nil {
		return nil, err
	}
	if revoked {
		return nil, invalidToken(msgUnknown)
	}
	p := &Principal{
		UserID: c.UserID, OrgID: c.OrgID, Role: role,
		Scopes: ParseScopes(claims.Scope).Intersect(ParseScopes(c.Scopes)).Intersect(a.svc.scopes.ForRole(role)),
		Method: MethodAccessToken, CredentialID: c.ID, ClientID: c.ClientID, TokenID: claims.ID,
		ExpiresAt: claims.ExpiresAt.Time,
	}
	a.svc.cache.put(digest, p, gen, now)
	return p, nil
}

// RevokeAccessToken implements RFC 7009 for the calling client: a valid token it
// was issued is denied until it would have expired. Anything else (another
// client's token, an invalid or expired one) is ignored, as the RFC asks.
func (s *Service) RevokeAccessToken(ctx context.Context, token string) error {
	client := PrincipalFrom(ctx)
	if client == nil || client.Method != MethodClientSecret {
		return errInvalidClient
	}
	if strings.Count(token, ".") != 2 || len(token) > maxAuthorizationLength {
		return nil
	}
	claims, err := s.parseAccessToken(ctx, token)
	if err != nil || claims.ClientID != client.ClientID {
		return nil
	}
	err = s.store.Tx(ctx, func(tx *store.Store) error {
		if err := tx.InsertRevokedToken(ctx, &store.RevokedToken{
			JTI: claims.ID, ClientID: claims.ClientID, ExpiresAt: claims.ExpiresAt.Add(tokenLeeway),
		}); err != nil {
			return err
		}
		if err := tx.DeleteRevokedTokensExpiredBefore(ctx, s.clock()); err != nil {
			return err
		}
		return s.record(ctx, tx, client, auditEntry{orgID: client.OrgID, action: ActionAccessTokenRevoked,
			targetType: "access_token", targetID: claims.ID, detail: "client_id=" + claims.ClientID})
	})
	if err != nil {
		return err
	}
	s.credentialsChanged()
	return nil
}
