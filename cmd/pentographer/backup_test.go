package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pentographer/pentographer/store"
	"github.com/pentographer/pentographer/store/storetest"
)

// listSigningKeys reads the signing key rows of a store.
func listSigningKeys(t *testing.T, rawURL string) []store.SigningKey {
	t.Helper()
	st, err := store.Open(context.Background(), rawURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	keys, err := st.ListSigningKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestBackup copies a SQLite store from the command line; the copy is a
// working store, put in place as the restore steps say.
func TestBackup(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"PTG_DATABASE_URL": "sqlite:" + dir + "/live.db"}
	boot := runJSON(t, env, "bootstrap", "--org", "Acme", "--email", "owner@acme.test")
	path := filepath.Join(dir, "copy.db")
	code, out, errOut := runCmd(t, env, "backup", path)
	if code != 0 || !strings.HasPrefix(out, "wrote a consistent copy of the database to "+path+" (") {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	if code, _, errOut := runCmd(t, env, "backup", path); code != 1 || !strings.Contains(errOut, "exists already") {
		t.Fatalf("a second backup to the same file: exit %d: %s", code, errOut)
	}
	if code, _, errOut := runCmd(t, env, "backup"); code != 2 || !strings.Contains(errOut, "needs PATH") {
		t.Fatalf("without a path: exit %d: %s", code, errOut)
	}

	// Restore: the copy, in place of the database, serves the same people.
	restored := filepath.Join(dir, "restored.db")
	if err := os.Rename(path, restored); err != nil {
		t.Fatal(err)
	}
	key := runJSON(t, map[string]string{"PTG_DATABASE_URL": "sqlite:" + restored}, "keys", "create", "--org", boot.Organization.Slug, "--email", "owner@acme.test")
	if key.APIKey == "" {
		t.Fatal("no key from the restored store")
	}

	t.Run("postgres", func(t *testing.T) {
		env := map[string]string{"PTG_DATABASE_URL": storetest.URL(t, "postgres")}
		code, _, errOut := runCmd(t, env, "backup", filepath.Join(t.TempDir(), "pg.db"))
		if code != 1 || !strings.Contains(errOut, "pg_dump") {
			t.Fatalf("exit %d: %s", code, errOut)
		}
	})
}
