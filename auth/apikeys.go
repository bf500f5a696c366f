package auth

import (
	"context"
	"strconv"
	"time"

	"github.com/pentographer/pentographer/store"
)

// APIKey is a ptg_ key as the API shows it; the secret itself is never here.
type APIKey struct {
	ID         string
	OrgID      string
	Name       string
	Hint       string
	Scopes     Scopes
	Owner      User
	CreatedAt  time.Time
	ExpiresAt  *time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
	Status     CredentialStatus
}

func (s *Service) apiKeyFrom(r store.APIKey, owner User) APIKey {
	return APIKey{
		ID: r.ID, OrgID: r.OrgID, Name: r.Name, Hint: r.Hint, Scopes: ParseScopes(r.Scopes),
		Owner: owner, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt, LastUsedAt: r.LastUsedAt,
		RevokedAt: r.RevokedAt, Status: credentialStatus(s.clock(), r.ExpiresAt, r.RevokedAt),
	}
}

// CreateAPIKeyInput is what createApiKey takes.
type CreateAPIKeyInput struct {
	Name string
	// Scopes, when empty, default to every scope the caller holds.
	Scopes    []string
	ExpiresAt *time.Time
}

// CreatedAPIKey carries the only copy of a new key's secret.
type CreatedAPIKey struct {
	Key    APIKey
	Secret string
}

// CreateAPIKey makes a key owned by the caller in the caller's organization.
func (s *Service) CreateAPIKey(ctx context.Context, in CreateAPIKeyInput) (CreatedAPIKey, error) {
	p, err := require(ctx, ScopeKeysWrite, RoleMember)
	if err != nil {
		return CreatedAPIKey{}, err
	}
	var (
		rec    store.APIKey
		secret string
	)
	err = s.store.Tx(ctx, func(tx *store.Store) error {
		rec, secret, err = s.insertAPIKey(ctx, tx, p, in)
		return err
	})
	if err != nil {
		return CreatedAPIKey{}, err
	}
	owner, err := s.store.UserByID(ctx, p.UserID)
	if err != nil {
		return CreatedAPIKey{}, err
	}
	return CreatedAPIKey{Key: s.apiKeyFrom(rec, userFrom(owner)), Secret: secret}, nil
}

// insertAPIKey validates and inserts a key owned by p, with its audit entry, in tx.
func (s *Service) insertAPIKey(ctx context.Context, tx *store.Store, p *Principal, in CreateAPIKeyInput) (store.APIKey, string, error) {
	if err := validName("name", in.Name); err != nil {
		return store.APIKey{}, "", err
	}
	now := s.clock()
	exp, err := s.keyExpiry(p, in.ExpiresAt, now)
	if err != nil {
		return store.APIKey{}, "", err
	}
	in.ExpiresAt = exp
	scopes, err := s.grantableScopes(p, in.Scopes)
	if err != nil {
		return store.APIKey{}, "", err
	}
	secret, err := apiKeyFormat.generate()
	if err != nil {
		return store.APIKey{}, "", err
	}
	rec := store.APIKey{
		ID: newID(), OrgID: p.OrgID, UserID: p.UserID, Name: in.Name,
		Digest: Digest(secret), Hint: apiKeyFormat.hint(secret), Scopes: scopes.String(),
		CreatedAt: now, ExpiresAt: in.ExpiresAt,
	}
	if err := tx.InsertAPIKey(ctx, &rec); err != nil {
		return store.APIKey{}, "", err
	}
	err = s.record(ctx, tx, p, auditEntry{
		orgID: p.OrgID, action: ActionAPIKeyCreated, targetType: "api_key", targetID: rec.ID,
		detail: "name=" + quoteDetail(in.Name) + " scopes=" + rec.Scopes,
	})
	return rec, secret, err
}

// MaxKeyLifetime is the furthest in the future a key's expiry may be set.
const MaxKeyLifetime = 10 * 365 * 24 * time.Hour

// keyExpiry decides a new key's expiry: in the future, at most MaxKeyLifetime
// away, and never after the expiry of the credential creating it (a credential
// that expires cannot mint one that outlives it; without a request, the new key
// inherits that expiry).
func (s *Service) keyExpiry(p *Principal, requested *time.Time, now time.Time) (*time.Time, error) {
	if requested == nil {
		if p.ExpiresAt.IsZero() {
			return nil, nil
		}
		exp := p.ExpiresAt.UTC().Truncate(time.Microsecond)
		return &exp, nil
	}
	exp := requested.UTC().Truncate(time.Microsecond)
	switch {
	case !exp.After(now):
		return nil, invalidField("expiresAt", "expiresAt must be in the future")
	case exp.After(now.Add(MaxKeyLifetime)):
		return nil, invalidField("expiresAt", "expiresAt must be within 10 years; omit it for a key that does not expire")
	case !p.ExpiresAt.IsZero() && exp.After(p.ExpiresAt):
		return nil, invalidField("expiresAt", "expiresAt cannot be later than the expiry of the credential creating the key")
	}
	return &exp, nil
}

// RevokeAPIKey revokes a key the caller may manage. A key outside the caller's
// visibility is answered as not found. Revoking twice returns the revoked key.
func (s *Service) RevokeAPIKey(ctx context.Context, id string) (APIKey, error) {
	var rec store.APIKey
	err := s.manageCredential(ctx, ScopeKeysWrite, id,
		func(tx *store.Store, p *Principal) (string, error) {
			var err error
			rec, err = tx.APIKeyByID(ctx, p.OrgID, id)
			return rec.UserID, err
		},
		func(tx *store.Store, p *Principal) error {
			now := s.clock()
			changed, err := tx.MarkAPIKeyRevoked(ctx, p.OrgID, id, now)
			if err != nil || !changed {
				return err
			}
			rec.RevokedAt = &now
			return s.record(ctx, tx, p, auditEntry{
				orgID: p.OrgID, action: ActionAPIKeyRevoked, targetType: "api_key", targetID: id,
				detail: "name=" + quoteDetail(rec.Name),
			})
		})
	if err != nil {
		return APIKey{}, err
	}
	owner, err := s.store.UserByID(ctx, rec.UserID)
	if err != nil {
		return APIKey{}, err
	}
	return s.apiKeyFrom(rec, userFrom(owner)), nil
}

// ListAPIKeys pages through the caller's own keys or, for ADMIN and OWNER, all of
// the organization's.
func (s *Service) ListAPIKeys(ctx context.Context, vis Visibility, opts ListOptions) (Page[APIKey], error) {
	return listCredentials(ctx, s, ScopeKeysRead, vis, opts, s.store.ListAPIKeys,
		func(r store.APIKey) string { return r.UserID }, s.apiKeyFrom)
}

// quoteDetail renders user text for an audit detail, Go-quoted so that it cannot
// forge structure in the entry.
func quoteDetail(s string) string { return strconv.Quote(truncate(s, 400)) }
