package auth

import (
	"context"
	"time"
)

// Method says how a principal authenticated.
type Method string

// The authentication methods.
const (
	MethodAPIKey      Method = "API_KEY"
	MethodAccessToken Method = "ACCESS_TOKEN"
	MethodSession     Method = "SESSION"
	// MethodClientSecret is an OAuth client presenting its id and secret (at the
	// token, introspection and revocation endpoints only).
	MethodClientSecret Method = "CLIENT_SECRET"
	// MethodOperator is the command line working directly on the store.
	MethodOperator Method = "OPERATOR"
	// MethodPassword is a sign-in attempt with an email and password (in the
	// audit log; it authenticates nothing by itself).
	MethodPassword Method = "PASSWORD"
)

// Principal is an authenticated caller acting in one organization.
type Principal struct {
	UserID string
	OrgID  string
	// Role is the creator's current role in OrgID; a credential never acts above it.
	Role Role
	// Scopes are what this credential may do: its own scopes narrowed to those the
	// role may use.
	Scopes Scopes
	Method Method
	// CredentialID is the id of the API key, OAuth client or session used.
	CredentialID string
	// ClientID is the public ptgc_ id of an OAuth client or of a token's client.
	ClientID string
	// TokenID is the jti of an access token.
	TokenID string
	// ExpiresAt is when the credential stops working (zero: never).
	ExpiresAt time.Time
	// Token is what an access token says about itself (nil for other methods),
	// kept so that nothing needs to verify the token twice.
	Token *TokenInfo
}

// TokenInfo is the verified content of an access token.
type TokenInfo struct {
	ID        string // jti
	Subject   string
	Audience  []string
	Scope     string
	OrgID     string
	IssuedAt  time.Time
	NotBefore time.Time
	ExpiresAt time.Time
}

// expiring reports whether what the principal acts with is a credential that
// expires (a key with an expiry, an access token): it must not mint a credential
// that outlives it. A session is the person themselves, not a credential that
// could have leaked, so what they create is theirs to keep.
func (p *Principal) expiring() bool { return !p.ExpiresAt.IsZero() && p.Method != MethodSession }

// Can reports whether the principal holds scope.
func (p *Principal) Can(scope string) bool { return p != nil && p.Scopes.Has(scope) }

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the caller of ctx, or nil for an anonymous one.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// Channel names the door a request came in by; the audit log records it.
type Channel string

// The channels.
const (
	ChannelGraphQL Channel = "GRAPHQL"
	ChannelMCP     Channel = "MCP"
	ChannelOAuth   Channel = "OAUTH"
	ChannelWeb     Channel = "WEB"
	ChannelCLI     Channel = "CLI"
)

// RequestMeta is what the audit log records about where a request came from.
type RequestMeta struct {
	RequestID string
	Address   string
	UserAgent string
	Channel   Channel
}

type metaKey struct{}

// WithRequestMeta returns ctx carrying m.
func WithRequestMeta(ctx context.Context, m RequestMeta) context.Context {
	return context.WithValue(ctx, metaKey{}, m)
}

// WithChannel returns ctx whose request metadata names ch as the channel.
func WithChannel(ctx context.Context, ch Channel) context.Context {
	m := RequestMetaFrom(ctx)
	m.Channel = ch
	return WithRequestMeta(ctx, m)
}

// RequestMetaFrom returns the request metadata of ctx (zero when absent).
func RequestMetaFrom(ctx context.Context) RequestMeta {
	m, _ := ctx.Value(metaKey{}).(RequestMeta)
	return m
}
