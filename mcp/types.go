package mcp

import "time"

// The tools' inputs and outputs. Their JSON Schemas, announced in tools/list and
// enforced on every call, are inferred from these types; the jsonschema tags are
// the property descriptions an AI editor reads.

// Role is OWNER, ADMIN or MEMBER.
type Role string

// Status is ACTIVE, EXPIRED or REVOKED.
type Status string

// PageSize is the number of items a listing returns.
type PageSize int

// value is the page size to ask the service for (0: its default).
func (p *PageSize) value() int {
	if p == nil {
		return 0
	}
	if *p == 0 {
		return -1 // 0 is out of range, not "the default" (the service says so)
	}
	return int(*p)
}

// ListCredentialsInput is what list_api_keys and list_oauth_clients take.
type ListCredentialsInput struct {
	All            bool      `json:"all,omitempty" jsonschema:"true: every credential of the organization (OWNER and ADMIN only); false or absent: your own"`
	IncludeRevoked bool      `json:"include_revoked,omitempty" jsonschema:"true: also list revoked credentials"`
	First          *PageSize `json:"first,omitempty"`
	After          string    `json:"after,omitempty" jsonschema:"the end_cursor of the previous page, to get the next one"`
}

// PageInput is what list_members and read_audit_log take.
type PageInput struct {
	First *PageSize `json:"first,omitempty"`
	After string    `json:"after,omitempty" jsonschema:"the end_cursor of the previous page, to get the next one"`
}

// CreateAPIKeyInput is what create_api_key takes.
type CreateAPIKeyInput struct {
	Name      string   `json:"name" jsonschema:"what the key is for, 1 to 100 characters"`
	Scopes    []string `json:"scopes,omitempty" jsonschema:"the scopes to give the key, e.g. [\"keys:read\"]; absent: all the scopes you hold"`
	ExpiresAt string   `json:"expires_at,omitempty" jsonschema:"when the key stops working, an RFC 3339 time in the future, e.g. 2030-01-31T12:00:00Z; absent: never (or when your own credential expires)"`
}

// CreateOAuthClientInput is what create_oauth_client takes.
type CreateOAuthClientInput struct {
	Name   string   `json:"name" jsonschema:"what the client is for, 1 to 100 characters"`
	Scopes []string `json:"scopes,omitempty" jsonschema:"the scopes the client may request, e.g. [\"keys:read\"]; absent: all the scopes you hold"`
}

// IDInput names one credential by its id.
type IDInput struct {
	ID string `json:"id" jsonschema:"the credential's id, as listed"`
}

// User is a person.
type User struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

// Organization is a workspace.
type Organization struct {
	ID   string `json:"id"`
	Slug string `json:"slug"`
	Name string `json:"name"`
}

// WhoAmI is who a connection acts as.
type WhoAmI struct {
	User         User         `json:"user"`
	Organization Organization `json:"organization"`
	Role         Role         `json:"role" jsonschema:"your role here; a credential never acts above its creator's current role"`
	AuthMethod   string       `json:"auth_method" jsonschema:"API_KEY or ACCESS_TOKEN"`
	Scopes       []string     `json:"scopes" jsonschema:"what this credential may do"`
	CredentialID string       `json:"credential_id" jsonschema:"the id of the API key or OAuth client in use"`
	ExpiresAt    *time.Time   `json:"expires_at,omitempty" jsonschema:"when this credential stops working; absent: never"`
}

// APIKey is a ptg_ key; its secret is never here.
type APIKey struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Hint       string     `json:"hint" jsonschema:"display form of the key, e.g. ptg_AbCd…wXyZ"`
	Scopes     []string   `json:"scopes"`
	Owner      User       `json:"owner"`
	Status     Status     `json:"status"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// OAuthClient is a client; its secret is never here.
type OAuthClient struct {
	ID         string     `json:"id" jsonschema:"the id to revoke the client with"`
	Name       string     `json:"name"`
	ClientID   string     `json:"client_id" jsonschema:"the public ptgc_ client id"`
	SecretHint string     `json:"secret_hint" jsonschema:"display form of the secret, e.g. ptgs_AbCd…wXyZ"`
	Scopes     []string   `json:"scopes"`
	Owner      User       `json:"owner"`
	Status     Status     `json:"status"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// APIKeyList is one page of API keys.
type APIKeyList struct {
	APIKeys     []APIKey `json:"api_keys"`
	HasNextPage bool     `json:"has_next_page"`
	EndCursor   string   `json:"end_cursor,omitempty" jsonschema:"pass as after to get the next page"`
}

// OAuthClientList is one page of OAuth clients.
type OAuthClientList struct {
	OAuthClients []OAuthClient `json:"oauth_clients"`
	HasNextPage  bool          `json:"has_next_page"`
	EndCursor    string        `json:"end_cursor,omitempty" jsonschema:"pass as after to get the next page"`
}

// CreatedAPIKey carries the only copy of a new key's secret.
type CreatedAPIKey struct {
	APIKey APIKey `json:"api_key"`
	Secret string `json:"secret" jsonschema:"the key itself (ptg_…), shown only here, once"`
}

// CreatedOAuthClient carries the only copy of a new client's secret.
type CreatedOAuthClient struct {
	OAuthClient  OAuthClient `json:"oauth_client"`
	ClientID     string      `json:"client_id"`
	ClientSecret string      `json:"client_secret" jsonschema:"the client secret (ptgs_…), shown only here, once"`
}

// Member is a person's membership.
type Member struct {
	User     User      `json:"user"`
	Role     Role      `json:"role"`
	JoinedAt time.Time `json:"joined_at"`
}

// MemberList is one page of members.
type MemberList struct {
	Members     []Member `json:"members"`
	HasNextPage bool     `json:"has_next_page"`
	EndCursor   string   `json:"end_cursor,omitempty" jsonschema:"pass as after to get the next page"`
}

// AuditActor is who did something.
type AuditActor struct {
	UserID         string `json:"user_id,omitempty"`
	CredentialType string `json:"credential_type" jsonschema:"API_KEY, ACCESS_TOKEN, SESSION, CLIENT_SECRET or OPERATOR (the command line)"`
	CredentialID   string `json:"credential_id,omitempty"`
}

// AuditEvent is one audit log entry; it never holds a secret.
type AuditEvent struct {
	ID         string     `json:"id"`
	At         time.Time  `json:"at"`
	Action     string     `json:"action" jsonschema:"e.g. api_key.created, oauth_client.revoked, member.role_changed"`
	TargetType string     `json:"target_type"`
	TargetID   string     `json:"target_id"`
	Actor      AuditActor `json:"actor"`
	Via        string     `json:"via" jsonschema:"how the change came in: GRAPHQL, MCP, OAUTH, WEB or CLI"`
	Address    string     `json:"address"`
	UserAgent  string     `json:"user_agent"`
	Detail     string     `json:"detail"`
}

// AuditLog is one page of the audit log, newest first.
type AuditLog struct {
	Events      []AuditEvent `json:"events"`
	HasNextPage bool         `json:"has_next_page"`
	EndCursor   string       `json:"end_cursor,omitempty" jsonschema:"pass as after to get the next page"`
}
