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
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/big"
	"slices"
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
	kid    string
	alg    string
	method jwt.SigningMethod
	// encodedHeader is the base64url JWS header of the tokens it signs.
	encodedHeader string
	private       crypto.Signer
	createdAt     time.Time
	retiredAt     *time.Time
	revokedAt     *time.Time
	// secretKeyID names the secret key its row is encrypted with ("": none).
	secretKeyID string
}

// Keyring caches the store's signing keys; all replicas read the same keys. It
// answers which key signs and which keys verify, re-reading the store every
// refresh interval and at once (at most every keyRetry) for an unknown kid.
type Keyring struct {
	store   *store.Store
	secrets *SecretKeys   // nil: keys are stored unencrypted
	ttl     time.Duration // access token lifetime: how long a retired key stays published
	refresh time.Duration
	now     func() time.Time
	log     *slog.Logger

	mu       sync.Mutex
	keys     []signingKey // newest first
	loadedAt time.Time
	tried    time.Time
	// unreadable is what the last re-read could not decrypt (nil: nothing);
	// reported holds the kids already logged, so each is logged once.
	unreadable error
	reported   map[string]bool
}

func newKeyring(st *store.Store, o Options) *Keyring {
	return &Keyring{store: st, secrets: o.SecretKeys, ttl: o.Tokens.TTL, refresh: o.KeyRefresh, now: o.Now, log: o.Logger,
		reported: map[string]bool{}}
}

func (k *Keyring) clock() time.Time { return k.now().UTC() }

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

// parseSigningKey opens a row with the configured secret keys (a
// *SecretKeyError when they cannot) and parses its key.
func (k *Keyring) parseSigningKey(r store.SigningKey) (signingKey, error) {
	method, err := methodFor(r.Alg)
	if err != nil {
		return signingKey{}, err
	}
	der, err := k.secrets.open(r)
	if err != nil {
		return signingKey{}, err
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return signingKey{}, fmt.Errorf("signing key %s: %w", r.ID, err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return signingKey{}, fmt.Errorf("signing key %s is not a signer", r.ID)
	}
	header, err := json.Marshal(map[string]string{"alg": r.Alg, "kid": r.ID, "typ": "at+jwt"})
	if err != nil {
		return signingKey{}, err
	}
	return signingKey{kid: r.ID, alg: r.Alg, method: method, private: signer, createdAt: r.CreatedAt,
		encodedHeader: base64.RawURLEncoding.EncodeToString(header),
		retiredAt:     r.RetiredAt, revokedAt: r.RevokedAt, secretKeyID: r.SecretKeyID}, nil
}

// reload re-reads the key ring from the store. A row the configured secret keys
// cannot open (a *SecretKeyError: its secret key is not configured, or it was
// altered) fails a strict reload, which changes nothing: the server refuses to
// start. A lenient reload, the re-read of a running server, keeps the key it
// already holds under that kid with the row's current state (so a retirement or
// a revocation still takes effect), leaves out a key it never held, and logs an
// error once per kid: the server keeps serving with what it has. A row that is
// unusable for another reason (an algorithm this build does not know) is
// skipped with a warning either way.
func (k *Keyring) reload(ctx context.Context, strict bool) error {
	recs, err := k.store.ListSigningKeys(ctx)
	if err != nil {
		return err
	}
	k.mu.Lock()
	held := k.keys
	k.mu.Unlock()
	keys := make([]signingKey, 0, len(recs))
	var unreadable []error
	var failed []*SecretKeyError
	for _, r := range recs {
		key, err := k.parseSigningKey(r)
		var sk *SecretKeyError
		switch {
		case err == nil:
			keys = append(keys, key)
		case errors.As(err, &sk):
			unreadable = append(unreadable, err)
			failed = append(failed, sk)
			if i := slices.IndexFunc(held, func(h signingKey) bool { return h.kid == r.ID }); i >= 0 {
				key := held[i]
				key.retiredAt, key.revokedAt = r.RetiredAt, r.RevokedAt
				keys = append(keys, key)
			}
		default:
			k.log.WarnContext(ctx, "skipping unusable signing key", "kid", r.ID, "error", err)
		}
	}
	if strict && len(unreadable) > 0 {
		return errors.Join(unreadable...)
	}
	now := k.clock()
	k.mu.Lock()
	k.keys, k.loadedAt, k.tried, k.unreadable = keys, now, now, errors.Join(unreadable...)
	seen := map[string]bool{}
	for _, sk := range failed {
		seen[sk.KID] = true
		if !k.reported[sk.KID] {
			k.reported[sk.KID] = true
			k.log.ErrorContext(ctx, "a signing key cannot be decrypted with the configured secret keys; serving with the keys already loaded",
				"kid", sk.KID, "secret_key_id", sk.KeyID, "error", sk.Error())
		}
	}
	maps.DeleteFunc(k.reported, func(kid string, _ bool) bool { return !seen[kid] })
	k.mu.Unlock()
	return nil
}

// encryptedWithOlderKeys counts the held keys encrypted with a configured
// secret key other than the first.
func (k *Keyring) encryptedWithOlderKeys() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := 0
	for _, key := range k.keys {
		if key.secretKeyID != "" && key.secretKeyID != k.secrets.PrimaryID() {
			n++
		}
	}
	return n
}

// current returns the key ring, re-reading it when older than the refresh
// interval.
func (k *Keyring) current(ctx context.Context) ([]signingKey, error) {
	k.mu.Lock()
	stale := k.clock().Sub(k.loadedAt) >= k.refresh
	keys := k.keys
	if stale && len(keys) > 0 {
		// One caller refreshes; the others keep using the current ring meanwhile.
		k.loadedAt = k.clock()
	}
	k.mu.Unlock()
	if !stale {
		return keys, nil
	}
	if err := k.reload(ctx, false); err != nil {
		if len(keys) > 0 {
			k.log.WarnContext(ctx, "signing keys could not be refreshed; using the cached ones", "error", err)
			return keys, nil
		}
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keys, nil
}

// signer is the newest key that is neither retired nor revoked.
func (k *Keyring) signer(ctx context.Context) (signingKey, error) {
	keys, err := k.current(ctx)
	if err != nil {
		return signingKey{}, err
	}
	for _, key := range keys {
		if key.retiredAt == nil && key.revokedAt == nil {
			return key, nil
		}
	}
	k.mu.Lock()
	unreadable := k.unreadable
	k.mu.Unlock()
	if unreadable != nil {
		return signingKey{}, fmt.Errorf("auth: no usable active signing key: %w", unreadable)
	}
	return signingKey{}, errors.New("auth: no active signing key; run pentographer signing-keys rotate")
}

// verificationKey finds a published key by kid, re-reading the ring once when the
// kid is unknown (a key another replica or the command line just made).
func (k *Keyring) verificationKey(ctx context.Context, kid string) (signingKey, bool) {
	find := func(keys []signingKey) (signingKey, bool) {
		for _, key := range keys {
			if key.kid == kid && k.published(key) {
				return key, true
			}
		}
		return signingKey{}, false
	}
	keys, err := k.current(ctx)
	if err == nil {
		if key, ok := find(keys); ok {
			return key, true
		}
	}
	k.mu.Lock()
	retry := k.clock().Sub(k.tried) >= keyRetry
	if retry {
		k.tried = k.clock()
	}
	k.mu.Unlock()
	if !retry || k.reload(ctx, false) != nil {
		return signingKey{}, false
	}
	k.mu.Lock()
	keys = k.keys
	k.mu.Unlock()
	return find(keys)
}

// published reports whether key's tokens may still be alive: active keys, and
// retired ones until every token they signed has expired (plus the leeway). A
// revoked key is never published.
func (k *Keyring) published(key signingKey) bool {
	if key.revokedAt != nil {
		return false
	}
	return key.retiredAt == nil || k.clock().Before(key.retiredAt.Add(k.ttl+tokenLeeway))
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
// keys whose tokens may not have expired yet; never a revoked key.
func (k *Keyring) JWKS(ctx context.Context) ([]JWK, error) {
	keys, err := k.current(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]JWK, 0, len(keys))
	for _, key := range keys {
		if !k.published(key) {
			continue
		}
		jwk := JWK{Use: "sig", KeyID: key.kid, Algorithm: key.alg}
		b64 := base64.RawURLEncoding.EncodeToString
		switch pub := key.private.Public().(type) {
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
