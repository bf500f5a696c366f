package auth

import (
	"context"
	"strconv"

	"github.com/pentographer/pentographer/internal/jsonw"
)

// Introspection is an RFC 7662 answer. An inactive one is exactly
// {"active": false}: every other field is omitted.
type Introspection struct {
	Active         bool     `json:"active"`
	Scope          string   `json:"scope,omitempty"`
	ClientID       string   `json:"client_id,omitempty"`
	TokenType      string   `json:"token_type,omitempty"`
	Exp            int64    `json:"exp,omitempty"`
	Iat            int64    `json:"iat,omitempty"`
	Nbf            int64    `json:"nbf,omitempty"`
	Sub            string   `json:"sub,omitempty"`
	Aud            []string `json:"aud,omitempty"`
	Iss            string   `json:"iss,omitempty"`
	Jti            string   `json:"jti,omitempty"`
	OrgID          string   `json:"org_id,omitempty"`
	Role           string   `json:"role,omitempty"`
	CredentialType string   `json:"credential_type,omitempty"`
}

// Introspect answers RFC 7662 for a resource server: the caller (an OAuth client
// or any bearer of the same organization) learns whether token — an access token
// or a ptg_ API key — is active and what it may do. Unknown, malformed, expired,
// revoked and other organizations' credentials all answer exactly
// {"active": false}.
func (a *Authenticator) Introspect(ctx context.Context, token string) (Introspection, error) {
	caller, err := caller(ctx)
	if err != nil {
		return Introspection{}, err
	}
	if token == "" || len(token) > maxAuthorizationLength || !isB64Token(token) {
		return Introspection{}, nil
	}
	// The token is the resource server's caller's, not the resource server's
	// own: its misses must not throttle the resource server's address (anyone
	// could send it junk to lock out its users).
	meta := RequestMetaFrom(ctx)
	meta.Address = ""
	p, err := a.bearer(WithRequestMeta(ctx, meta), token)
	if KindOf(err) == KindUnauthenticated || (err == nil && p.OrgID != caller.OrgID) {
		return Introspection{}, nil
	}
	if err != nil {
		return Introspection{}, err
	}
	out := Introspection{
		Active: true, Scope: p.Scopes.String(), TokenType: "Bearer", OrgID: p.OrgID,
		Role: p.Role.String(), Iss: a.tokens.Issuer,
	}
	if !p.ExpiresAt.IsZero() {
		out.Exp = p.ExpiresAt.Unix()
	}
	if p.Token == nil {
		out.CredentialType, out.Sub = "api_key", p.UserID
		return out, nil
	}
	// The token was verified when it was authenticated (or cached): its claims
	// come with the principal, so nothing is verified twice.
	t := p.Token
	out.CredentialType, out.ClientID, out.Sub, out.Aud, out.Jti = "access_token", p.ClientID, t.Subject, t.Audience, t.ID
	out.Iat = t.IssuedAt.Unix()
	if !t.NotBefore.IsZero() {
		out.Nbf = t.NotBefore.Unix()
	}
	return out, nil
}

// AppendJSON appends the answer as the JSON object RFC 7662 describes, with the
// fields of encoding/json and the json tags above, written by hand: a resource
// server introspects on every request it serves.
func (in Introspection) AppendJSON(b []byte) []byte {
	b = append(b, `{"active":`...)
	b = strconv.AppendBool(b, in.Active)
	b = appendStringField(b, "scope", in.Scope)
	b = appendStringField(b, "client_id", in.ClientID)
	b = appendStringField(b, "token_type", in.TokenType)
	b = appendIntField(b, "exp", in.Exp)
	b = appendIntField(b, "iat", in.Iat)
	b = appendIntField(b, "nbf", in.Nbf)
	b = appendStringField(b, "sub", in.Sub)
	if len(in.Aud) > 0 {
		b = append(b, `,"aud":[`...)
		for i, a := range in.Aud {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonw.AppendString(b, a)
		}
		b = append(b, ']')
	}
	b = appendStringField(b, "iss", in.Iss)
	b = appendStringField(b, "jti", in.Jti)
	b = appendStringField(b, "org_id", in.OrgID)
	b = appendStringField(b, "role", in.Role)
	b = appendStringField(b, "credential_type", in.CredentialType)
	return append(b, '}')
}

// appendStringField appends ,"name":"v" unless v is empty (omitempty).
func appendStringField(b []byte, name, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return jsonw.AppendString(b, v)
}

// appendIntField appends ,"name":v unless v is zero (omitempty).
func appendIntField(b []byte, name string, v int64) []byte {
	if v == 0 {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return strconv.AppendInt(b, v, 10)
}
