package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pentographer/pentographer/internal/jsonw"
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

// UnmarshalJSON refuses exp, nbf and iat written as anything but a JSON number:
// jwt.NumericDate would also accept a string holding one, which RFC 7519 §2
// does not.
func (c *accessClaims) UnmarshalJSON(b []byte) error {
	var dates struct {
		Exp json.RawMessage `json:"exp"`
		Nbf json.RawMessage `json:"nbf"`
		Iat json.RawMessage `json:"iat"`
	}
	if err := json.Unmarshal(b, &dates); err != nil {
		return err
	}
	for _, d := range []json.RawMessage{dates.Exp, dates.Nbf, dates.Iat} {
		if len(d) > 0 && d[0] != '-' && (d[0] < '0' || d[0] > '9') {
			return errors.New("exp, nbf and iat must be numbers")
		}
	}
	type plain accessClaims
	return json.Unmarshal(b, (*plain)(c))
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
	key, err := s.keys.signer(ctx)
	if err != nil {
		return IssuedToken{}, err
	}
	jti, err := randomBase62(24)
	if err != nil {
		return IssuedToken{}, err
	}
	now := s.now().UTC().Unix()
	grantedScope := granted.String()
	signed, err := s.encodeToken(key, tokenClaims{
		subject: client.ClientID, jti: jti, scope: grantedScope, orgID: client.OrgID,
		issuedAt: now, expires: now + int64(s.tokens.TTL/time.Second),
	})
	if err != nil {
		return IssuedToken{}, err
	}
	s.authn.observer.TokenIssued()
	return IssuedToken{AccessToken: signed, ExpiresIn: int(s.tokens.TTL / time.Second), Scope: grantedScope}, nil
}

// tokenClaims are what varies between the access tokens of one deployment.
type tokenClaims struct {
	subject, jti, scope, orgID string
	issuedAt, expires          int64
}

// encodeToken writes and signs an RFC 9068 access token: the header is the
// key's, fixed; the claims are written by hand (in the order iss, sub, aud,
// exp, nbf, iat, jti, client_id, scope, org_id), since encoding/json's
// reflection costs as much as a tenth of the signature. golang-jwt signs.
func (s *Service) encodeToken(key signingKey, c tokenClaims) (string, error) {
	b64 := base64.RawURLEncoding
	claims := make([]byte, 0, 320)
	claims = append(claims, `{"iss":`...)
	claims = jsonw.AppendString(claims, s.tokens.Issuer)
	claims = append(claims, `,"sub":`...)
	claims = jsonw.AppendString(claims, c.subject)
	claims = append(claims, `,"aud":[`...)
	claims = jsonw.AppendString(claims, s.tokens.Audience)
	claims = append(claims, `],"exp":`...)
	claims = strconv.AppendInt(claims, c.expires, 10)
	claims = append(claims, `,"nbf":`...)
	claims = strconv.AppendInt(claims, c.issuedAt, 10)
	claims = append(claims, `,"iat":`...)
	claims = strconv.AppendInt(claims, c.issuedAt, 10)
	claims = append(claims, `,"jti":`...)
	claims = jsonw.AppendString(claims, c.jti)
	claims = append(claims, `,"client_id":`...)
	claims = jsonw.AppendString(claims, c.subject)
	claims = append(claims, `,"scope":`...)
	claims = jsonw.AppendString(claims, c.scope)
	claims = append(claims, `,"org_id":`...)
	claims = jsonw.AppendString(claims, c.orgID)
	claims = append(claims, '}')

	header := key.encodedHeader
	signing := make([]byte, 0, len(header)+1+b64.EncodedLen(len(claims))+1+b64.EncodedLen(132))
	signing = append(signing, header...)
	signing = append(signing, '.')
	signing = b64.AppendEncode(signing, claims)
	sig, err := key.method.Sign(string(signing), key.private)
	if err != nil {
		return "", fmt.Errorf("auth: sign access token: %w", err)
	}
	signing = append(signing, '.')
	return string(b64.AppendEncode(signing, sig)), nil
}

// verifiedToken is an access token whose signature and claims checked out.
type verifiedToken struct {
	TokenInfo
	clientID string
}

// verifyAccessToken verifies a token's signature and claims strictly: an allowed
// algorithm that matches its key, typ at+jwt, no crit header (we understand no
// extension), a published kid, our issuer and audience, numeric exp/nbf/iat with
// leeway, a lifetime no longer than the configured one, and the claims SPEC §6
// requires.
func (a *Authenticator) verifyAccessToken(ctx context.Context, token string) (*verifiedToken, error) {
	var claims accessClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		typ, _ := t.Header["typ"].(string)
		if !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
			return nil, errors.New("typ is not at+jwt")
		}
		if _, ok := t.Header["crit"]; ok {
			return nil, errors.New("unknown critical header parameters")
		}
		kid, _ := t.Header["kid"].(string)
		k, ok := a.keys.verificationKey(ctx, kid)
		if !ok {
			return nil, errors.New("unknown kid")
		}
		if t.Method.Alg() != k.alg {
			return nil, errors.New("algorithm does not match the key")
		}
		return k.private.Public(), nil
	},
		jwt.WithValidMethods(SigningAlgs),
		jwt.WithIssuer(a.tokens.Issuer),
		jwt.WithAudience(a.tokens.Audience),
		jwt.WithLeeway(tokenLeeway),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(a.now),
	)
	if err != nil {
		return nil, err
	}
	if claims.ID == "" || claims.ClientID == "" || claims.OrgID == "" || claims.Subject != claims.ClientID ||
		claims.IssuedAt == nil {
		return nil, errors.New("required claims are missing")
	}
	if claims.ExpiresAt.Sub(claims.IssuedAt.Time) > a.tokens.TTL {
		return nil, errors.New("the token lives longer than this server issues tokens for")
	}
	v := &verifiedToken{clientID: claims.ClientID, TokenInfo: TokenInfo{
		ID: claims.ID, Subject: claims.Subject, Audience: claims.Audience, Scope: claims.Scope, OrgID: claims.OrgID,
		IssuedAt: claims.IssuedAt.Time, ExpiresAt: claims.ExpiresAt.Time,
	}}
	if claims.NotBefore != nil {
		v.NotBefore = claims.NotBefore.Time
	}
	return v, nil
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
	v, err := s.authn.verifyAccessToken(ctx, token)
	if err != nil || v.clientID != client.ClientID {
		return nil
	}
	return s.write(ctx, writeOp{weakens: true, min: RoleMember}, func(w *writeTx) error {
		inserted, err := w.tx.InsertRevokedToken(w.ctx, &store.RevokedToken{
			JTI: v.ID, ClientID: v.clientID, ExpiresAt: v.ExpiresAt.Add(tokenLeeway),
		})
		if err != nil || !inserted {
			return err // revoked already: nothing to record again
		}
		if err := w.tx.DeleteRevokedTokensExpiredBefore(w.ctx, w.now); err != nil {
			return err
		}
		w.audit(auditEntry{orgID: w.actor.OrgID, action: ActionAccessTokenRevoked,
			targetType: "access_token", targetID: v.ID, detail: "client_id=" + v.clientID})
		w.invalidate(Invalidation{TokenID: v.ID})
		return nil
	})
}
