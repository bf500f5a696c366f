package auth

import (
	"bytes"
	"context"
	"crypto/x509"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pentographer/pentographer/store"
	"github.com/pentographer/pentographer/store/storetest"
)

// logBuffer collects a service's log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// replica is one process over the store: a server or an operator command.
type replica struct {
	t    *testing.T
	svc  *Service
	logs *logBuffer
}

func newReplica(t *testing.T, st *store.Store, keys *SecretKeys) *replica {
	logs := &logBuffer{}
	svc := NewService(st, Options{SecretKeys: keys, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	return &replica{t: t, svc: svc, logs: logs}
}

// start does what serve does at start and fails the test when it fails.
func (r *replica) start() *replica {
	r.t.Helper()
	if err := r.svc.EnsureSigningKey(context.Background()); err != nil {
		r.t.Fatalf("start: %v", err)
	}
	return r
}

// token signs an access token for a client.
func (r *replica) token() string {
	r.t.Helper()
	tok, err := r.svc.IssueClientToken(context.Background(), &Principal{Method: MethodClientSecret, ClientID: "ptgc_test", OrgID: "org"}, "")
	if err != nil {
		r.t.Fatal(err)
	}
	return tok.AccessToken
}

// verifies reports whether the replica accepts the token's signature and claims.
func (r *replica) verifies(tok string) bool {
	_, err := r.svc.authn.verifyAccessToken(context.Background(), tok)
	return err == nil
}

func (r *replica) jwks() []JWK {
	r.t.Helper()
	keys, err := r.svc.JWKS(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	return keys
}

func rows(t *testing.T, st *store.Store) []store.SigningKey {
	t.Helper()
	recs, err := st.ListSigningKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// secretKeyErrors returns the SecretKeyErrors err joins.
func secretKeyErrors(err error) []*SecretKeyError {
	var out []*SecretKeyError
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) { //nolint:errorlint // walks the tree itself
		case *SecretKeyError:
			out = append(out, e)
		case interface{ Unwrap() []error }:
			for _, inner := range e.Unwrap() {
				walk(inner)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	walk(err)
	return out
}

func TestEncryptedSigningKeys(t *testing.T) {
	ctx := context.Background()
	k1, k2, k3 := genKey(t), genKey(t), genKey(t)
	id1, id2 := secretKeysOf(t, k1).PrimaryID(), secretKeysOf(t, k2).PrimaryID()

	t.Run("a_key_round_trips_through_the_store_encrypted", func(t *testing.T) {
		storetest.ForEach(t, func(t *testing.T, st *store.Store) {
			first := newReplica(t, st, secretKeysOf(t, k1)).start()
			tok := first.token()
			recs := rows(t, st)
			if len(recs) != 1 || recs[0].SecretKeyID != id1 {
				t.Fatalf("rows %+v", recs)
			}
			if _, err := x509.ParsePKCS8PrivateKey(recs[0].PrivateKey); err == nil {
				t.Fatal("the stored key parses as PKCS #8: it is not encrypted")
			}
			if strings.Contains(first.logs.String(), "unencrypted") {
				t.Fatalf("a server with a secret key warns: %s", first.logs)
			}
			again := newReplica(t, st, secretKeysOf(t, k1)).start()
			if !again.verifies(tok) || !slices.Equal(again.jwks(), first.jwks()) || len(rows(t, st)) != 1 {
				t.Fatal("a second start with the same secret key does not serve the same key")
			}
			if !first.verifies(again.token()) {
				t.Fatal("the restarted server signs with another key")
			}
		})
	})

	t.Run("a_wrong_or_missing_secret_key_is_refused_at_start", func(t *testing.T) {
		storetest.ForEach(t, func(t *testing.T, st *store.Store) {
			newReplica(t, st, secretKeysOf(t, k1)).start()
			before := rows(t, st)
			for name, keys := range map[string]*SecretKeys{"wrong": secretKeysOf(t, k2), "missing": nil, "others only": secretKeysOf(t, k2, k3)} {
				err := newReplica(t, st, keys).svc.EnsureSigningKey(ctx)
				sks := secretKeyErrors(err)
				if len(sks) != 1 || sks[0].KID != before[0].ID || sks[0].KeyID != id1 || sks[0].Damaged {
					t.Fatalf("%s key: %v", name, err)
				}
				for _, k := range []string{k1, k2, k3} {
					if strings.Contains(err.Error(), k) {
						t.Fatalf("%s key: the error shows a secret key: %v", name, err)
					}
				}
				if after := rows(t, st); len(after) != 1 || !bytes.Equal(after[0].PrivateKey, before[0].PrivateKey) {
					t.Fatalf("%s key: a refused start changed the keys: %+v", name, after)
				}
			}
		})
	})

	t.Run("a_tampered_or_swapped_row_is_refused_at_start", func(t *testing.T) {
		storetest.ForEach(t, func(t *testing.T, st *store.Store) {
			r := newReplica(t, st, secretKeysOf(t, k1)).start()
			if _, err := r.svc.RotateSigningKey(ctx); err != nil {
				t.Fatal(err)
			}
			recs := rows(t, st)
			a, b := recs[0], recs[1]
			mustChange(t, st, a.ID, id1, id1, b.PrivateKey)
			mustChange(t, st, b.ID, id1, id1, a.PrivateKey)
			sks := secretKeyErrors(newReplica(t, st, secretKeysOf(t, k1)).svc.EnsureSigningKey(ctx))
			if len(sks) != 2 || !sks[0].Damaged || !sks[1].Damaged {
				t.Fatalf("swapped rows: %v", sks)
			}
		})
	})

	t.Run("keys_stored_unencrypted_are_encrypted_at_start", func(t *testing.T) {
		storetest.ForEach(t, func(t *testing.T, st *store.Store) {
			plain := newReplica(t, st, nil).start()
			if !strings.Contains(plain.logs.String(), "signing keys are stored unencrypted") {
				t.Fatalf("no warning: %s", plain.logs)
			}
			tok := plain.token()
			kid := rows(t, st)[0].ID
			if _, err := x509.ParsePKCS8PrivateKey(rows(t, st)[0].PrivateKey); err != nil {
				t.Fatal("without a secret key the key is stored as PKCS #8")
			}
			enc := newReplica(t, st, secretKeysOf(t, k1)).start()
			recs := rows(t, st)
			if len(recs) != 1 || recs[0].ID != kid || recs[0].SecretKeyID != id1 {
				t.Fatalf("rows %+v", recs)
			}
			if !strings.Contains(enc.logs.String(), "encrypted the signing keys that were stored unencrypted") {
				t.Fatalf("logs: %s", enc.logs)
			}
			if !enc.verifies(tok) || !slices.Equal(enc.jwks(), plain.jwks()) {
				t.Fatal("the key changed when it was encrypted")
			}
			if err := newReplica(t, st, nil).svc.EnsureSigningKey(ctx); len(secretKeyErrors(err)) != 1 {
				t.Fatalf("a start without the key after encryption: %v", err)
			}
		})
	})

	t.Run("reencryption_keeps_the_key_pairs_and_tokens", func(t *testing.T) {
		storetest.ForEach(t, func(t *testing.T, st *store.Store) {
			old := newReplica(t, st, secretKeysOf(t, k1)).start()
			signedBefore := old.token()
			if _, err := old.svc.RotateSigningKey(ctx); err != nil {
				t.Fatal(err)
			}
			jwks := old.jwks()
			if len(jwks) != 2 {
				t.Fatalf("JWKS %+v", jwks)
			}
			cli := newReplica(t, st, secretKeysOf(t, k2, k1))
			n, keyID, err := cli.svc.ReencryptSigningKeys(ctx)
			if err != nil || n != 2 || keyID != id2 {
				t.Fatalf("reencrypt: %d %s %v", n, keyID, err)
			}
			for _, r := range rows(t, st) {
				if r.SecretKeyID != id2 {
					t.Fatalf("row %s still with %s", r.ID, r.SecretKeyID)
				}
			}
			if n, _, err := cli.svc.ReencryptSigningKeys(ctx); err != nil || n != 0 {
				t.Fatalf("reencrypt again: %d %v", n, err)
			}
			restarted := newReplica(t, st, secretKeysOf(t, k2)).start()
			if !restarted.verifies(signedBefore) || !slices.Equal(restarted.jwks(), jwks) {
				t.Fatal("a token signed before re-encryption does not verify, or the JWKS changed")
			}
			if !old.verifies(restarted.token()) {
				t.Fatal("the restarted server signs with another key")
			}
			if err := newReplica(t, st, secretKeysOf(t, k1)).svc.EnsureSigningKey(ctx); len(secretKeyErrors(err)) != 2 {
				t.Fatalf("the old key alone still starts: %v", err)
			}
		})
	})

	t.Run("reencryption_is_all_or_nothing", func(t *testing.T) {
		storetest.ForEach(t, func(t *testing.T, st *store.Store) {
			newReplica(t, st, secretKeysOf(t, k1)).start()
			if _, err := newReplica(t, st, secretKeysOf(t, k2, k1)).svc.RotateSigningKey(ctx); err != nil {
				t.Fatal(err)
			}
			before := rows(t, st)
			if before[0].SecretKeyID != id2 || before[1].SecretKeyID != id1 {
				t.Fatalf("rows %+v", before)
			}
			_, _, err := newReplica(t, st, secretKeysOf(t, k3, k2)).svc.ReencryptSigningKeys(ctx)
			if sks := secretKeyErrors(err); len(sks) != 1 || sks[0].KID != before[1].ID || sks[0].KeyID != id1 {
				t.Fatalf("reencrypt with a key missing: %v", err)
			}
			after := rows(t, st)
			for i := range after {
				if after[i].SecretKeyID != before[i].SecretKeyID || !bytes.Equal(after[i].PrivateKey, before[i].PrivateKey) {
					t.Fatalf("a failed re-encryption changed row %s", after[i].ID)
				}
			}
		})
	})

	t.Run("reencryption_needs_a_secret_key", func(t *testing.T) {
		st := storetest.Open(t, "sqlite")
		newReplica(t, st, nil).start()
		if _, _, err := newReplica(t, st, nil).svc.ReencryptSigningKeys(ctx); KindOf(err) != KindInvalid ||
			!strings.Contains(err.Error(), "PTG_SECRET_KEY") {
			t.Fatalf("reencrypt without a key: %v", err)
		}
	})

	t.Run("a_running_server_keeps_serving_with_the_keys_it_holds", func(t *testing.T) {
		storetest.ForEach(t, func(t *testing.T, st *store.Store) {
			old := newReplica(t, st, secretKeysOf(t, k1)).start()
			tok := old.token()
			jwks := old.jwks()
			cli := newReplica(t, st, secretKeysOf(t, k2, k1))
			if _, _, err := cli.svc.ReencryptSigningKeys(ctx); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if err := old.svc.keys.reload(ctx, false); err != nil {
					t.Fatal(err)
				}
			}
			if !old.verifies(tok) || !slices.Equal(old.jwks(), jwks) || !old.verifies(old.token()) {
				t.Fatal("the running server lost its keys")
			}
			kid := rows(t, st)[0].ID
			if got := strings.Count(old.logs.String(), "a signing key cannot be decrypted"); got != 1 ||
				!strings.Contains(old.logs.String(), `"kid":"`+kid+`"`) || !strings.Contains(old.logs.String(), `"secret_key_id":"`+id2+`"`) {
				t.Fatalf("%d error lines: %s", got, old.logs)
			}
			// A key made under the new secret key is out of its reach: it says so
			// instead of signing with a retired key.
			newKID, err := cli.svc.RotateSigningKey(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := old.svc.keys.reload(ctx, false); err != nil {
				t.Fatal(err)
			}
			if _, err := old.svc.keys.signer(ctx); err == nil || !strings.Contains(err.Error(), newKID) || !strings.Contains(err.Error(), id2) {
				t.Fatalf("signer: %v", err)
			}
			if !old.verifies(tok) {
				t.Fatal("a token of the retired key no longer verifies")
			}
			// A revocation still reaches it.
			if _, err := cli.svc.RevokeSigningKey(ctx, kid); err != nil {
				t.Fatal(err)
			}
			if err := old.svc.keys.reload(ctx, false); err != nil {
				t.Fatal(err)
			}
			if old.verifies(tok) {
				t.Fatal("the running server still accepts a token of a revoked key")
			}
		})
	})

	t.Run("commands_without_the_servers_secret_key_make_no_key", func(t *testing.T) {
		storetest.ForEach(t, func(t *testing.T, st *store.Store) {
			newReplica(t, st, secretKeysOf(t, k1)).start()
			kid := rows(t, st)[0].ID
			for name, keys := range map[string]*SecretKeys{"missing": nil, "other": secretKeysOf(t, k2)} {
				cli := newReplica(t, st, keys)
				if _, err := cli.svc.RotateSigningKey(ctx); len(secretKeyErrors(err)) != 1 || !strings.Contains(err.Error(), "refusing to make a signing key") {
					t.Fatalf("%s key: rotate: %v", name, err)
				}
				if _, err := cli.svc.RevokeSigningKey(ctx, kid); len(secretKeyErrors(err)) != 1 {
					t.Fatalf("%s key: revoking the signer: %v", name, err)
				}
				if recs := rows(t, st); len(recs) != 1 || recs[0].RevokedAt != nil || recs[0].RetiredAt != nil {
					t.Fatalf("%s key: rows %+v", name, recs)
				}
			}
		})
	})
}

func mustChange(t *testing.T, st *store.Store, kid, from, to string, stored []byte) {
	t.Helper()
	changed, err := st.UpdateSigningKeyEncryption(context.Background(), kid, from, to, stored)
	if err != nil || !changed {
		t.Fatalf("update %s: %v %v", kid, changed, err)
	}
}
