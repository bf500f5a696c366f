package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/pentographer/pentographer/store"
)

// Signing keys are encrypted at rest with a secret key the operator holds
// outside the database (PTG_SECRET_KEY or PTG_SECRET_KEY_FILE): a copy of the
// database alone, a backup or a leaked dump, does not give away the keys that
// sign access tokens.
//
// A secret key is 32 random bytes, written in base64. Several may be configured
// for a change of secret key: the first encrypts, every one decrypts. Each is
// known by an id, a digest of it that names it in rows, logs and errors; the key
// itself appears nowhere but in the configuration.
//
// The envelope stored in a row (SigningKey.PrivateKey, with SigningKey.
// SecretKeyID naming the secret key) is
//
//	0x01 (version) || nonce (12 random bytes) || AES-256-GCM(PKCS #8 DER)
//
// under a key derived from the secret key with HKDF-SHA256, so the secret key
// could serve other purposes later under other derivations. The row's kid and
// algorithm are the additional authenticated data: an envelope copied into
// another row, or a row whose algorithm was changed, fails to open like a
// tampered one. A row whose SecretKeyID is empty holds the DER unencrypted (rows
// from before encryption, or a deployment without a secret key).

// SecretKeySize is the length of a secret key in bytes.
const SecretKeySize = 32

// maxSecretKeys bounds how many secret keys one configuration lists.
const maxSecretKeys = 16

const (
	envelopeV1    = 0x01
	envelopeNonce = 12
	keyIDInfo     = "pentographer secret key id v1"
	sealKeyInfo   = "pentographer signing key encryption v1"
	aadLabel      = "pentographer signing key v1"
)

// SecretKeys are the configured secret keys, the first of which encrypts. A nil
// *SecretKeys is "none configured": signing keys are stored unencrypted. Its
// printed and logged forms show key ids only.
type SecretKeys struct {
	keys []secretKey
}

type secretKey struct {
	id   string
	aead cipher.AEAD
}

// GenerateSecretKey returns a new secret key from crypto/rand, in base64.
func GenerateSecretKey() (string, error) {
	var b [SecretKeySize]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b[:]), nil
}

// ParseSecretKeys reads one or more secret keys separated by commas or white
// space, each the base64 (standard or URL alphabet, padded or not) of 32 bytes.
// The first is the one that encrypts. Its errors never quote a key.
func ParseSecretKeys(text string) (*SecretKeys, error) {
	fields := strings.FieldsFunc(text, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
	switch {
	case len(fields) == 0:
		return nil, errors.New("no secret key given; make one with: pentographer secret-key generate")
	case len(fields) > maxSecretKeys:
		return nil, fmt.Errorf("%d secret keys given; at most %d are accepted", len(fields), maxSecretKeys)
	}
	ks := &SecretKeys{}
	for i, f := range fields {
		raw, ok := decodeBase64(f)
		if !ok {
			return nil, fmt.Errorf("secret key %d of %d is not base64; make one with: pentographer secret-key generate", i+1, len(fields))
		}
		if len(raw) != SecretKeySize {
			return nil, fmt.Errorf("secret key %d of %d is %d bytes long; a secret key is %d random bytes in base64 (make one with: pentographer secret-key generate)",
				i+1, len(fields), len(raw), SecretKeySize)
		}
		k, err := newSecretKey(raw)
		clear(raw)
		if err != nil {
			return nil, err
		}
		for j, other := range ks.keys {
			if other.id == k.id {
				return nil, fmt.Errorf("secret key %d of %d repeats secret key %d", i+1, len(fields), j+1)
			}
		}
		ks.keys = append(ks.keys, k)
	}
	return ks, nil
}

// decodeBase64 accepts the standard and the URL alphabet, padded or not.
func decodeBase64(s string) ([]byte, bool) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.Strict().DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}

func newSecretKey(raw []byte) (secretKey, error) {
	h := sha256.New()
	h.Write([]byte(keyIDInfo))
	h.Write(raw)
	sum := h.Sum(nil)
	derived, err := hkdf.Key(sha256.New, raw, nil, sealKeyInfo, 32)
	if err != nil {
		return secretKey{}, err
	}
	defer clear(derived)
	block, err := aes.NewCipher(derived)
	if err != nil {
		return secretKey{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return secretKey{}, err
	}
	return secretKey{id: hex.EncodeToString(sum[:8]), aead: aead}, nil
}

// IDs returns the ids of the configured keys, the encrypting one first.
func (k *SecretKeys) IDs() []string {
	if k == nil {
		return nil
	}
	ids := make([]string, len(k.keys))
	for i, key := range k.keys {
		ids[i] = key.id
	}
	return ids
}

// PrimaryID is the id of the key that encrypts ("" when none is configured).
func (k *SecretKeys) PrimaryID() string {
	if k == nil || len(k.keys) == 0 {
		return ""
	}
	return k.keys[0].id
}

// has reports whether the key of id is configured.
func (k *SecretKeys) has(id string) bool {
	_, ok := k.find(id)
	return ok
}

func (k *SecretKeys) find(id string) (secretKey, bool) {
	if k == nil {
		return secretKey{}, false
	}
	for _, key := range k.keys {
		if key.id == id {
			return key, true
		}
	}
	return secretKey{}, false
}

// String shows the key ids, never a key.
func (k *SecretKeys) String() string {
	if k == nil || len(k.keys) == 0 {
		return "no secret key"
	}
	return "secret keys " + strings.Join(k.IDs(), ", ")
}

// GoString is String, so %#v shows no key material either.
func (k *SecretKeys) GoString() string { return k.String() }

// LogValue logs the key ids.
func (k *SecretKeys) LogValue() slog.Value { return slog.AnyValue(k.IDs()) }

// associatedData binds an envelope to its row: the kid and the algorithm,
// each length-prefixed.
func associatedData(kid, alg string) []byte {
	ad := []byte(aadLabel)
	for _, s := range []string{kid, alg} {
		ad = binary.BigEndian.AppendUint16(ad, uint16(len(s)))
		ad = append(ad, s...)
	}
	return ad
}

// seal encrypts the PKCS #8 DER of signing key kid with the first secret key.
// Without a secret key it returns der unchanged and an empty key id.
func (k *SecretKeys) seal(kid, alg string, der []byte) (keyID string, stored []byte, err error) {
	if k == nil || len(k.keys) == 0 {
		return "", der, nil
	}
	key := k.keys[0]
	out := make([]byte, 1+envelopeNonce, 1+envelopeNonce+len(der)+key.aead.Overhead())
	out[0] = envelopeV1
	if _, err := rand.Read(out[1:]); err != nil {
		return "", nil, err
	}
	return key.id, key.aead.Seal(out, out[1:], der, associatedData(kid, alg)), nil
}

// open returns the PKCS #8 DER of a signing key row, decrypting it when it is
// encrypted. It fails with a *SecretKeyError when the row's secret key is not
// configured or the envelope does not open.
func (k *SecretKeys) open(r store.SigningKey) ([]byte, error) {
	if r.SecretKeyID == "" {
		return r.PrivateKey, nil
	}
	key, ok := k.find(r.SecretKeyID)
	if !ok {
		return nil, &SecretKeyError{KID: r.ID, KeyID: r.SecretKeyID, Configured: k.IDs()}
	}
	env := r.PrivateKey
	if len(env) < 1+envelopeNonce+key.aead.Overhead() || env[0] != envelopeV1 {
		return nil, &SecretKeyError{KID: r.ID, KeyID: r.SecretKeyID, Configured: k.IDs(), Damaged: true}
	}
	der, err := key.aead.Open(nil, env[1:1+envelopeNonce], env[1+envelopeNonce:], associatedData(r.ID, r.Alg))
	if err != nil {
		return nil, &SecretKeyError{KID: r.ID, KeyID: r.SecretKeyID, Configured: k.IDs(), Damaged: true}
	}
	return der, nil
}

// SecretKeyError says why the configured secret keys cannot open a signing key
// row. It names the row's kid and the id of the secret key that encrypted it,
// never a key.
type SecretKeyError struct {
	// KID is the signing key's id; KeyID the secret key's that encrypted it.
	KID, KeyID string
	// Configured are the ids of the configured secret keys.
	Configured []string
	// Damaged: the secret key is configured, but the envelope does not open.
	Damaged bool
}

func (e *SecretKeyError) Error() string {
	switch {
	case e.Damaged:
		return fmt.Sprintf("signing key %s does not decrypt with secret key %s: the stored key was altered, damaged or "+
			"copied from another row; restore the row from a backup, or revoke the key (pentographer signing-keys revoke %s)",
			e.KID, e.KeyID, e.KID)
	case len(e.Configured) == 0:
		return fmt.Sprintf("signing key %s is encrypted with secret key %s, but no secret key is configured; "+
			"set PTG_SECRET_KEY or PTG_SECRET_KEY_FILE to that key", e.KID, e.KeyID)
	}
	return fmt.Sprintf("signing key %s is encrypted with secret key %s, which is not among the configured ones (%s); "+
		"add that key to PTG_SECRET_KEY or PTG_SECRET_KEY_FILE", e.KID, e.KeyID, strings.Join(e.Configured, ", "))
}
