// Package sqlite implements account.Store on an embedded SQLite file (pure Go, no cgo): the
// zero-set-up default for `go run` and single-node installs.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hellosvc/hello/internal/account"
	"github.com/hellosvc/hello/internal/store/migrate"

	"modernc.org/sqlite" // also registers the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Store is an account.Store backed by one SQLite file.
type Store struct {
	db       *sql.DB
	stop     chan struct{} // closed by Close: the checkpointer returns
	done     chan struct{} // closed when it has
	stopOnce sync.Once
}

// checkpointEvery is how often the WAL is copied into the database file, off the request path.
const checkpointEvery = time.Second

var _ account.Store = (*Store)(nil)

// Open opens (creating if needed) the database file at path. It does not migrate: call Migrate.
//
// The file runs in WAL mode with synchronous=FULL, so a commit returns only after the WAL is
// fsynced: an acknowledged write survives a crash or power loss. Write transactions take the
// lock up front (BEGIN IMMEDIATE) and wait up to 10 s for it instead of failing with SQLITE_BUSY.
//
// The WAL is checkpointed every second by the Store's own goroutine, not by the commits:
// SQLite's automatic checkpoint runs in the commit that fills 1,000 pages, which then copies them
// into the database file and fsyncs it before it returns. At 17 logins/s that was one such
// commit every ~10 s, each a p99 peak in the login latency (bench/README.md, "The periodic
// peaks").
func Open(path string) (*Store, error) { return open(path, checkpointEvery) }

func open(path string, every time.Duration) (*Store, error) {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(ON)", "busy_timeout(10000)", "wal_autocheckpoint(0)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("opening sqlite %s: %w", path, err)
	}
	if err := db.Ping(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("opening sqlite %s: %w", path, err)
	}
	s := &Store{db: db, stop: make(chan struct{}), done: make(chan struct{})}
	go s.checkpoint(every)
	return s, nil
}

// checkpoint copies the WAL into the database file every interval until Close. PASSIVE waits
// for no reader or writer: whatever a reader still needs is copied at a later turn. A failure
// is retried at the next turn; the WAL grows meanwhile, and no write is lost.
func (s *Store) checkpoint(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), every) // a busy pool: skip a turn
			_, _ = s.db.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
			cancel()
		}
	}
}

// Migrate applies the embedded migrations that this database has not seen yet. It is
// idempotent and safe to run at every start.
func (s *Store) Migrate(ctx context.Context) (applied int, err error) {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		return 0, fmt.Errorf("creating schema_migrations: %w", err)
	}
	return migrate.Apply(ctx, migrationFiles, "migrations", s.applyOne)
}

func (s *Store) applyOne(ctx context.Context, m migrate.Migration) (bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migration %s: %w", m.Name, err)
	}
	defer func() { _ = tx.Rollback() }()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&n); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.Name, err)
	}
	if n > 0 {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.Version, m.Name, time.Now().UnixMilli()); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.Name, err)
	}
	return true, nil
}

func (s *Store) CreateAccount(ctx context.Context, a account.Account) error {
	res, err := s.db.ExecContext(ctx,
		`INSERT INTO accounts (username, password_hash, created_at) VALUES (?, ?, ?) ON CONFLICT (username) DO NOTHING`,
		a.Username, a.PasswordHash, a.CreatedAt.UnixMilli())
	if err != nil {
		return wrap("inserting account", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return wrap("inserting account", err)
	} else if n == 0 {
		return account.ErrConflict
	}
	return nil
}

func (s *Store) GetAccount(ctx context.Context, username string) (account.Account, error) {
	a := account.Account{Username: username}
	var created int64
	var devices string
	err := s.db.QueryRowContext(ctx, `SELECT password_hash, created_at, devices FROM accounts WHERE username = ?`, username).
		Scan(&a.PasswordHash, &created, &devices)
	if errors.Is(err, sql.ErrNoRows) {
		return account.Account{}, account.ErrNotFound
	}
	if err != nil {
		return account.Account{}, wrap("loading account", err)
	}
	a.CreatedAt = time.UnixMilli(created).UTC()
	a.Devices = strings.Fields(devices)
	return a, nil
}

func (s *Store) AddDevice(ctx context.Context, username, device string) error {
	return s.editDevices(ctx, username, func(ds []string) []string {
		ds = append(slices.DeleteFunc(ds, func(d string) bool { return d == device }), device)
		return ds[max(0, len(ds)-account.MaxDevices):]
	})
}

func (s *Store) ForgetDevices(ctx context.Context, username, device string) error {
	return s.editDevices(ctx, username, func(ds []string) []string {
		if device == "" {
			return nil
		}
		return slices.DeleteFunc(ds, func(d string) bool { return d == device })
	})
}

// editDevices rewrites username's device list in one write transaction (BEGIN IMMEDIATE:
// concurrent edits queue instead of losing each other's changes).
func (s *Store) editDevices(ctx context.Context, username string, edit func([]string) []string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return wrap("editing devices", err)
	}
	defer func() { _ = tx.Rollback() }()
	var devices string
	err = tx.QueryRowContext(ctx, `SELECT devices FROM accounts WHERE username = ?`, username).Scan(&devices)
	if errors.Is(err, sql.ErrNoRows) {
		return account.ErrNotFound
	}
	if err != nil {
		return wrap("editing devices", err)
	}
	next := strings.Join(edit(strings.Fields(devices)), " ")
	if _, err := tx.ExecContext(ctx, `UPDATE accounts SET devices = ? WHERE username = ?`, next, username); err != nil {
		return wrap("editing devices", err)
	}
	if err := tx.Commit(); err != nil {
		return wrap("editing devices", err)
	}
	return nil
}

func (s *Store) UpdatePasswordHash(ctx context.Context, username, hash string) error {
	return s.execOne(ctx, `UPDATE accounts SET password_hash = ? WHERE username = ?`, hash, username)
}

func (s *Store) CreateSession(ctx context.Context, ss account.Session) error {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO sessions (username, token_hash, expires_at) VALUES (?, ?, ?)`,
		ss.Username, ss.TokenHash, ss.ExpiresAt.UnixMilli()); err != nil {
		return wrap("inserting session", err)
	}
	return nil
}

func (s *Store) GetSession(ctx context.Context, username string, tokenHash []byte) (account.Session, error) {
	var exp int64
	err := s.db.QueryRowContext(ctx, `SELECT expires_at FROM sessions WHERE username = ? AND token_hash = ?`, username, tokenHash).Scan(&exp)
	if errors.Is(err, sql.ErrNoRows) {
		return account.Session{}, account.ErrNotFound
	}
	if err != nil {
		return account.Session{}, wrap("loading session", err)
	}
	return account.Session{Username: username, TokenHash: tokenHash, ExpiresAt: time.UnixMilli(exp).UTC()}, nil
}

func (s *Store) DeleteSession(ctx context.Context, username string, tokenHash []byte) error {
	return s.execOne(ctx, `DELETE FROM sessions WHERE username = ? AND token_hash = ?`, username, tokenHash)
}

func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, now.UnixMilli())
	if err != nil {
		return 0, wrap("deleting expired sessions", err)
	}
	return res.RowsAffected()
}

// execOne runs a statement that must touch exactly one row.
func (s *Store) execOne(ctx context.Context, query string, args ...any) error {
	res, err := s.db.ExecContext(ctx, query, args...)
	if err != nil {
		return wrap("writing", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap("writing", err)
	}
	if n == 0 {
		return account.ErrNotFound
	}
	return nil
}

func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.db.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return wrap("ping", err)
	}
	return nil
}

// Close stops the checkpointer and closes the database (the last connection to close
// checkpoints what remains).
func (s *Store) Close() error {
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.done
	return s.db.Close()
}

// wrap marks the failures of the database rather than of the statement as
// account.ErrUnavailable (503 storage_unavailable): a locked, full, read-only, unreadable or
// closed file, or a deadline. A constraint or a malformed statement stays a plain error.
func wrap(op string, err error) error {
	var e *sqlite.Error
	if errors.As(err, &e) {
		switch e.Code() & 0xff { // the primary result code
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_READONLY,
			sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN,
			sqlite3.SQLITE_NOTADB:
		default:
			return fmt.Errorf("sqlite: %s: %w", op, err)
		}
	}
	// Anything else comes from database/sql or the context: a closed database, a deadline.
	return fmt.Errorf("%w: sqlite: %s: %w", account.ErrUnavailable, op, err)
}
