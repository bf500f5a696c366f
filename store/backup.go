package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Backup writes a consistent copy of a SQLite database to path while the
// database stays in use: SQLite's VACUUM INTO reads one snapshot (a read
// transaction, which in WAL mode blocks no writer) and writes it out as a
// compact database file. The copy appears at path whole or not at all:
//
//  1. path is created exclusively (empty), so an existing file is never
//     overwritten and two backups cannot race for one name;
//  2. the snapshot is written to a temporary file beside it and synced;
//  3. the temporary file is renamed over the empty placeholder.
//
// The copy is readable by its owner only: it holds every secret digest and the
// signing keys. PostgreSQL has its own tools, which Backup points to.
func (s *Store) Backup(ctx context.Context, path string) (err error) {
	if s.dialect != SQLite {
		return errors.New("store: backup: only SQLite databases are backed up by this command; " +
			"back up PostgreSQL with its own tools, e.g. pg_dump --format=custom, or your provider's snapshots")
	}
	if path == "" {
		return errors.New("store: backup: the backup needs a file name")
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("store: backup to %q: %s", path, fmt.Sprintf(format, args...))
	}
	placeholder, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case errors.Is(err, fs.ErrExist):
		return fail("the file exists already; a backup never overwrites a file, choose a new name")
	case errors.Is(err, fs.ErrNotExist):
		return fail("the directory %q does not exist", filepath.Dir(path))
	case err != nil:
		return fail("%v", osReason(err))
	}
	_ = placeholder.Close()
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".partial-*")
	if err != nil {
		_ = os.Remove(path)
		return fail("cannot create a temporary file beside it: %v", osReason(err))
	}
	_ = tmp.Close()
	renamed := false
	defer func() {
		if !renamed {
			_ = os.Remove(tmp.Name())
			_ = os.Remove(path)
		}
	}()
	// SQLite writes into an existing file only when it is empty, as this one is.
	if err := s.conn(ctx).Exec("VACUUM INTO ?", tmp.Name()).Error; err != nil {
		return fail("%v", err)
	}
	// VACUUM INTO does not sync what it wrote.
	if err := syncFile(tmp.Name()); err != nil {
		return fail("sync: %v", osReason(err))
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fail("%v", osReason(err))
	}
	renamed = true
	if err := syncFile(filepath.Dir(path)); err != nil {
		return fail("sync the directory: %v", osReason(err))
	}
	return nil
}

// syncFile flushes a file or directory to stable storage.
func syncFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
