package auth

import (
	"context"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/pentographer/pentographer/store"
)

// Signing keys are changed by operators only (the command line), through the
// same door as every other change.

// EnsureSigningKey readies the signing keys at every start. It refuses to go on
// when a key is encrypted with a secret key that is not configured, or does not
// decrypt (the error names the kid and the secret key's id). With a secret key
// configured it encrypts the keys still stored unencrypted; without one it
// warns that they are. Then it creates a signing key when the store has none of
// the configured algorithm.
//
// Keys already encrypted with another configured secret key are left as they
// are: moving them to the first key is a deliberate step (ReencryptSigningKeys),
// taken once every server knows that key. Encrypting a key stored unencrypted
// needs no such care from servers that have the secret key.
func (s *Service) EnsureSigningKey(ctx context.Context) error {
	if err := s.keys.reload(ctx, true); err != nil {
		return err
	}
	if s.keys.secrets == nil {
		s.log.WarnContext(ctx, "signing keys are stored unencrypted in the database: whoever reads it, or a backup of it, "+
			"can sign access tokens; set PTG_SECRET_KEY or PTG_SECRET_KEY_FILE to a secret key "+
			"(make one with: pentographer secret-key generate)")
	} else {
		n, err := s.rewrapSigningKeys(ctx, func(r store.SigningKey) bool { return r.SecretKeyID == "" })
		if err != nil {
			return err
		}
		s.log.InfoContext(ctx, "signing keys are encrypted at rest", "secret_key_id", s.keys.secrets.PrimaryID())
		if n > 0 {
			s.log.InfoContext(ctx, "encrypted the signing keys that were stored unencrypted", "count", n,
				"secret_key_id", s.keys.secrets.PrimaryID())
		}
		if older := s.keys.encryptedWithOlderKeys(); older > 0 {
			s.log.InfoContext(ctx, "some signing keys are encrypted with another configured secret key than the first; "+
				"once every server knows the first one, run: pentographer signing-keys reencrypt", "count", older,
				"secret_key_id", s.keys.secrets.PrimaryID())
		}
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
	return kid, s.keys.reload(ctx, false)
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
		w.invalidate(Invalidation{All: true, SigningKeys: true})
		if target.RetiredAt == nil {
			newKID, err = s.insertSigningKey(w, ActionSigningKeyRotated)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	return newKID, s.keys.reload(ctx, false)
}

// ReencryptSigningKeys encrypts every signing key with the first configured
// secret key, in one transaction: keys encrypted with another configured key
// and keys stored unencrypted. The key pairs do not change, so tokens they
// signed still verify and the JWKS stays the same. Running servers keep the
// keys they hold and re-read the rows within the key refresh interval; a server
// that does not know the first secret key logs an error and keeps serving with
// what it holds. It reports how many keys it re-encrypted and the id of the
// secret key that now encrypts them all; a key that does not open fails it, and
// then nothing changes.
func (s *Service) ReencryptSigningKeys(ctx context.Context) (n int, keyID string, err error) {
	if s.keys.secrets == nil {
		return 0, "", errorf(KindInvalid, "no secret key is configured: set PTG_SECRET_KEY or PTG_SECRET_KEY_FILE "+
			"(the first key encrypts, the others are only read)")
	}
	n, err = s.rewrapSigningKeys(ctx, func(store.SigningKey) bool { return true })
	return n, s.keys.secrets.PrimaryID(), err
}

// rewrapSigningKeys encrypts the signing keys that want picks, and that the
// first secret key does not encrypt yet, with that key, in one transaction. It
// reports how many rows it changed.
func (s *Service) rewrapSigningKeys(ctx context.Context, want func(store.SigningKey) bool) (int, error) {
	secrets := s.keys.secrets
	var n int
	err := s.commit(ctx, "", store.LockShared, func(w *writeTx) error {
		n = 0
		recs, err := w.tx.ListSigningKeys(w.ctx)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if r.SecretKeyID == secrets.PrimaryID() || !want(r) {
				continue
			}
			der, err := secrets.open(r)
			if err != nil {
				return err
			}
			keyID, sealed, err := secrets.seal(r.ID, r.Alg, der)
			if err != nil {
				return err
			}
			// A row another process changed meanwhile is left to it.
			changed, err := w.tx.UpdateSigningKeyEncryption(w.ctx, r.ID, r.SecretKeyID, keyID, sealed)
			if err != nil {
				return err
			}
			if changed {
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, s.keys.reload(ctx, false)
}

// insertSigningKey makes a new signer of the configured algorithm in w, sealed
// with the first secret key, and retires the others. Every process must be able
// to read the new key where it reads the others, so it refuses while the store
// holds a key encrypted with a secret key this process does not have: an
// operator command run without the servers' secret key would otherwise store
// the new key unencrypted, or one run with a key the servers lack would store
// it where they cannot read it.
func (s *Service) insertSigningKey(w *writeTx, action string) (string, error) {
	recs, err := w.tx.ListSigningKeys(w.ctx)
	if err != nil {
		return "", err
	}
	for _, r := range recs {
		if r.SecretKeyID != "" && !s.keys.secrets.has(r.SecretKeyID) {
			return "", fmt.Errorf("refusing to make a signing key: %w", &SecretKeyError{KID: r.ID, KeyID: r.SecretKeyID, Configured: s.keys.secrets.IDs()})
		}
	}
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
	keyID, stored, err := s.keys.secrets.seal(kid, s.tokens.Alg, der)
	if err != nil {
		return "", err
	}
	rec := store.SigningKey{ID: kid, Alg: s.tokens.Alg, PrivateKey: stored, SecretKeyID: keyID, CreatedAt: w.now}
	if err := w.tx.InsertSigningKey(w.ctx, &rec); err != nil {
		return "", err
	}
	if err := w.tx.RetireSigningKeys(w.ctx, kid, w.now); err != nil {
		return "", err
	}
	w.invalidate(Invalidation{SigningKeys: true})
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
