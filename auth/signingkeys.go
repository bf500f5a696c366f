package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pentographer/pentographer/store"
)

// SigningAlgs are the JWS algorithms access tokens may be signed with.
var SigningAlgs = []string{"ES256", "ES384", "RS256"}

// DefaultKeyRefresh is how often the key ring is re-read from the store, so that
// signing picks up a rotation made by another process within that time. An
// unknown kid triggers a re-read at once, at most every keyRetry.
const (
	DefaultKeyRefresh = 5 * time.Second
	keyRetry          = time.Second
)

// signingKey is a usable key pair.
type signingKey struct {
	kid       string
	alg       string
	method    jwt.SigningMethod
	private   crypto.Signer
	createdAt time.Time
	retiredAt *time.Time
}

// keyring caches the store's signing keys. All replicas read the same keys.
type keyring struct {
	mu       sync.Mutex
	keys     []signingKey // newest first
	loadedAt time.Time
	tried    time.Time
}

func methodFor(alg string) (jwt.SigningMethod, error) {
	switch alg {
	case "ES256":
		return jwt.SigningMethodES256, nil
	case "ES384":
		return jwt.SigningMethodES384, nil
	case "RS256":
		return jwt.SigningMethodRS256, nil
	}
	return nil, fmt.Errorf("unsupported signing algorithm %q (want one of %v)", alg, SigningAlgs)
}

func generateKey(alg string) (crypto.Signer, error) {
	switch alg {
	case "ES256":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "RS256":
		return rsa.GenerateKey(rand.Reader, 3072)
	}
	return nil, fmt.Errorf("unsupported signing algorithm %q", alg)
}

func parseSigningKey(r store.SigningKey) (signingKey, error) {
	method, err := methodFor(r.Alg)
	if err != nil {
		return signingKey{}, err
	}
	priv, err := x509.ParsePKCS8PrivateKey(r.PrivateKey)
	if err != nil {
		return signingKey{}, fmt.Errorf("signing key %s: %w", r.ID, err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return signingKey{}, fmt.Errorf("signing key %s is not a signer", r.ID)
	}
	return signingKey{kid: r.ID, alg: r.Alg, method: method, private: signer, createdAt: r.CreatedAt, retiredAt: r.RetiredAt}, nil
}

// reloadKeys re-reads the key ring from the store.
func (s *Service) reloadKeys(ctx context.Context) error {
	recs, err := s.store.ListSigningKeys(ctx)
	if err != nil {
		return err
	}
	keys := make([]signingKey, 0, len(recs))
	for _, r := range recs {
		k, err := parseSigningKey(r)
		if err != nil {
			s.log.WarnContext(ctx, "skipping unusable signing key", "kid", r.ID, "error", err)
			continue
		}
		keys = append(keys, k)
	}
	s.keys.mu.Lock()
	s.keys.keys, s.keys.loadedAt, s.keys.tried = keys, s.clock(), s.clock()
	s.keys.mu.Unlock()
	return nil
}

// currentKeys returns the key ring, re-reading it when older than keyRefresh.
func (s *Service) currentKeys(ctx context.Context) ([]signingKey, error) {
	s.keys.mu.Lock()
	stale := s.clock().Sub(s.keys.loadedAt) >= s.keyRefresh
	keys := s.keys.keys
	if stale && len(keys) > 0 {
		// One caller refreshes; the others keep using the current ring meanwhile.
		s.keys.loadedAt = s.clock()
	}
	s.keys.mu.Unlock()
	if !stale {
		return keys, nil
	}
	if err := s.reloadKeys(ctx); err != nil {
		if len(keys) > 0 {
			s.log.WarnContext(ctx, "signing keys could not be refreshed; using the cached ones", "error", err)
			return keys, nil
		}
		return nil, err
	}
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	return s.keys.keys, nil
}

// signer is the newest key that is not retired.
func (s *Service) signer(ctx context.Context) (signingKey, error) {
	keys, err := s.currentKeys(ctx)
	if err != nil {
		return signingKey{}, err
	}
	for _, k := range keys {
		if k.retiredAt == nil {
			return k, nil
		}
	}
	return signingKey{}, errors.New("auth: no active signing key; run pentographer signing-keys rotate")
}

// verificationKey finds a published key by kid, re-reading the ring once when the
// kid is unknown (a key another replica or the command line just made).
func (s *Service) verificationKey(ctx context.Context, kid string) (signingKey, bool) {
	find := func(keys []signingKey) (signingKey, bool) {
		for _, k := range keys {
			if k.kid == kid && s.published(k) {
				return k, true
			}
		}
		return signingKey{}, false
	}
	keys, err := s.currentKeys(ctx)
	if err == nil {
		if k, ok := find(keys); ok {
			return k, true
		}
	}
	s.keys.mu.Lock()
	retry := s.clock().Sub(s.keys.tried) >= keyRetry
	if retry {
		s.keys.tried = s.clock()
	}
	s.keys.mu.Unlock()
	if !retry || s.reloadKeys(ctx) != nil {
		return signingKey{}, false
	}
	s.keys.mu.Lock()
	keys = s.keys.keys
	s.keys.mu.Unlock()
	return find(keys)
}

// published reports whether k's tokens may still be alive: active keys, and
// retired ones until every token they signed has expired (plus the leeway).
func (s *Service) published(k signingKey) bool {
	return k.retiredAt == nil || s.clock().Before(k.retiredAt.Add(s.tokens.TTL+tokenLeeway))
}

// EnsureSigningKey creates the first signing key when the store has none of the
// configured algorithm. Called at every start.
func (s *Service) EnsureSigningKey(ctx context.Context) error {
	if err := s.reloadKeys(ctx); err != nil {
		return err
	}
	if k, err := s.signer(ctx); err == nil && k.alg == s.tokens.Alg {
		return nil
	}
	_, err := s.RotateSigningKey(ctx)
	return err
}

// RotateSigningKey makes a new key the signer and retires the others, which stay
// in the JWKS until their tokens have expired. It records the rotation in every
// organization's audit log.
func (s *Service) RotateSigningKey(ctx context.Context) (string, error) {
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
	now := s.clock()
	rec := store.SigningKey{ID: kid, Alg: s.tokens.Alg, PrivateKey: der, CreatedAt: now}
	operator := &Principal{Method: MethodOperator, Role: RoleOwner}
	err = s.store.Tx(ctx, func(tx *store.Store) error {
		if err := tx.InsertSigningKey(ctx, &rec); err != nil {
			return err
		}
		if err := tx.RetireSigningKeys(ctx, kid, now); err != nil {
			return err
		}
		// Forget keys whose last token has long expired.
		if err := tx.DeleteSigningKeysRetiredBefore(ctx, now.Add(-s.tokens.TTL-tokenLeeway-24*time.Hour)); err != nil {
			return err
		}
		orgs, err := tx.ListOrganizationIDs(ctx)
		if err != nil {
			return err
		}
		for _, org := range orgs {
			if err := s.record(ctx, tx, operator, auditEntry{orgID: org, action: ActionSigningKeyRotated,
				targetType: "signing_key", targetID: kid, detail: "alg=" + s.tokens.Alg}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return kid, s.reloadKeys(ctx)
}

// JWK is one public key of the JWKS (RFC 7517).
type JWK struct {
	KeyType   string `json:"kty"`
	Use       string `json:"use"`
	KeyID     string `json:"kid"`
	Algorithm string `json:"alg"`
	Curve     string `json:"crv,omitempty"`
	X         string `json:"x,omitempty"`
	Y         string `json:"y,omitempty"`
	N         string `json:"n,omitempty"`
	E         string `json:"e,omitempty"`
}

// JWKS returns the public keys that verify live tokens: the signer and retired
// keys whose tokens may not have expired yet.
func (s *Service) JWKS(ctx context.Context) ([]JWK, error) {
	keys, err := s.currentKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]JWK, 0, len(keys))
	for _, k := range keys {
		if !s.published(k) {
			continue
		}
		jwk := JWK{Use: "sig", KeyID: k.kid, Algorithm: k.alg}
		b64 := base64.RawURLEncoding.EncodeToString
		switch pub := k.private.Public().(type) {
		case *ecdsa.PublicKey:
			point, err := pub.Bytes() // 0x04 || X || Y, fixed width
			if err != nil {
				return nil, err
			}
			size := (len(point) - 1) / 2
			jwk.KeyType, jwk.Curve = "EC", pub.Curve.Params().Name
			jwk.X, jwk.Y = b64(point[1:1+size]), b64(point[1+size:])
		case *rsa.PublicKey:
			jwk.KeyType = "RSA"
			jwk.N, jwk.E = b64(pub.N.Bytes()), b64(big.NewInt(int64(pub.E)).Bytes())
		default:
			continue
		}
		out = append(out, jwk)
	}
	return out, nil
}
