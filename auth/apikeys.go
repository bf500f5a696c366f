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
	// Scopes, when nil, default to every scope the caller holds; an empty list
	// makes a key with no scopes (identity only).
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
	var (
		rec    store.APIKey
		secret string
		owner  User
	)
	err := s.write(ctx, writeOp{scope: ScopeKeysWrite, min: RoleMember}, func(w *writeTx) error {
		var err error
		rec, secret, err = s.insertAPIKey(w, w.actor, in)
		return err
	})
	if err == nil {
		owner, err = s.userByID(ctx, rec.UserID)
	}
	if err != nil {
		return CreatedAPIKey{}, err
	}
	return CreatedAPIKey{Key: s.apiKeyFrom(rec, owner), Secret: secret}, nil
}

// insertAPIKey validates and inserts, in w, a key owned by holder (the actor, or
// for an operator the person it is issued to), within holder's limits.
func (s *Service) insertAPIKey(w *writeTx, holder *Principal, in CreateAPIKeyInput) (store.APIKey, string, error) {
	if err := validName("name", in.Name); err != nil {
		return store.APIKey{}, "", err
	}
	exp, err := s.keyExpiry(holder, in.ExpiresAt, w.now)
	if err != nil {
		return store.APIKey{}, "", err
	}
	scopes, err := s.grantableScopes(holder, in.Scopes)
	if err != nil {
		return store.APIKey{}, "", err
	}
	if err := s.checkCreationLimits(w, holder, kindAPIKey); err != nil {
		return store.APIKey{}, "", err
	}
	secret, err := apiKeyFormat.generate()
	if err != nil {
		return store.APIKey{}, "", err
	}
	rec := store.APIKey{
		ID: newID(), OrgID: holder.OrgID, UserID: holder.UserID, Name: in.Name,
		Digest: Digest(secret), Hint: apiKeyFormat.hint(secret), Scopes: scopes.String(),
		CreatedAt: w.now, ExpiresAt: exp,
	}
	if err := w.tx.InsertAPIKey(w.ctx, &rec); err != nil {
		return store.APIKey{}, "", err
	}
	w.audit(auditEntry{
		orgID: holder.OrgID, action: ActionAPIKeyCreated, targetType: "api_key", targetID: rec.ID,
		detail: "name=" + quoteDetail(in.Name) + " scopes=" + rec.Scopes,
	})
	return rec, secret, nil
}

// MaxKeyLifetime is the furthest in the future a key's expiry may be set.
const MaxKeyLifetime = 10 * 365 * 24 * time.Hour

// keyExpiry decides a new key's expiry: in the future, at most MaxKeyLifetime
// away, and never after the expiry of the credential creating it (a credential
// that expires cannot mint one that outlives it; without a request, the new key
// inherits that expiry).
func (s *Service) keyExpiry(p *Principal, requested *time.Time, now time.Time) (*time.Time, error) {
	if requested == nil {
		if !p.expiring() {
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
	case p.expiring() && exp.After(p.ExpiresAt):
		return nil, invalidField("expiresAt", "expiresAt cannot be later than the expiry of the credential creating the key")
	}
	return &exp, nil
}

// RevokeAPIKey revokes a key the caller may manage. A key outside the caller's
// visibility is answered as not found. Revoking twice returns the revoked key.
func (s *Service) RevokeAPIKey(ctx context.Context, id string) (APIKey, error) {
	var rec store.APIKey
	err := s.manageCredential(ctx, ScopeKeysWrite, id,
		func(w *writeTx) (string, error) {
			var err error
			rec, err = w.tx.APIKeyByID(w.ctx, w.actor.OrgID, id)
			return rec.UserID, err
		},
		func(w *writeTx) error {
			changed, err := w.tx.MarkAPIKeyRevoked(w.ctx, w.actor.OrgID, id, w.now)
			if err != nil || !changed {
				return err
			}
			now := w.now
			rec.RevokedAt = &now
			w.audit(auditEntry{
				orgID: w.actor.OrgID, action: ActionAPIKeyRevoked, targetType: "api_key", targetID: id,
				detail: "name=" + quoteDetail(rec.Name),
			})
			return nil
		})
	if err != nil {
		return APIKey{}, err
	}
	owner, err := s.userByID(ctx, rec.UserID)
	if err != nil {
		return APIKey{}, err
	}
	return s.apiKeyFrom(rec, owner), nil
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
