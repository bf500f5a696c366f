package auth

import (
	"context"
	"time"

	"github.com/pentographer/pentographer/store"
)

// Audit actions of OAuth clients and tokens.
const (
	ActionOAuthClientCreated       = "oauth_client.created"
	ActionOAuthClientRevoked       = "oauth_client.revoked"
	ActionOAuthClientSecretRotated = "oauth_client.secret_rotated"
	ActionAccessTokenRevoked       = "access_token.revoked"
	ActionSigningKeyRotated        = "signing_key.rotated"
	ActionSigningKeyRevoked        = "signing_key.revoked"
)

// OAuthClient is a client as the API shows it; its secret is never here.
type OAuthClient struct {
	ID         string
	OrgID      string
	Name       string
	ClientID   string
	SecretHint string
	Scopes     Scopes
	Owner      User
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
	Status     CredentialStatus
}

func (s *Service) oauthClientFrom(r store.OAuthClient, owner User) OAuthClient {
	return OAuthClient{
		ID: r.ID, OrgID: r.OrgID, Name: r.Name, ClientID: r.ClientID, SecretHint: r.SecretHint,
		Scopes: ParseScopes(r.Scopes), Owner: owner, CreatedAt: r.CreatedAt, LastUsedAt: r.LastUsedAt,
		RevokedAt: r.RevokedAt, Status: credentialStatus(s.clock(), nil, r.RevokedAt),
	}
}

// CreateOAuthClientInput is what createOAuthClient takes.
type CreateOAuthClientInput struct {
	Name string
	// Scopes, when nil, default to every scope the caller holds; an empty list
	// makes a client with no scopes.
	Scopes []string
}

// OAuthClientWithSecret carries the only copy of a client's (new) secret.
type OAuthClientWithSecret struct {
	Client       OAuthClient
	ClientSecret string
}

// newClientSecret returns a secret with its digest and display hint.
func newClientSecret() (secret string, digest []byte, hint string, err error) {
	secret, err = clientSecretFormat.generate()
	if err != nil {
		return "", nil, "", err
	}
	return secret, Digest(secret), clientSecretFormat.hint(secret), nil
}

// CreateOAuthClient registers a client owned by the caller. Scopes follow the
// same rules as API keys.
func (s *Service) CreateOAuthClient(ctx context.Context, in CreateOAuthClientInput) (OAuthClientWithSecret, error) {
	var (
		rec    store.OAuthClient
		secret string
	)
	err := s.write(ctx, writeOp{scope: ScopeClientsWrite, min: RoleMember}, func(w *writeTx) error {
		p := w.actor
		if err := cannotOutlive(p); err != nil {
			return err
		}
		if err := validName("name", in.Name); err != nil {
			return err
		}
		scopes, err := s.grantableScopes(p, in.Scopes)
		if err != nil {
			return err
		}
		if err := s.checkCreationLimits(w, p, kindOAuthClient); err != nil {
			return err
		}
		clientID, err := clientIDFormat.generate()
		if err != nil {
			return err
		}
		var digest []byte
		var hint string
		if secret, digest, hint, err = newClientSecret(); err != nil {
			return err
		}
		rec = store.OAuthClient{
			ID: newID(), OrgID: p.OrgID, UserID: p.UserID, Name: in.Name, ClientID: clientID,
			SecretDigest: digest, SecretHint: hint, Scopes: scopes.String(), CreatedAt: w.now,
		}
		if err := w.tx.InsertOAuthClient(w.ctx, &rec); err != nil {
			return err
		}
		w.audit(auditEntry{
			orgID: p.OrgID, action: ActionOAuthClientCreated, targetType: "oauth_client", targetID: rec.ID,
			detail: "name=" + quoteDetail(in.Name) + " client_id=" + clientID + " scopes=" + rec.Scopes,
		})
		return nil
	})
	if err != nil {
		return OAuthClientWithSecret{}, err
	}
	return s.withOwner(ctx, rec, secret)
}

func (s *Service) withOwner(ctx context.Context, rec store.OAuthClient, secret string) (OAuthClientWithSecret, error) {
	owner, err := s.userByID(ctx, rec.UserID)
	if err != nil {
		return OAuthClientWithSecret{}, err
	}
	return OAuthClientWithSecret{Client: s.oauthClientFrom(rec, owner), ClientSecret: secret}, nil
}

// cannotOutlive refuses to hand a non-expiring client secret to a caller whose
// own credential expires: it could otherwise mint itself a lasting one.
func cannotOutlive(p *Principal) error {
	if p.expiring() {
		return errorf(KindForbidden, "a credential that expires cannot create or rotate OAuth client secrets, which do not")
	}
	return nil
}

// loadClient returns a manageCredential loader for the client with this id.
func loadClient(id string, rec *store.OAuthClient) func(*writeTx) (string, error) {
	return func(w *writeTx) (string, error) {
		var err error
		*rec, err = w.tx.OAuthClientByID(w.ctx, w.actor.OrgID, id)
		return rec.UserID, err
	}
}

// RevokeOAuthClient revokes a client the caller may manage; its secret and every
// access token it holds stop working on the next request.
func (s *Service) RevokeOAuthClient(ctx context.Context, id string) (OAuthClient, error) {
	var rec store.OAuthClient
	err := s.manageCredential(ctx, ScopeClientsWrite, id, loadClient(id, &rec),
		func(w *writeTx) error {
			changed, err := w.tx.MarkOAuthClientRevoked(w.ctx, w.actor.OrgID, id, w.now)
			if err != nil || !changed {
				return err
			}
			now := w.now
			rec.RevokedAt = &now
			w.audit(auditEntry{
				orgID: w.actor.OrgID, action: ActionOAuthClientRevoked, targetType: "oauth_client", targetID: id,
				detail: "name=" + quoteDetail(rec.Name) + " client_id=" + rec.ClientID,
			})
			return nil
		})
	if err != nil {
		return OAuthClient{}, err
	}
	c, err := s.withOwner(ctx, rec, "")
	return c.Client, err
}

// RotateOAuthClientSecret gives an active client of the caller's own a new
// secret; the old one stops working at once. Access tokens already issued stay
// valid until they expire.
func (s *Service) RotateOAuthClientSecret(ctx context.Context, id string) (OAuthClientWithSecret, error) {
	var (
		rec    store.OAuthClient
		secret string
	)
	err := s.manageCredential(ctx, ScopeClientsWrite, id, loadClient(id, &rec),
		func(w *writeTx) error {
			p := w.actor
			// The new secret acts as the client's creator: handing it to anyone
			// else (even an ADMIN who may manage the client) would let them act
			// as that person. Others may revoke the client instead.
			if rec.UserID != p.UserID {
				return errorf(KindForbidden, "only the client's creator can rotate its secret; revoke the client instead")
			}
			if err := cannotOutlive(p); err != nil {
				return err
			}
			if rec.RevokedAt != nil {
				return invalidField("id", "a revoked client cannot get a new secret")
			}
			var (
				digest []byte
				hint   string
				err    error
			)
			if secret, digest, hint, err = newClientSecret(); err != nil {
				return err
			}
			if err := w.tx.UpdateOAuthClientSecret(w.ctx, p.OrgID, id, digest, hint, w.now); err != nil {
				return err
			}
			now := w.now
			rec.SecretDigest, rec.SecretHint, rec.SecretRotatedAt = digest, hint, &now
			w.audit(auditEntry{
				orgID: p.OrgID, action: ActionOAuthClientSecretRotated, targetType: "oauth_client", targetID: id,
				detail: "name=" + quoteDetail(rec.Name) + " client_id=" + rec.ClientID,
			})
			return nil
		})
	if err != nil {
		return OAuthClientWithSecret{}, err
	}
	return s.withOwner(ctx, rec, secret)
}

// ListOAuthClients pages through the caller's own clients or, for ADMIN and
// OWNER, all of the organization's.
func (s *Service) ListOAuthClients(ctx context.Context, vis Visibility, opts ListOptions) (Page[OAuthClient], error) {
	return listCredentials(ctx, s, ScopeClientsRead, vis, opts, s.store.ListOAuthClients,
		func(r store.OAuthClient) string { return r.UserID }, s.oauthClientFrom)
}
