package auth

import (
	"context"
	"crypto/x509"
	"time"

	"github.com/pentographer/pentographer/store"
)

// Signing keys are changed by operators only (the command line), through the
// same door as every other change.

// EnsureSigningKey creates the first signing key when the store has none of the
// configured algorithm. Called at every start.
func (s *Service) EnsureSigningKey(ctx context.Context) error {
	if err := s.keys.reload(ctx); err != nil {
		return err
	}
	if k, err := s.keys.signer(ctx); err == nil && k.alg == s.tokens.Alg {
		return nil
	}
	_, err := s.RotateSigningKey(ctx)
	return err
}

// RotateSigningKey makes a new key the signer and retires the others, which stay
// in the JWKS until their tokens have expired. It records the rotation in every
// organization's audit log.
func (s *Service) RotateSigningKey(ctx context.Context) (string, error) {
	var kid string
	err := s.commit(ctx, "", store.LockShared, func(w *writeTx) error {
		var err error
		kid, err = s.insertSigningKey(w, ActionSigningKeyRotated)
		return err
	})
	if err != nil {
		return "", err
	}
	return kid, s.keys.reload(ctx)
}

// RevokeSigningKey withdraws a leaked signing key: tokens it signed are refused
// and it leaves the JWKS at once on this replica, and on every other within the
// key refresh interval. When it was the signer, a new key takes over. It reports
// the new signer's kid, if one was made.
func (s *Service) RevokeSigningKey(ctx context.Context, kid string) (newKID string, err error) {
	err = s.commit(ctx, "", store.LockShared, func(w *writeTx) error {
		keys, err := w.tx.ListSigningKeys(w.ctx)
		if err != nil {
			return err
		}
		var target *store.SigningKey
		for i := range keys {
			if keys[i].ID == kid {
				target = &keys[i]
			}
		}
		switch {
		case target == nil:
			return invalidField("kid", "no signing key has the id %q", truncate(kid, 64))
		case target.RevokedAt != nil:
			return invalidField("kid", "signing key %s is revoked already", kid)
		}
		if _, err := w.tx.MarkSigningKeyRevoked(w.ctx, kid, w.now); err != nil {
			return err
		}
		if err := s.auditEveryOrganization(w, auditEntry{action: ActionSigningKeyRevoked,
			targetType: "signing_key", targetID: kid}); err != nil {
			return err
		}
		// Every cached access token may have been signed by it.
		w.invalidate(Invalidation{All: true})
		if target.RetiredAt == nil {
			newKID, err = s.insertSigningKey(w, ActionSigningKeyRotated)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	return newKID, s.keys.reload(ctx)
}

// insertSigningKey makes a new signer of the configured algorithm in w and
// retires the others.
func (s *Service) insertSigningKey(w *writeTx, action string) (string, error) {
	priv, err := generateKey(s.tokens.Alg)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", err
	}
	kid, err := randomBase62(22)
	if err != nil {
		return "", err
	}
	rec := store.SigningKey{ID: kid, Alg: s.tokens.Alg, PrivateKey: der, CreatedAt: w.now}
	if err := w.tx.InsertSigningKey(w.ctx, &rec); err != nil {
		return "", err
	}
	if err := w.tx.RetireSigningKeys(w.ctx, kid, w.now); err != nil {
		return "", err
	}
	// Forget keys whose last token has long expired.
	if err := w.tx.DeleteSigningKeysRetiredBefore(w.ctx, w.now.Add(-s.tokens.TTL-tokenLeeway-24*time.Hour)); err != nil {
		return "", err
	}
	return kid, s.auditEveryOrganization(w, auditEntry{action: action, targetType: "signing_key",
		targetID: kid, detail: "alg=" + s.tokens.Alg})
}

// auditEveryOrganization records e in every organization's audit log: signing
// keys serve them all.
func (s *Service) auditEveryOrganization(w *writeTx, e auditEntry) error {
	orgs, err := w.tx.ListOrganizationIDs(w.ctx)
	if err != nil {
		return err
	}
	for _, org := range orgs {
		e.orgID = org
		w.audit(e)
	}
	return nil
}

// JWKS returns the public keys that verify live tokens.
func (s *Service) JWKS(ctx context.Context) ([]JWK, error) { return s.keys.JWKS(ctx) }
