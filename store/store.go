// Package store persists the credentials server's records with gorm, on the
// embedded pure-Go SQLite default or on PostgreSQL. It imports no project package:
// callers pass plain values and get records back.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

var (
	// ErrNotFound is returned when a looked-up record does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict is returned when a write breaks a uniqueness rule.
	ErrConflict = errors.New("store: conflict")
)

// Dialect names the database behind a Store.
type Dialect string

// The supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Store is a handle on the database. A Store returned by Tx is bound to that
// transaction; all methods work the same on both.
type Store struct {
	db      *gorm.DB
	dialect Dialect
	// migrating serializes Migrate within the process: gorm's AutoMigrate races
	// on its shared schema cache when run concurrently.
	migrating *sync.Mutex
	// url is the PostgreSQL URL, for the listening connection, and channel the
	// notification channel of its schema (notify.go).
	url, channel string
	// writers admits one write transaction at a time on SQLite (nil on
	// PostgreSQL, and inside a transaction). SQLite runs them one at a time
	// anyway; waiting here instead of in SQLite's busy handler keeps waiting
	// transactions from holding pool connections. Otherwise a burst of writers
	// can take every connection while the one holding the lock waits for a
	// statement that gorm is preparing on the pool, which waits for a
	// connection: nothing moves until busy_timeout fails them all with
	// SQLITE_BUSY. It also serves writers first come, first served.
	writers chan struct{}
}

// Options tune Open.
type Options struct {
	// MaxOpenConns caps the pool (0: a default per dialect).
	MaxOpenConns int
	// Logger receives slow-query warnings; nil silences gorm.
	Logger *slog.Logger
}

// Open connects to the database named by rawURL: "sqlite:PATH" (PATH may be
// ":memory:" only in tests) or "postgres://...". It does not migrate.
func Open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	cfg := &gorm.Config{
		TranslateError:         true,
		SkipDefaultTransaction: true,
		PrepareStmt:            true,
		Logger:                 logger.Discard,
		NowFunc:                func() time.Time { return time.Now().UTC() },
	}
	var (
		dialector gorm.Dialector
		dialect   Dialect
		maxConns  = opts.MaxOpenConns
	)
	switch {
	case strings.HasPrefix(rawURL, "sqlite:"):
		path := strings.TrimPrefix(rawURL, "sqlite:")
		path = strings.TrimPrefix(path, "//")
		if path == "" {
			return nil, errors.New("store: sqlite URL needs a file path, e.g. sqlite:pentographer.db")
		}
		if err := checkSQLitePath(path); err != nil {
			return nil, err
		}
		dialector = sqlite.Open(sqliteDSN(path))
		dialect = SQLite
		if maxConns == 0 {
			maxConns = 8
		}
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		dialector = postgres.New(postgres.Config{DSN: rawURL})
		dialect = Postgres
		if maxConns == 0 {
			maxConns = 20
		}
	default:
		return nil, fmt.Errorf("store: unsupported database URL scheme in %q (want sqlite:PATH or postgres://...)", redactURL(rawURL))
	}
	// gorm's prepared-statement cache is one process-wide map under one lock;
	// a statement being prepared on the pool holds up every query that wants
	// it until a connection frees, so with the pool taken by transactions
	// waiting for a lock the holder of that lock can stall behind it. pgx keeps
	// a prepared-statement cache per connection already, so PostgreSQL does
	// without gorm's; SQLite keeps it (its writers wait outside the pool, see
	// writers).
	cfg.PrepareStmt = dialect == SQLite
	db, err := gorm.Open(dialector, cfg)
	if err != nil {
		return nil, openError(dialect, rawURL, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("store: pool: %w", err)
	}
	sqlDB.SetMaxOpenConns(maxConns)
	sqlDB.SetMaxIdleConns(maxConns)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	s := &Store{db: db, dialect: dialect, migrating: &sync.Mutex{}}
	if dialect == SQLite {
		s.writers = make(chan struct{}, 1)
	}
	if dialect == Postgres {
		s.url = rawURL
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(pingCtx); err != nil {
		_ = sqlDB.Close()
		return nil, openError(dialect, rawURL, err)
	}
	if dialect == Postgres {
		if s.channel, err = s.notificationChannel(pingCtx); err != nil {
			_ = sqlDB.Close()
			return nil, err
		}
	}
	return s, nil
}

// checkSQLitePath explains, before the driver tries, why a SQLite database could
// not be opened: the driver itself only says "unable to open database file: out of
// memory (14)". SQLite needs the file readable and writable and, for its
// write-ahead log, a writable directory beside it. The mode-bit checks also hold
// for root, whom the operating system would let through.
func checkSQLitePath(path string) error {
	if path == ":memory:" {
		return nil
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("store: cannot open the SQLite database %q: %s", path, fmt.Sprintf(format, args...))
	}
	dir := filepath.Dir(path)
	di, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fail("the directory %q does not exist; create it or choose another path", dir)
	case err != nil:
		return fail("the directory %q cannot be read: %v", dir, osReason(err))
	case !di.IsDir():
		return fail("%q is not a directory", dir)
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// SQLite creates it.
	case err != nil:
		return fail("%v", osReason(err))
	case fi.IsDir():
		return fail("it is a directory, not a database file")
	case fi.Mode().Perm()&0o222 == 0:
		return fail("the file is read-only (mode %04o); the server writes to it", fi.Mode().Perm())
	default:
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return fail("the file cannot be opened for reading and writing: %v", osReason(err))
		}
		_ = f.Close()
	}
	if di.Mode().Perm()&0o222 == 0 {
		return fail("the directory %q is read-only (mode %04o); SQLite writes its journal beside the database", dir, di.Mode().Perm())
	}
	// The only portable way to know that a file can be created in dir.
	probe, err := os.CreateTemp(dir, ".pentographer-write-check-*")
	if err != nil {
		return fail("cannot create files in the directory %q (%v); SQLite writes its journal beside the database", dir, osReason(err))
	}
	_ = probe.Close()
	_ = os.Remove(probe.Name())
	return nil
}

// osReason is the operating system's reason without the path, which the caller's
// message names already: "permission denied", "read-only file system".
func osReason(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// openError names what failed to open: the SQLite driver's "unable to open
// database file (14)" becomes a hint, and a PostgreSQL password never appears
// (the driver redacts it today; this holds if it ever does not).
func openError(dialect Dialect, rawURL string, err error) error {
	var coded interface{ Code() int }
	if dialect == SQLite && errors.As(err, &coded) && coded.Code()&0xff == sqliteCantOpen {
		path := strings.TrimPrefix(strings.TrimPrefix(rawURL, "sqlite:"), "//")
		return fmt.Errorf("store: cannot open the SQLite database %q: SQLite cannot open the file; "+
			"check that the path names a file in an existing, writable directory", path)
	}
	msg := err.Error()
	if u, perr := url.Parse(rawURL); perr == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" && strings.Contains(msg, pw) {
			return fmt.Errorf("store: open %s: %s", dialect, strings.ReplaceAll(msg, pw, "xxxxx"))
		}
	}
	return fmt.Errorf("store: open %s: %w", dialect, err)
}

// sqliteCantOpen is SQLITE_CANTOPEN, the primary code of every "cannot open" error.
const sqliteCantOpen = 14

// sqliteDSN sets the pragmas every pooled connection needs: WAL so readers never
// block the writer, a busy timeout so concurrent writers queue instead of failing
// with "database is locked", foreign keys on, and BEGIN IMMEDIATE so a transaction
// that reads before it writes cannot deadlock on the lock upgrade.
func sqliteDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode()
}

// redactURL drops a password from a database URL so it can appear in errors.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparsable URL>"
	}
	return u.Redacted()
}

// Dialect reports which database the store talks to.
func (s *Store) Dialect() Dialect { return s.dialect }

// Close releases the pool.
func (s *Store) Close() error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// Stats reports the connection pool's statistics (zero for a Store bound to a
// transaction), for metrics.
func (s *Store) Stats() sql.DBStats {
	sqlDB, err := s.db.DB()
	if err != nil {
		return sql.DBStats{}
	}
	return sqlDB.Stats()
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// Tx runs fn in one transaction, committed when fn returns nil.
func (s *Store) Tx(ctx context.Context, fn func(tx *Store) error) error {
	if s.writers != nil {
		select {
		case s.writers <- struct{}{}:
			defer func() { <-s.writers }()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return fn(&Store{db: tx, dialect: s.dialect, migrating: s.migrating, url: s.url, channel: s.channel})
	})
	return translate(err)
}

// conn returns the gorm handle for one call.
func (s *Store) conn(ctx context.Context) *gorm.DB { return s.db.WithContext(ctx) }

// translate maps driver and gorm errors onto ErrNotFound and ErrConflict in one place.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrConflict):
		return err
	case errors.Is(err, gorm.ErrRecordNotFound):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	return err
}

// wrap prefixes err with the operation and translates it.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("store: %s: %w", op, translate(err))
}
