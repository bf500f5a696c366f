package store

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// InsertOAuthClient stores a new OAuth client.
func (s *Store) InsertOAuthClient(ctx context.Context, c *OAuthClient) error {
	return insert(ctx, s, "insert oauth client", c)
}

// OAuthClientByID returns an organization's OAuth client by record id.
func (s *Store) OAuthClientByID(ctx context.Context, orgID, id string) (OAuthClient, error) {
	return first[OAuthClient](ctx, s, "oauth client by id", "org_id = ? AND id = ?", orgID, id)
}

// ListOAuthClients pages through the clients the filter selects.
func (s *Store) ListOAuthClients(ctx context.Context, f CredentialFilter) ([]OAuthClient, bool, error) {
	var cs []OAuthClient
	if err := f.where(s.conn(ctx)).Find(&cs).Error; err != nil {
		return nil, false, wrap("list oauth clients", err)
	}
	cs, more := trim(cs, f.Page)
	return cs, more, nil
}

// MarkOAuthClientRevoked sets revoked_at on a client not yet revoked and reports
// whether a row changed.
func (s *Store) MarkOAuthClientRevoked(ctx context.Context, orgID, id string, at time.Time) (bool, error) {
	res := s.conn(ctx).Model(&OAuthClient{}).
		Where("org_id = ? AND id = ? AND revoked_at IS NULL", orgID, id).
		Update("revoked_at", at)
	return res.RowsAffected > 0, wrap("mark oauth client revoked", res.Error)
}

// UpdateOAuthClientSecret replaces an active client's secret digest and hint.
func (s *Store) UpdateOAuthClientSecret(ctx context.Context, orgID, id string, digest []byte, hint string, at time.Time) error {
	res := s.conn(ctx).Model(&OAuthClient{}).
		Where("org_id = ? AND id = ? AND revoked_at IS NULL", orgID, id).
		Updates(map[string]any{"secret_digest": digest, "secret_hint": hint, "secret_rotated_at": at})
	if res.Error == nil && res.RowsAffected == 0 {
		return wrap("update oauth client secret", ErrNotFound)
	}
	return wrap("update oauth client secret", res.Error)
}

// ClientCredential is what the token endpoint and token verification need about
// a client: the client and its creator's current role ("" when they left).
type ClientCredential struct {
	ID           string
	OrgID        string
	UserID       string
	ClientID     string
	SecretDigest []byte
	Scopes       string
	RevokedAt    *time.Time
	LastUsedAt   *time.Time
	Role         string
}

// clientCredentialQuery selects a client with its creator's current role; the
// caller adds the WHERE clause.
const clientCredentialQuery = `SELECT c.id, c.org_id, c.user_id, c.client_id, c.secret_digest, c.scopes,
		c.revoked_at, c.last_used_at, COALESCE(m.role, '') AS role
		FROM oauth_clients c LEFT JOIN memberships m ON m.org_id = c.org_id AND m.user_id = c.user_id
		WHERE `

// OAuthClientCredential finds a client by its public client id, with its
// creator's role, in one indexed query (for verifying access tokens, whose client
// id is already authenticated by the signature).
func (s *Store) OAuthClientCredential(ctx context.Context, clientID string) (ClientCredential, error) {
	return scanOne[ClientCredential](ctx, s, "oauth client by client id", clientCredentialQuery+"c.client_id = ?", clientID)
}

// OAuthClientCredentialByID finds a client by record id with its creator's role
// (to admit a client or its token again inside a change).
func (s *Store) OAuthClientCredentialByID(ctx context.Context, id string) (ClientCredential, error) {
	return scanOne[ClientCredential](ctx, s, "oauth client by id", clientCredentialQuery+"c.id = ?", id)
}

// ClientAuth is what client authentication needs to decide.
type ClientAuth struct {
	ID           string
	OrgID        string
	UserID       string
	ClientID     string
	SecretDigest []byte
	Scopes       string
	Revoked      bool
	// RecentlyUsed: last_used_at is at or after the time the caller passed.
	RecentlyUsed bool
	Role         string
}

// ClientAuthentication looks a client up for authentication, where an unknown
// id must cost the same as a known one: the query always yields exactly one row,
// the client's or a placeholder (found = 0) scanned the same way. An unknown id
// is then ErrNotFound.
func (s *Store) ClientAuthentication(ctx context.Context, clientID string, usedSince time.Time) (ClientAuth, error) {
	var row struct {
		Found int
		ClientAuth
	}
	res := s.conn(ctx).Raw(`SELECT found, id, org_id, user_id, client_id, secret_digest, scopes, revoked, recently_used, role FROM (
		SELECT 1 AS found, c.id, c.org_id, c.user_id, c.client_id, c.secret_digest, c.scopes,
			CASE WHEN c.revoked_at IS NULL THEN 0 ELSE 1 END AS revoked,
			CASE WHEN c.last_used_at >= ? THEN 1 ELSE 0 END AS recently_used,
			COALESCE(m.role, '') AS role
		FROM oauth_clients c LEFT JOIN memberships m ON m.org_id = c.org_id AND m.user_id = c.user_id
		WHERE c.client_id = ?
		UNION ALL
		SELECT 0, ?, ?, ?, ?, ?, ?, 0, 0, 'MEMBER'
	) candidates ORDER BY found DESC LIMIT 1`, usedSince, clientID,
		placeholderID, placeholderID, placeholderID, clientID, placeholderDigest, placeholderScopes).Scan(&row)
	if res.Error == nil && row.Found == 0 {
		return row.ClientAuth, wrap("client authentication", ErrNotFound)
	}
	return row.ClientAuth, wrap("client authentication", res.Error)
}

// The placeholder row is shaped like a real one (same lengths), so scanning it
// costs the same.
var (
	placeholderID     = "00000000-0000-7000-8000-000000000000"
	placeholderDigest = make([]byte, 32)
	placeholderScopes = "audit:read clients:read clients:write keys:read keys:write members:read members:write"
)

// TouchOAuthClient records a use of the client, at most once per interval.
func (s *Store) TouchOAuthClient(ctx context.Context, id string, at time.Time, interval time.Duration) error {
	err := s.conn(ctx).Model(&OAuthClient{}).
		Where("id = ? AND (last_used_at IS NULL OR last_used_at < ?)", id, at.Add(-interval)).
		Update("last_used_at", at).Error
	return wrap("touch oauth client", err)
}

// InsertSigningKey stores a new signing key.
func (s *Store) InsertSigningKey(ctx context.Context, k *SigningKey) error {
	return insert(ctx, s, "insert signing key", k)
}

// ListSigningKeys returns every signing key, newest first.
func (s *Store) ListSigningKeys(ctx context.Context) ([]SigningKey, error) {
	var ks []SigningKey
	err := s.conn(ctx).Order("created_at DESC, id DESC").Find(&ks).Error
	return ks, wrap("list signing keys", err)
}

// MarkSigningKeyRevoked withdraws a signing key (leaked): it is retired and
// revoked, so it neither signs nor verifies. It reports whether a row changed.
func (s *Store) MarkSigningKeyRevoked(ctx context.Context, kid string, at time.Time) (bool, error) {
	res := s.conn(ctx).Model(&SigningKey{}).Where("id = ? AND revoked_at IS NULL", kid).
		Updates(map[string]any{"revoked_at": at, "retired_at": gorm.Expr("COALESCE(retired_at, ?)", at)})
	return res.RowsAffected > 0, wrap("mark signing key revoked", res.Error)
}

// RetireSigningKeys marks every active key but keepID as retired.
func (s *Store) RetireSigningKeys(ctx context.Context, keepID string, at time.Time) error {
	err := s.conn(ctx).Model(&SigningKey{}).
		Where("id <> ? AND retired_at IS NULL", keepID).
		Update("retired_at", at).Error
	return wrap("retire signing keys", err)
}

// DeleteSigningKeysRetiredBefore removes keys retired before cutoff.
func (s *Store) DeleteSigningKeysRetiredBefore(ctx context.Context, cutoff time.Time) error {
	err := s.conn(ctx).Where("retired_at IS NOT NULL AND retired_at < ?", cutoff).Delete(&SigningKey{}).Error
	return wrap("delete retired signing keys", err)
}

// ListOrganizationIDs returns the id of every organization.
func (s *Store) ListOrganizationIDs(ctx context.Context) ([]string, error) {
	var ids []string
	err := s.conn(ctx).Model(&Organization{}).Order("id").Pluck("id", &ids).Error
	return ids, wrap("list organization ids", err)
}

// InsertRevokedToken denies a jti; denying it twice is not an error.
func (s *Store) InsertRevokedToken(ctx context.Context, t *RevokedToken) (inserted bool, err error) {
	res := s.conn(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(t)
	return res.RowsAffected == 1, wrap("insert revoked token", res.Error)
}

// TokenRevoked reports whether the jti is denied.
func (s *Store) TokenRevoked(ctx context.Context, jti string) (bool, error) {
	var n int64
	err := s.conn(ctx).Model(&RevokedToken{}).Where("jti = ?", jti).Count(&n).Error
	return n > 0, wrap("token revoked", err)
}

// DeleteRevokedTokensExpiredBefore forgets denials of tokens that have expired.
func (s *Store) DeleteRevokedTokensExpiredBefore(ctx context.Context, cutoff time.Time) error {
	err := s.conn(ctx).Where("expires_at < ?", cutoff).Delete(&RevokedToken{}).Error
	return wrap("delete expired revoked tokens", err)
}
