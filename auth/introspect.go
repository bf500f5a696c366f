package auth

import (
	"context"
	"strings"
)

// Introspect answers RFC 7662 for a resource server: the caller (an OAuth client
// or any bearer of the same organization) learns whether token — an access token
// or a ptg_ API key — is active and what it may do. Unknown, malformed, expired,
// revoked and other organizations' credentials all answer exactly
// {"active": false}.
func (a *Authenticator) Introspect(ctx context.Context, token string) (map[string]any, error) {
	caller, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	inactive := map[string]any{"active": false}
	if token == "" || len(token) > maxAuthorizationLength || !isB64Token(token) {
		return inactive, nil
	}
	var p *Principal
	switch {
	case strings.HasPrefix(token, apiKeyFormat.prefix):
		p, err = a.apiKey(ctx, token)
	case strings.Count(token, ".") == 2:
		p, err = a.accessToken(ctx, token)
	default:
		return inactive, nil
	}
	if KindOf(err) == KindUnauthenticated || (err == nil && p.OrgID != caller.OrgID) {
		return inactive, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string]any{
		"active":     true,
		"scope":      p.Scopes.String(),
		"token_type": "Bearer",
		"org_id":     p.OrgID,
		"role":       p.Role.String(),
		"iss":        a.svc.tokens.Issuer,
	}
	if !p.ExpiresAt.IsZero() {
		out["exp"] = p.ExpiresAt.Unix()
	}
	if p.Method == MethodAPIKey {
		out["credential_type"] = "api_key"
		out["sub"] = p.UserID
		return out, nil
	}
	claims, err := a.svc.parseAccessToken(ctx, token)
	if err != nil {
		return inactive, nil
	}
	out["credential_type"] = "access_token"
	out["client_id"] = p.ClientID
	out["sub"] = claims.Subject
	out["aud"] = []string(claims.Audience)
	if claims.IssuedAt != nil {
		out["iat"] = claims.IssuedAt.Unix()
	}
	if claims.NotBefore != nil {
		out["nbf"] = claims.NotBefore.Unix()
	}
	out["jti"] = claims.ID
	return out, nil
}
