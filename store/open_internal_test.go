package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

// TestTheDriversCannotOpenErrorIsExplained feeds openError a real "unable to open
// database file" error of the SQLite driver, one that the checks before it do not
// foresee.
func TestTheDriversCannotOpenErrorIsExplained(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "p.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.PingContext(context.Background())
	if err == nil {
		t.Fatal("the driver opened a file in a missing directory")
	}
	got := openError(SQLite, "sqlite:"+path, err).Error()
	if !strings.Contains(got, `"`+path+`"`) || !strings.Contains(got, "writable directory") || strings.Contains(got, "out of memory") {
		t.Fatalf("%s (driver said %v)", got, err)
	}
}

func TestOpenErrorRedactsAPasswordTheDriverWouldShow(t *testing.T) {
	err := openError(Postgres, "postgres://u:pw-123@db/x", errorString("connect to postgres://u:pw-123@db/x failed"))
	if strings.Contains(err.Error(), "pw-123") || !strings.Contains(err.Error(), "failed") {
		t.Fatal(err)
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }
