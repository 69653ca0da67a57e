// Package postgres implements account.Store on PostgreSQL (pgx, pgxpool). DB is one database:
// its pool, its schema, and every statement, each of which checks in the same round trip that
// the database serves the row's logical shard. Store is the single-database (vertical) mode on
// top of DB; internal/store/shard builds the sharded mode on many DBs.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hellosvc/hello/internal/account"
	"github.com/hellosvc/hello/internal/store/migrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Options configure one database connection pool.
type Options struct {
	// DSN is a postgres:// URL or key=value string; TLS follows its sslmode.
	DSN string
	// Password is used when the DSN carries none (HELLO_DB_PASSWORD).
	Password string
	// MaxConns is the pool size (0: pgx's default).
	MaxConns int
	// ConnectTimeout bounds establishing one connection (0: the DSN's connect_timeout or none).
	ConnectTimeout time.Duration
	// StatementTimeout is the server-side statement_timeout (0: none).
	StatementTimeout time.Duration
	// Timeout is the deadline of one store call (HELLO_DB_TIMEOUT; 0: the caller's context only).
	Timeout time.Duration
	// Name identifies the database in errors and health reports.
	Name string
	// AppUser, when set, is the application role Migrate creates and grants data rights to
	// (HELLO_DB_APP_USER).
	AppUser string
	// Token, when set, gives the password of every new connection (RDS IAM database
	// authentication: a token valid 15 minutes, so one per connection, never a stored password
	// that a rotation could outdate).
	Token TokenSource
}

// TokenSource returns a password for user at endpoint (host:port) for one new connection.
type TokenSource func(ctx context.Context, endpoint, user string) (string, error)

// DB is one PostgreSQL database.
type DB struct {
	pool    *pgxpool.Pool
	timeout time.Duration
	name    string
	appUser string
}

// Open creates the pool. It does not connect: connections are made on first use, so a database
// that is down does not stop the caller from starting.
func Open(ctx context.Context, o Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(o.DSN)
	if err != nil {
		return nil, fmt.Errorf("postgres %s: invalid DSN: %w", o.Name, redactErr(err))
	}
	if cfg.ConnConfig.Password == "" && o.Password != "" {
		cfg.ConnConfig.Password = o.Password
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = int32(min(o.MaxConns, 1<<20))
	}
	if o.ConnectTimeout > 0 {
		cfg.ConnConfig.ConnectTimeout = o.ConnectTimeout
	}
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	// A commit returns only once its WAL record is flushed (and, with synchronous standbys
	// configured, replicated): an acknowledged write is durable whatever the server default.
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	cfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(o.StatementTimeout.Milliseconds(), 10)
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "hello"
	}
	cfg.HealthCheckPeriod = 10 * time.Second
	// A statement past its deadline is cancelled on the server (a cancel request) and its
	// connection kept. pgx's default closes the connection instead: the backend keeps waiting
	// with nobody to answer, and a stalled database made the pool reconnect once per timed-out
	// statement, so it never caught up while the load lasted. The connection is closed only
	// when the server does not answer the cancel in time (a host that is gone).
	cfg.ConnConfig.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: cancelGrace}
	}
	if o.Token != nil {
		cfg.BeforeConnect = func(ctx context.Context, cc *pgx.ConnConfig) error {
			tok, err := o.Token(ctx, net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port))), cc.User)
			if err != nil {
				return fmt.Errorf("database auth token: %w", err)
			}
			cc.Password = tok
			return nil
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres %s: %w", o.Name, redactErr(err))
	}
	name := o.Name
	if name == "" {
		name = cfg.ConnConfig.Host + "/" + cfg.ConnConfig.Database
	}
	return &DB{pool: pool, timeout: o.Timeout, name: name, appUser: o.AppUser}, nil
}

// cancelGrace is how long a cancelled statement waits for the server to confirm the cancel
// before its connection is closed.
const cancelGrace = time.Second

// redactErr drops the text of DSN parse errors, which can quote the password.
func redactErr(err error) error {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		return errors.New("cannot parse the connection string")
	}
	return err
}

// Name is the name the database was opened with.
func (d *DB) Name() string { return d.name }

// Close closes the pool.
func (d *DB) Close() { d.pool.Close() }

func (d *DB) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if d.timeout > 0 {
		return context.WithTimeout(ctx, d.timeout)
	}
	return context.WithCancel(ctx)
}

// wrap classifies an error: failures to reach or use the database (network, timeouts, server
// shutting down, too many connections, lock timeouts, serialisation failures) wrap
// account.ErrUnavailable, so callers answer 503 and retry; anything else is a bug or a
// constraint violation and is returned as is.
func (d *DB) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code[:2] {
		case "08", "40", "53", "57", "58":
			return fmt.Errorf("%w: postgres %s: %s: %w", account.ErrUnavailable, d.name, op, err)
		}
		if pgErr.Code == "25006" {
			// read_only_sql_transaction: the server was demoted (a failover). Drop every
			// connection, so the next ones find the new primary (target_session_attrs).
			d.pool.Reset()
			return fmt.Errorf("%w: postgres %s: %s: %w", account.ErrUnavailable, d.name, op, err)
		}
		if pgErr.Code == "55P03" { // lock_not_available
			return fmt.Errorf("%w: postgres %s: %s: %w", account.ErrUnavailable, d.name, op, err)
		}
		return fmt.Errorf("postgres %s: %s: %w", d.name, op, err)
	}
	return fmt.Errorf("%w: postgres %s: %s: %w", account.ErrUnavailable, d.name, op, err)
}

// NotOwnerError says the database does not serve the logical shard: the caller's shard map is
// stale (State ""), the shard is still being copied here ("incoming"), or it has been moved to
// Peer ("moved").
type NotOwnerError struct {
	Database string
	Logical  int
	State    State
	Peer     string
	MoveID   int64 // the move that left a pointer ("moved") or is copying ("incoming")
}

func (e *NotOwnerError) Error() string {
	switch e.State {
	case Moved:
		return fmt.Sprintf("postgres %s: logical shard %d has moved to %s", e.Database, e.Logical, e.Peer)
	case Incoming:
		return fmt.Sprintf("postgres %s: logical shard %d is being moved here and is not served yet", e.Database, e.Logical)
	}
	return fmt.Sprintf("postgres %s: does not serve logical shard %d", e.Database, e.Logical)
}

// Migrate applies the embedded migrations this database has not seen yet, each in its own
// transaction under an advisory lock, so replicas starting together apply each one once.
func (d *DB) Migrate(ctx context.Context) (applied int, err error) {
	applied, err = migrate.Apply(ctx, migrationFiles, "migrations", d.applyOne)
	if err == nil && d.appUser != "" {
		err = d.grantApp(ctx)
	}
	return applied, err
}

// grantApp creates the application role (if missing) with data rights on hello's tables and
// no DDL, and lets it log in with an RDS IAM token where the rds_iam role exists. Run by
// `hello migrate` as the master user; `serve` then connects as this role.
func (d *DB) grantApp(ctx context.Context) error {
	role := pgx.Identifier{d.appUser}.Sanitize()
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
			return err
		}
		var exists, iam bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1),
			EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam')`, d.appUser).Scan(&exists, &iam); err != nil {
			return err
		}
		stmts := []string{}
		if !exists {
			stmts = append(stmts, `CREATE ROLE `+role+` LOGIN`)
		}
		if iam {
			stmts = append(stmts, `GRANT rds_iam TO `+role)
		}
		stmts = append(stmts,
			`GRANT USAGE ON SCHEMA public TO `+role,
			`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO `+role)
		for _, q := range stmts {
			if _, err := tx.Exec(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		return nil
	})
	return d.wrap("granting the application role", err)
}

// migrationLock is the advisory lock key of schema changes ("hello" in ASCII).
const migrationLock = 0x68656c6c6f

func (d *DB) applyOne(ctx context.Context, m migrate.Migration) (bool, error) {
	var done bool
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, m.Version).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
			return err
		}
		done = true
		return nil
	})
	if err != nil {
		return false, d.wrap("migration "+m.Name, err)
	}
	return done, nil
}

// ownerRead is the common head of every statement: the logical shard's ownership row. A
// statement that writes runs after taking the logical shard's shared write lock (see write):
// a move's pause takes it exclusively.
const ownerRead = `SELECT state, peer, move_id FROM shard_owned WHERE logical_shard = $1::integer`

// owned runs a read whose first three result columns are the ownership state, peer and move id
// of logical shard logical, and whose other columns go to dest.
func (d *DB) owned(ctx context.Context, op string, logical int, query string, args []any, dest ...any) error {
	ctx, cancel := d.callCtx(ctx)
	defer cancel()
	var o ownerCols
	err := d.pool.QueryRow(ctx, query, args...).Scan(o.dest(dest)...)
	return d.ownerErr(op, logical, &o, err)
}

// write runs a write like owned, in one round trip and one implicit transaction, after taking
// logical shard logical's shared write lock: a transaction-level advisory lock, so no heap write and
// no MultiXact per statement, and fair (a waiting pause lets no new writer past). The write is
// a second statement, so its snapshot is taken after the lock: it sees a switch that committed
// while it waited.
func (d *DB) write(ctx context.Context, op string, logical int, query string, args []any, dest ...any) error {
	ctx, cancel := d.callCtx(ctx)
	defer cancel()
	var o ownerCols
	var rowErr error
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock_shared($1::integer, $2::integer)`, shardLockClass, logical)
	b.Queue(query, args...).QueryRow(func(row pgx.Row) error {
		rowErr = row.Scan(o.dest(dest)...)
		return nil
	})
	err := d.pool.SendBatch(ctx, b).Close()
	if err == nil {
		err = rowErr
	}
	return d.ownerErr(op, logical, &o, err)
}

type ownerCols struct {
	state  State
	peer   string
	moveID int64
}

func (o *ownerCols) dest(rest []any) []any {
	return append([]any{&o.state, &o.peer, &o.moveID}, rest...)
}

func (d *DB) ownerErr(op string, logical int, o *ownerCols, err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return &NotOwnerError{Database: d.name, Logical: logical}
	}
	if err != nil {
		return d.wrap(op, err)
	}
	if o.state != Owned {
		return &NotOwnerError{Database: d.name, Logical: logical, State: o.state, Peer: o.peer, MoveID: o.moveID}
	}
	return nil
}

// CreateAccount inserts a, whose logical shard is logical.
func (d *DB) CreateAccount(ctx context.Context, logical int, a account.Account) error {
	var n int
	err := d.write(ctx, "inserting account", logical, `
		WITH o AS (`+ownerRead+`),
		ins AS (INSERT INTO accounts (username, logical_shard, password_hash, created_at)
			SELECT $2::text, $1::integer, $3::text, $4::timestamptz FROM o WHERE o.state = 'owned'
			-- No conflict target: the username is unique in two indexes (the key and the replica
			-- identity), and a concurrent insert of the same name may hit either first.
			ON CONFLICT DO NOTHING RETURNING 1)
		SELECT o.state, o.peer, o.move_id, (SELECT count(*) FROM ins) FROM o`,
		[]any{logical, a.Username, a.PasswordHash, a.CreatedAt.UTC()}, &n)
	if err != nil {
		return err
	}
	if n == 0 {
		return account.ErrConflict
	}
	return nil
}

// GetAccount loads the account username of logical shard logical.
func (d *DB) GetAccount(ctx context.Context, logical int, username string) (account.Account, error) {
	var hash, devices *string
	var created *time.Time
	err := d.owned(ctx, "loading account", logical, `
		SELECT o.state, o.peer, o.move_id, a.password_hash, a.created_at, a.devices
		FROM shard_owned o LEFT JOIN accounts a ON a.username = $2
		WHERE o.logical_shard = $1`, []any{logical, username}, &hash, &created, &devices)
	if err != nil {
		return account.Account{}, err
	}
	if hash == nil || created == nil || devices == nil {
		return account.Account{}, account.ErrNotFound
	}
	return account.Account{Username: username, PasswordHash: *hash, CreatedAt: created.UTC(), Devices: strings.Fields(*devices)}, nil
}

// AddDevice makes device the newest of username's trusted devices (logical shard logical), keeping
// the newest account.MaxDevices, in one statement.
func (d *DB) AddDevice(ctx context.Context, logical int, username, device string) error {
	return d.writeOne(ctx, "adding device", logical, `
		WITH o AS (`+ownerRead+`),
		w AS (UPDATE accounts a SET devices = (
				SELECT array_to_string(x[greatest(cardinality(x) - $4::integer + 1, 1):], ' ')
				FROM (SELECT array_append(array_remove(string_to_array(a.devices, ' '), $3::text), $3::text) AS x) n)
			WHERE username = $2 AND EXISTS (SELECT 1 FROM o WHERE o.state = 'owned') RETURNING 1)
		SELECT o.state, o.peer, o.move_id, (SELECT count(*) FROM w) FROM o`, logical, username, device, account.MaxDevices)
}

// ForgetDevices removes device ("" : every device) from username's trusted devices.
func (d *DB) ForgetDevices(ctx context.Context, logical int, username, device string) error {
	return d.writeOne(ctx, "forgetting devices", logical, `
		WITH o AS (`+ownerRead+`),
		w AS (UPDATE accounts SET devices = CASE WHEN $3::text = '' THEN ''
				ELSE array_to_string(array_remove(string_to_array(devices, ' '), $3::text), ' ') END
			WHERE username = $2 AND EXISTS (SELECT 1 FROM o WHERE o.state = 'owned') RETURNING 1)
		SELECT o.state, o.peer, o.move_id, (SELECT count(*) FROM w) FROM o`, logical, username, device)
}

// UpdatePasswordHash replaces the password hash of username (logical shard logical).
func (d *DB) UpdatePasswordHash(ctx context.Context, logical int, username, hash string) error {
	return d.writeOne(ctx, "updating password hash", logical, `
		WITH o AS (`+ownerRead+`),
		w AS (UPDATE accounts SET password_hash = $3
			WHERE username = $2 AND EXISTS (SELECT 1 FROM o WHERE o.state = 'owned') RETURNING 1)
		SELECT o.state, o.peer, o.move_id, (SELECT count(*) FROM w) FROM o`, logical, username, hash)
}

// CreateSession inserts s, whose username's logical shard is logical.
func (d *DB) CreateSession(ctx context.Context, logical int, s account.Session) error {
	return d.writeOne(ctx, "inserting session", logical, `
		WITH o AS (`+ownerRead+`),
		w AS (INSERT INTO sessions (username, token_hash, logical_shard, expires_at)
			SELECT $2::text, $3::bytea, $1::integer, $4::timestamptz FROM o WHERE o.state = 'owned' RETURNING 1)
		SELECT o.state, o.peer, o.move_id, (SELECT count(*) FROM w) FROM o`, logical, s.Username, s.TokenHash, s.ExpiresAt.UTC())
}

// GetSession loads the session of username (logical shard logical) whose token hashes to tokenHash.
func (d *DB) GetSession(ctx context.Context, logical int, username string, tokenHash []byte) (account.Session, error) {
	var exp *time.Time
	err := d.owned(ctx, "loading session", logical, `
		SELECT o.state, o.peer, o.move_id, s.expires_at
		FROM shard_owned o LEFT JOIN sessions s ON s.username = $2 AND s.token_hash = $3
		WHERE o.logical_shard = $1`, []any{logical, username, tokenHash}, &exp)
	if err != nil {
		return account.Session{}, err
	}
	if exp == nil {
		return account.Session{}, account.ErrNotFound
	}
	return account.Session{Username: username, TokenHash: tokenHash, ExpiresAt: exp.UTC()}, nil
}

// DeleteSession deletes one session of username (logical shard logical).
func (d *DB) DeleteSession(ctx context.Context, logical int, username string, tokenHash []byte) error {
	return d.writeOne(ctx, "deleting session", logical, `
		WITH o AS (`+ownerRead+`),
		w AS (DELETE FROM sessions WHERE username = $2 AND token_hash = $3
			AND EXISTS (SELECT 1 FROM o WHERE o.state = 'owned') RETURNING 1)
		SELECT o.state, o.peer, o.move_id, (SELECT count(*) FROM w) FROM o`, logical, username, tokenHash)
}

// writeOne runs an ownership-checked write that must touch exactly one row.
func (d *DB) writeOne(ctx context.Context, op string, logical int, query string, args ...any) error {
	var n int
	if err := d.write(ctx, op, logical, query, args, &n); err != nil {
		return err
	}
	if n == 0 {
		return account.ErrNotFound
	}
	return nil
}

// DeleteExpiredSessions deletes the sessions that expired before now in the logical shards
// this database serves, skipping any that a move has paused. (A purge that raced a switch
// deletes expired sessions on the old owner only: rows that were going anyway.)
func (d *DB) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	tag, err := d.pool.Exec(ctx, `
		DELETE FROM sessions WHERE expires_at <= $1 AND logical_shard IN (
			SELECT logical_shard FROM shard_owned
			WHERE state = 'owned' AND pg_try_advisory_xact_lock_shared($2::integer, logical_shard))`, now.UTC(), shardLockClass)
	if err != nil {
		return 0, d.wrap("deleting expired sessions", err)
	}
	return tag.RowsAffected(), nil
}

// Ping reports whether the database answers within the call timeout.
func (d *DB) Ping(ctx context.Context) error {
	ctx, cancel := d.callCtx(ctx)
	defer cancel()
	var one int
	if err := d.pool.QueryRow(ctx, `SELECT 1`).Scan(&one); err != nil {
		return d.wrap("ping", err)
	}
	return nil
}
