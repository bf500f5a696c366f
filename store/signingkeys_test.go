package store_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/pentographer/pentographer/store"
	"github.com/pentographer/pentographer/store/storetest"
)

func TestUpdateSigningKeyEncryption(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		k := store.SigningKey{ID: "kid-1", Alg: "ES256", PrivateKey: []byte("plain"), CreatedAt: time.Now().UTC()}
		must(t, st.InsertSigningKey(ctx, &k))
		steps := []struct {
			from, to string
			stored   []byte
			changed  bool
		}{
			{"", "aaaa", []byte("sealed a"), true},
			{"", "bbbb", []byte("sealed b"), false}, // another process got there first
			{"aaaa", "cccc", []byte("sealed c"), true},
			{"aaaa", "dddd", []byte("sealed d"), false},
		}
		for _, s := range steps {
			changed, err := st.UpdateSigningKeyEncryption(ctx, "kid-1", s.from, s.to, s.stored)
			must(t, err)
			if changed != s.changed {
				t.Fatalf("%s → %s: changed %v, want %v", s.from, s.to, changed, s.changed)
			}
		}
		keys, err := st.ListSigningKeys(ctx)
		must(t, err)
		if len(keys) != 1 || keys[0].SecretKeyID != "cccc" || !bytes.Equal(keys[0].PrivateKey, []byte("sealed c")) {
			t.Fatalf("keys %+v", keys)
		}
		if changed, err := st.UpdateSigningKeyEncryption(ctx, "nope", "cccc", "x", []byte("x")); err != nil || changed {
			t.Fatalf("unknown kid: %v %v", changed, err)
		}
	})
}

// TestMigrationKeepsSigningKeysFromBeforeEncryption opens a store whose
// signing_keys table predates the secret_key_id column: the migration adds it,
// and the keys read as stored unencrypted.
func TestMigrationKeepsSigningKeysFromBeforeEncryption(t *testing.T) {
	for _, backend := range storetest.Backends {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			rawURL := storetest.URL(t, backend)
			st, err := store.Open(ctx, rawURL, store.Options{})
			must(t, err)
			must(t, st.Migrate(ctx))
			k := store.SigningKey{ID: "old-kid", Alg: "ES256", PrivateKey: []byte("pkcs8 der"), CreatedAt: time.Now().UTC()}
			must(t, st.InsertSigningKey(ctx, &k))
			must(t, st.Close())

			// Take the column away, as it was before.
			var dialector gorm.Dialector
			if backend == "sqlite" {
				dialector = sqlite.Open(rawURL[len("sqlite:"):])
			} else {
				dialector = postgres.Open(rawURL)
			}
			db, err := gorm.Open(dialector, &gorm.Config{Logger: logger.Discard})
			must(t, err)
			must(t, db.Exec("ALTER TABLE signing_keys DROP COLUMN secret_key_id").Error)
			raw, _ := db.DB()
			must(t, raw.Close())

			st, err = store.Open(ctx, rawURL, store.Options{})
			must(t, err)
			defer st.Close()
			must(t, st.Migrate(ctx))
			keys, err := st.ListSigningKeys(ctx)
			must(t, err)
			if len(keys) != 1 || keys[0].ID != "old-kid" || keys[0].SecretKeyID != "" || string(keys[0].PrivateKey) != "pkcs8 der" {
				t.Fatalf("keys %+v", keys)
			}
		})
	}
}
