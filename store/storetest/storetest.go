// Package storetest opens real stores for tests: a SQLite file under t.TempDir(),
// and a PostgreSQL schema of its own when PTG_TEST_DATABASE_URL is set.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pentographer/pentographer/store"
)

// EnvDatabaseURL names the PostgreSQL server the PostgreSQL suite uses.
const EnvDatabaseURL = "PTG_TEST_DATABASE_URL"

// Backends are the stores every suite runs on.
var Backends = []string{"sqlite", "postgres"}

// ForEach runs fn once per backend, each as a subtest with a fresh, migrated store.
func ForEach(t *testing.T, fn func(t *testing.T, st *store.Store)) {
	t.Helper()
	for _, b := range Backends {
		t.Run(b, func(t *testing.T) {
			fn(t, Open(t, b))
		})
	}
}

// Open returns a fresh, migrated store of the given backend, removed when the test
// ends. The PostgreSQL backend skips the test when PTG_TEST_DATABASE_URL is unset.
func Open(t testing.TB, backend string) *store.Store {
	t.Helper()
	ctx := context.Background()
	var rawURL string
	switch backend {
	case "sqlite":
		rawURL = "sqlite:" + t.TempDir() + "/test.db"
	case "postgres":
		rawURL = postgresSchema(t)
	default:
		t.Fatalf("unknown backend %q", backend)
	}
	st, err := store.Open(ctx, rawURL, store.Options{})
	if err != nil {
		t.Fatalf("open %s store: %v", backend, err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("migrate %s store: %v", backend, err)
	}
	return st
}

// URL returns a database URL of the backend for a test that opens the store itself
// (e.g. a command-line test), cleaned up like Open's.
func URL(t testing.TB, backend string) string {
	t.Helper()
	if backend == "postgres" {
		return postgresSchema(t)
	}
	return "sqlite:" + t.TempDir() + "/test.db"
}

// postgresSchema creates a schema of its own on the test server and returns a URL
// whose search_path points at it; the schema is dropped at cleanup.
func postgresSchema(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvDatabaseURL)
	if base == "" {
		t.Skipf("%s is not set: skipping the PostgreSQL suite (CI sets it and requires it)", EnvDatabaseURL)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s: %v", EnvDatabaseURL, err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "ptgtest_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvDatabaseURL, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
