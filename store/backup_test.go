package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/pentographer/pentographer/store"
	"github.com/pentographer/pentographer/store/storetest"
)

// insertOrg stores one organization and returns its id.
func insertOrg(ctx context.Context, st *store.Store) (string, error) {
	o := store.Organization{ID: id(), Slug: "org-" + id()[24:], Name: "Org", CreatedAt: time.Now().UTC()}
	return o.ID, st.InsertOrganization(ctx, &o)
}

func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	must(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestBackupIsAConsistentCopyTakenWhileWritesGoOn backs up a SQLite database
// while another goroutine keeps writing to it: the copy is a sound database
// that migrates and holds everything committed before the backup began, and
// nothing that was never committed.
func TestBackupIsAConsistentCopyTakenWhileWritesGoOn(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t, "sqlite")
	for range 50 {
		_, err := insertOrg(ctx, st)
		must(t, err)
	}
	var (
		mu        sync.Mutex
		committed []string
		stop      = make(chan struct{})
		wg        sync.WaitGroup
	)
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			orgID, err := insertOrg(ctx, st)
			if err != nil {
				t.Errorf("write during the backup: %v", err)
				return
			}
			mu.Lock()
			committed = append(committed, orgID)
			mu.Unlock()
		}
	})
	// Let the writer get going, then note what has committed so far.
	for {
		mu.Lock()
		n := len(committed)
		mu.Unlock()
		if n >= 20 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	before, err := st.ListOrganizationIDs(ctx)
	must(t, err)
	dir := t.TempDir()
	path := filepath.Join(dir, "backup.db")
	mu.Lock()
	n0 := len(committed)
	mu.Unlock()
	must(t, st.Backup(ctx, path))
	mu.Lock()
	t.Logf("%d writes committed while the backup ran", len(committed)-n0)
	mu.Unlock()
	close(stop)
	wg.Wait()
	all, err := st.ListOrganizationIDs(ctx)
	must(t, err)
	if len(all) <= len(before) {
		t.Fatal("nothing was written while the backup ran; the test proves little")
	}

	if got := dirEntries(t, dir); !slices.Equal(got, []string{"backup.db"}) {
		t.Fatalf("the directory holds %v", got)
	}
	fi, err := os.Stat(path)
	must(t, err)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("the backup's mode is %04o, want 0600", fi.Mode().Perm())
	}
	db, err := gorm.Open(sqlite.Open(path), &gorm.Config{Logger: logger.Discard})
	must(t, err)
	var check string
	must(t, db.Raw("PRAGMA integrity_check").Scan(&check).Error)
	if raw, err := db.DB(); err == nil {
		_ = raw.Close()
	}
	if check != "ok" {
		t.Fatalf("integrity_check: %s", check)
	}

	cp, err := store.Open(ctx, "sqlite:"+path, store.Options{})
	must(t, err)
	defer cp.Close()
	must(t, cp.Migrate(ctx))
	copied, err := cp.ListOrganizationIDs(ctx)
	must(t, err)
	for _, orgID := range before {
		if !slices.Contains(copied, orgID) {
			t.Fatalf("organization %s, committed before the backup, is missing from it", orgID)
		}
	}
	for _, orgID := range copied {
		if !slices.Contains(all, orgID) {
			t.Fatalf("the backup holds %s, which the database does not", orgID)
		}
	}
}

func TestBackupRefusals(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t, "sqlite")
	dir := t.TempDir()

	t.Run("an_existing_file_is_never_overwritten", func(t *testing.T) {
		path := filepath.Join(dir, "taken.db")
		must(t, os.WriteFile(path, []byte("precious"), 0o600))
		err := st.Backup(ctx, path)
		if err == nil || !strings.Contains(err.Error(), "exists already") || !strings.Contains(err.Error(), path) {
			t.Fatalf("backup over a file: %v", err)
		}
		if b, _ := os.ReadFile(path); string(b) != "precious" {
			t.Fatalf("the file now holds %q", b)
		}
		if got := dirEntries(t, dir); !slices.Equal(got, []string{"taken.db"}) {
			t.Fatalf("the directory holds %v", got)
		}
	})
	t.Run("a_missing_directory_is_named", func(t *testing.T) {
		err := st.Backup(ctx, filepath.Join(dir, "nope", "b.db"))
		if err == nil || !strings.Contains(err.Error(), "does not exist") {
			t.Fatalf("backup into a missing directory: %v", err)
		}
	})
	t.Run("postgres_points_to_its_own_tools", func(t *testing.T) {
		pg := storetest.Open(t, "postgres")
		path := filepath.Join(t.TempDir(), "pg.db")
		err := pg.Backup(ctx, path)
		if err == nil || !strings.Contains(err.Error(), "pg_dump") {
			t.Fatalf("backup of PostgreSQL: %v", err)
		}
		if _, err := os.Stat(path); err == nil {
			t.Fatal("a file was made")
		}
	})
}

// BenchmarkBackup copies a SQLite database of 10,000 organizations (a few MB).
func BenchmarkBackup(b *testing.B) {
	ctx := context.Background()
	st := storetest.Open(b, "sqlite")
	err := st.Tx(ctx, func(tx *store.Store) error {
		for range 10_000 {
			if _, err := insertOrg(ctx, tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	i := 0
	for b.Loop() {
		i++
		if err := st.Backup(ctx, filepath.Join(dir, fmt.Sprintf("b%d.db", i))); err != nil {
			b.Fatal(err)
		}
	}
}
