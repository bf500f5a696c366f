package store_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pentographer/pentographer/store"
)

// TestOpenExplainsWhyASQLiteFileCannotBeUsed checks that each way a SQLite path
// can be unusable gets an error naming the path and the reason, instead of the
// driver's "out of memory (14)". The read-only cases are decided by mode bits, so
// they hold when the tests run as root too.
func TestOpenExplainsWhyASQLiteFileCannotBeUsed(t *testing.T) {
	dir := t.TempDir()
	roDir := filepath.Join(dir, "ro")
	must(t, os.Mkdir(roDir, 0o755))
	must(t, os.WriteFile(filepath.Join(roDir, "old.db"), nil, 0o644))
	must(t, os.Chmod(roDir, 0o555))
	t.Cleanup(func() { _ = os.Chmod(roDir, 0o755) })
	roFile := filepath.Join(dir, "ro.db")
	must(t, os.WriteFile(roFile, nil, 0o444))
	aFile := filepath.Join(dir, "file")
	must(t, os.WriteFile(aFile, nil, 0o644))

	for name, tc := range map[string]struct{ path, want string }{
		"missing directory":           {filepath.Join(dir, "missing", "p.db"), `the directory "` + filepath.Join(dir, "missing") + `" does not exist`},
		"read-only directory":         {filepath.Join(roDir, "p.db"), `the directory "` + roDir + `" is read-only (mode 0555)`},
		"existing file in a ro dir":   {filepath.Join(roDir, "old.db"), `the directory "` + roDir + `" is read-only`},
		"read-only file":              {roFile, "the file is read-only (mode 0444)"},
		"a directory as the database": {dir, "it is a directory, not a database file"},
		"a file as the directory":     {filepath.Join(aFile, "p.db"), `"` + aFile + `" is not a directory`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := store.Open(context.Background(), "sqlite:"+tc.path, store.Options{})
			if err == nil {
				t.Fatal("opened")
			}
			msg := err.Error()
			if !strings.Contains(msg, `cannot open the SQLite database "`+tc.path+`"`) || !strings.Contains(msg, tc.want) || strings.Contains(msg, "out of memory") {
				t.Fatalf("error %q, want the path and %q", msg, tc.want)
			}
		})
	}
}

// TestOpenReportsThePermissionTheSystemDenies covers what mode bits cannot show:
// a directory the process may not write in although someone may.
func TestOpenReportsThePermissionTheSystemDenies(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root, which the operating system lets write anywhere: the mode-bit cases above cover root")
	}
	dir := filepath.Join(t.TempDir(), "others")
	must(t, os.Mkdir(dir, 0o755))
	must(t, os.Chmod(dir, 0o575)) // writable by group and others, not by its owner: us
	t.Cleanup(func() { _ = os.Chmod(dir, 0o755) })
	file := filepath.Join(t.TempDir(), "others.db")
	must(t, os.WriteFile(file, nil, 0o644))
	must(t, os.Chmod(file, 0o464)) // the same for a file
	for _, path := range []string{filepath.Join(dir, "p.db"), file} {
		_, err := store.Open(context.Background(), "sqlite:"+path, store.Options{})
		if err == nil || !strings.Contains(err.Error(), "permission denied") || !strings.Contains(err.Error(), path) {
			t.Errorf("error %v", err)
		}
	}
}

func TestOpenLeavesNothingButTheDatabase(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(context.Background(), "sqlite:"+filepath.Join(dir, "p.db"), store.Options{})
	must(t, err)
	must(t, st.Close())
	entries, err := os.ReadDir(dir)
	must(t, err)
	for _, e := range entries {
		if strings.Contains(e.Name(), "write-check") {
			t.Fatalf("the write check left %s behind", e.Name())
		}
	}
}

func TestOpenNeverShowsAPostgreSQLPassword(t *testing.T) {
	for _, u := range []string{
		"postgres://ptg:s3cretpw@127.0.0.1:1/x?connect_timeout=2",
		"postgres://ptg:s3cretpw@127.0.0.1:5432/x%zz",
		"postgresql://ptg:s3cretpw@[::1/x",
	} {
		_, err := store.Open(context.Background(), u, store.Options{})
		if err == nil || strings.Contains(err.Error(), "s3cretpw") {
			t.Errorf("%v", err)
		}
	}
}
