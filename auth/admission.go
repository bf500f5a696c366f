package auth

import (
	"time"

	"github.com/pentographer/pentographer/store"
)

// A grant is one credential of any kind as the store has it, with its creator's
// current role: what admission decides on. Every way in (a ptg_ key, an access
// token, a client secret, a session) becomes a grant, and admit is the one place
// that turns a grant into a Principal, both when a request authenticates and
// when a change re-admits its actor inside its transaction.
type grant struct {
	method       Method
	credentialID string
	orgID        string
	userID       string
	clientID     string
	// role is the creator's current role as stored; "" when they left.
	role string
	// scopes are what the credential itself carries (for an access token: the
	// token's scope within its client's); the role's ceiling is applied here.
	scopes    Scopes
	expiresAt *time.Time
	revoked   bool
	token     *TokenInfo
}

// admit decides whether g may act now, and as whom: a revoked credential, or
// one whose creator left, is unknown (the same answer as a credential that never
// existed); an expired one says so; otherwise the principal acts with the
// creator's current role and the credential's scopes within that role's.
func admit(g grant, catalog *Catalog, now time.Time) (*Principal, error) {
	role := roleFromStore(g.role)
	if g.revoked || role == RoleNone {
		return nil, invalidToken(msgUnknown)
	}
	if g.expiresAt != nil && !now.Before(*g.expiresAt) {
		return nil, invalidToken(msgExpired)
	}
	p := &Principal{
		UserID: g.userID, OrgID: g.orgID, Role: role,
		Scopes: g.scopes.Intersect(catalog.ForRole(role)),
		Method: g.method, CredentialID: g.credentialID, ClientID: g.clientID,
		Token: g.token,
	}
	if g.expiresAt != nil {
		p.ExpiresAt = *g.expiresAt
	}
	if g.token != nil {
		p.TokenID = g.token.ID
	}
	return p, nil
}

// keyGrant is the grant of a stored API key.
func keyGrant(c store.KeyCredential) grant {
	return grant{
		method: MethodAPIKey, credentialID: c.ID, orgID: c.OrgID, userID: c.UserID, role: c.Role,
		scopes: ParseScopes(c.Scopes), expiresAt: c.ExpiresAt, revoked: c.RevokedAt != nil,
	}
}

// tokenGrant is the grant of an access token of client c: its scope within the
// client's, until the token expires; revoked with its client or by its jti.
func tokenGrant(c store.ClientCredential, t *TokenInfo, jtiRevoked bool) grant {
	exp := t.ExpiresAt
	return grant{
		method: MethodAccessToken, credentialID: c.ID, orgID: c.OrgID, userID: c.UserID,
		clientID: c.ClientID, role: c.Role,
		scopes:    ParseScopes(t.Scope).Intersect(ParseScopes(c.Scopes)),
		expiresAt: &exp, revoked: c.RevokedAt != nil || jtiRevoked || c.OrgID != t.OrgID, token: t,
	}
}

// clientGrant is the grant of an OAuth client authenticating with its secret
// (its secret already compared).
func clientGrant(c store.ClientAuth) grant {
	return grant{
		method: MethodClientSecret, credentialID: c.ID, orgID: c.OrgID, userID: c.UserID,
		clientID: c.ClientID, role: c.Role, scopes: ParseScopes(c.Scopes), revoked: c.Revoked,
	}
}

// storedClientGrant is clientGrant for a client read by id, to re-admit it.
func storedClientGrant(c store.ClientCredential) grant {
	return clientGrant(store.ClientAuth{ID: c.ID, OrgID: c.OrgID, UserID: c.UserID, ClientID: c.ClientID,
		Scopes: c.Scopes, Revoked: c.RevokedAt != nil, Role: c.Role})
}
