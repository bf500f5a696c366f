package auth

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/pentographer/pentographer/store"
)

// secretKeysOf parses keys or fails the test.
func secretKeysOf(t testing.TB, keys ...string) *SecretKeys {
	t.Helper()
	ks, err := ParseSecretKeys(strings.Join(keys, ","))
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func genKey(t testing.TB) string {
	t.Helper()
	k, err := GenerateSecretKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testDER(t testing.TB) []byte {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestParseSecretKeys(t *testing.T) {
	raw := make([]byte, SecretKeySize)
	_, _ = rand.Read(raw)
	std := base64.StdEncoding.EncodeToString(raw)
	other := genKey(t)
	want := secretKeysOf(t, std).PrimaryID()
	for _, tc := range []struct {
		name, text string
		ids        int
	}{
		{"standard alphabet, padded", std, 1},
		{"standard alphabet, unpadded", base64.RawStdEncoding.EncodeToString(raw), 1},
		{"URL alphabet, padded", base64.URLEncoding.EncodeToString(raw), 1},
		{"URL alphabet, unpadded", base64.RawURLEncoding.EncodeToString(raw), 1},
		{"a trailing newline, as in a file", std + "\n", 1},
		{"surrounding blanks and CRLF", "  " + std + "\r\n", 1},
		{"two keys, comma-separated", std + "," + other, 2},
		{"two keys, one a line", std + "\n" + other + "\n", 2},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			ks, err := ParseSecretKeys(tc.text)
			if err != nil {
				t.Fatal(err)
			}
			if len(ks.IDs()) != tc.ids || ks.PrimaryID() != want {
				t.Fatalf("ids %v, want %d starting with %s", ks.IDs(), tc.ids, want)
			}
		})
	}
	short := base64.StdEncoding.EncodeToString(raw[:31])
	long := base64.StdEncoding.EncodeToString(append(raw, 1))
	for _, tc := range []struct{ name, text, want string }{
		{"nothing", "", "no secret key"},
		{"blanks", " ,\n", "no secret key"},
		{"not base64", "not*base64!", "not base64"},
		{"31 bytes", short, "31 bytes"},
		{"33 bytes", long, "33 bytes"},
		{"a passphrase", "correct horse battery staple", "not base64"},
		{"the same key twice", std + "," + base64.RawURLEncoding.EncodeToString(raw), "repeats secret key 1"},
		{"too many keys", strings.Repeat(std+",", maxSecretKeys+1), "at most"},
		{"a key with a bad second one", std + "," + short, "secret key 2 of 2"},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			_, err := ParseSecretKeys(tc.text)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			for _, secret := range []string{std, short, long, "horse"} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("the error quotes the key: %v", err)
				}
			}
		})
	}
}

func TestGenerateSecretKey(t *testing.T) {
	a, b := genKey(t), genKey(t)
	if a == b {
		t.Fatal("two generated keys are equal")
	}
	raw, err := base64.StdEncoding.DecodeString(a)
	if err != nil || len(raw) != SecretKeySize {
		t.Fatalf("%d bytes, %v", len(raw), err)
	}
	if secretKeysOf(t, a).PrimaryID() == secretKeysOf(t, b).PrimaryID() {
		t.Fatal("two keys share an id")
	}
	if id := secretKeysOf(t, a).PrimaryID(); id != secretKeysOf(t, a).PrimaryID() || len(id) != 16 {
		t.Fatalf("the id %q is not a stable 16-digit hex", id)
	}
}

// TestSecretKeysNeverShowAKey prints and logs the configured keys every way a
// careless caller might.
func TestSecretKeysNeverShowAKey(t *testing.T) {
	key := genKey(t)
	ks := secretKeysOf(t, key)
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("configured", "secret_keys", ks)
	raw, _ := base64.StdEncoding.DecodeString(key)
	for _, out := range []string{fmt.Sprint(ks), fmt.Sprintf("%v %+v %#v %s", ks, ks, ks, ks), logged.String()} {
		if !strings.Contains(out, ks.PrimaryID()) || strings.Contains(out, key) || bytes.Contains([]byte(out), raw) {
			t.Fatalf("printed %q", out)
		}
	}
	var none *SecretKeys
	if none.String() != "no secret key" || none.PrimaryID() != "" || none.IDs() != nil {
		t.Fatalf("nil keys print %q", none.String())
	}
}

// sealedRow is a signing key row as insertSigningKey writes it.
func sealedRow(t *testing.T, ks *SecretKeys, kid, alg string, der []byte) store.SigningKey {
	t.Helper()
	keyID, stored, err := ks.seal(kid, alg, der)
	if err != nil {
		t.Fatal(err)
	}
	return store.SigningKey{ID: kid, Alg: alg, PrivateKey: stored, SecretKeyID: keyID}
}

func TestEnvelope(t *testing.T) {
	k1, k2 := genKey(t), genKey(t)
	ks := secretKeysOf(t, k1)
	der := testDER(t)
	row := sealedRow(t, ks, "kid-a", "ES256", der)

	t.Run("round_trip", func(t *testing.T) {
		if row.SecretKeyID != ks.PrimaryID() || bytes.Contains(row.PrivateKey, der) || row.PrivateKey[0] != envelopeV1 {
			t.Fatalf("row %+v", row)
		}
		got, err := ks.open(row)
		if err != nil || !bytes.Equal(got, der) {
			t.Fatalf("open: %v", err)
		}
		again := sealedRow(t, ks, "kid-a", "ES256", der)
		if bytes.Equal(again.PrivateKey, row.PrivateKey) {
			t.Fatal("two envelopes of one key are equal: the nonce is not random")
		}
	})
	t.Run("any_listed_key_opens_and_the_first_seals", func(t *testing.T) {
		both := secretKeysOf(t, k2, k1)
		if got, err := both.open(row); err != nil || !bytes.Equal(got, der) {
			t.Fatalf("open with the second key: %v", err)
		}
		if r := sealedRow(t, both, "kid-b", "ES256", der); r.SecretKeyID != secretKeysOf(t, k2).PrimaryID() {
			t.Fatalf("sealed with %s, want the first key", r.SecretKeyID)
		}
	})
	t.Run("a_wrong_or_missing_key_is_refused_by_name", func(t *testing.T) {
		for name, keys := range map[string]*SecretKeys{"wrong": secretKeysOf(t, k2), "missing": nil} {
			_, err := keys.open(row)
			var sk *SecretKeyError
			if !errors.As(err, &sk) || sk.Damaged || sk.KID != "kid-a" || sk.KeyID != ks.PrimaryID() {
				t.Fatalf("%s key: %#v", name, err)
			}
			if msg := err.Error(); !strings.Contains(msg, "kid-a") || !strings.Contains(msg, ks.PrimaryID()) ||
				strings.Contains(msg, k1) || strings.Contains(msg, k2) || !strings.Contains(msg, "PTG_SECRET_KEY") {
				t.Fatalf("%s key: %s", name, msg)
			}
		}
	})
	t.Run("tampering_is_caught", func(t *testing.T) {
		other := sealedRow(t, ks, "kid-b", "ES256", testDER(t))
		cases := map[string]store.SigningKey{
			"envelope moved to another row": {ID: "kid-b", Alg: "ES256", PrivateKey: row.PrivateKey, SecretKeyID: row.SecretKeyID},
			"rows swapped":                  {ID: "kid-a", Alg: "ES256", PrivateKey: other.PrivateKey, SecretKeyID: other.SecretKeyID},
			"algorithm changed":             {ID: "kid-a", Alg: "ES384", PrivateKey: row.PrivateKey, SecretKeyID: row.SecretKeyID},
			"truncated":                     {ID: "kid-a", Alg: "ES256", PrivateKey: row.PrivateKey[:20], SecretKeyID: row.SecretKeyID},
			"empty":                         {ID: "kid-a", Alg: "ES256", PrivateKey: nil, SecretKeyID: row.SecretKeyID},
		}
		for i := range row.PrivateKey {
			flipped := bytes.Clone(row.PrivateKey)
			flipped[i] ^= 0x01
			cases[fmt.Sprintf("byte %d flipped", i)] = store.SigningKey{ID: "kid-a", Alg: "ES256", PrivateKey: flipped, SecretKeyID: row.SecretKeyID}
		}
		for name, r := range cases {
			_, err := ks.open(r)
			var sk *SecretKeyError
			if !errors.As(err, &sk) || !sk.Damaged || sk.KID != r.ID {
				t.Fatalf("%s: %v", name, err)
			}
			if !strings.Contains(err.Error(), "altered") {
				t.Fatalf("%s: %v", name, err)
			}
		}
	})
	t.Run("without_a_secret_key_rows_are_stored_unencrypted", func(t *testing.T) {
		var none *SecretKeys
		keyID, stored, err := none.seal("kid-c", "ES256", der)
		if err != nil || keyID != "" || !bytes.Equal(stored, der) {
			t.Fatalf("seal without a key: %q %v", keyID, err)
		}
		plain := store.SigningKey{ID: "kid-c", Alg: "ES256", PrivateKey: der}
		for _, keys := range []*SecretKeys{none, ks} {
			if got, err := keys.open(plain); err != nil || !bytes.Equal(got, der) {
				t.Fatalf("an unencrypted row does not read: %v", err)
			}
		}
	})
}

// FuzzOpenEnvelope feeds stored bytes the database might hold: nothing but an
// envelope sealed for the row opens, and nothing panics.
func FuzzOpenEnvelope(f *testing.F) {
	ks, err := ParseSecretKeys("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
	if err != nil {
		f.Fatal(err)
	}
	der := []byte("not really DER, the envelope does not care")
	_, genuine, err := ks.seal("kid", "ES256", der)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(genuine) // more seeds in testdata/fuzz
	f.Fuzz(func(t *testing.T, stored []byte) {
		got, err := ks.open(store.SigningKey{ID: "kid", Alg: "ES256", PrivateKey: stored, SecretKeyID: ks.PrimaryID()})
		// Only der was ever sealed under this key (in every fuzzing process, each
		// with a nonce of its own), so whatever opens must give it back.
		if err == nil && !bytes.Equal(got, der) {
			t.Fatalf("opened forged bytes %x", stored)
		}
		var sk *SecretKeyError
		if err != nil && !errors.As(err, &sk) {
			t.Fatalf("error %v is not a SecretKeyError", err)
		}
	})
}

// FuzzParseSecretKeys: what is accepted is whole 32-byte keys, one id each.
// The seed corpus is in testdata/fuzz.
func FuzzParseSecretKeys(f *testing.F) {
	f.Fuzz(func(t *testing.T, text string) {
		ks, err := ParseSecretKeys(text)
		if err != nil {
			return
		}
		ids := ks.IDs()
		if len(ids) == 0 || len(ids) > maxSecretKeys {
			t.Fatalf("%q gave %d keys", text, len(ids))
		}
		for _, f := range strings.FieldsFunc(text, func(r rune) bool { return strings.ContainsRune(", \t\r\n", r) }) {
			if b, ok := decodeBase64(f); !ok || len(b) != SecretKeySize {
				t.Fatalf("%q accepted a field of %d bytes", text, len(b))
			}
		}
	})
}
