package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hellosvc/hello/internal/account"
	"github.com/hellosvc/hello/internal/store/shardkey"
)

// Store is account.Store on one PostgreSQL database: the vertical mode (HELLO_DB=postgres://…).
// Its rows carry their logical shard (shardkey.DefaultLogicalShards of them) and the database
// owns all of them, so it can later become the first physical shard of a sharded set as is.
type Store struct {
	db *DB
}

var _ account.Store = (*Store)(nil)

// OpenStore opens the database. It does not migrate: call Migrate.
func OpenStore(ctx context.Context, o Options) (*Store, error) {
	db, err := Open(ctx, o)
	if err != nil {
		return nil, err
	}
	return &Store{db: db}, nil
}

// DB is the underlying database.
func (s *Store) DB() *DB { return s.db }

// ErrShardMember: the database belongs to a sharded set and must be opened with HELLO_DB=shards:.
var ErrShardMember = errors.New("this database is a physical shard of a sharded set (it holds a shard map): open it with HELLO_DB=shards:PATH")

// Migrate applies the schema migrations and makes the database the owner of every logical
// shard. It refuses a database that has become part of a sharded set, since serving it alone
// would create a second owner of logical shards that have moved.
func (s *Store) Migrate(ctx context.Context) (int, error) {
	n, err := s.db.Migrate(ctx)
	if err != nil {
		return n, err
	}
	err = pgx.BeginFunc(ctx, s.db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
			return err
		}
		var sharded bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM shard_map)`).Scan(&sharded); err != nil {
			return err
		}
		if sharded {
			return ErrShardMember
		}
		_, err := tx.Exec(ctx, `INSERT INTO shard_owned (logical_shard, state)
			SELECT g, 'owned' FROM generate_series(0, $1::integer - 1) g ON CONFLICT (logical_shard) DO NOTHING`,
			shardkey.DefaultLogicalShards)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE shard_meta SET logical_shards = $1 WHERE logical_shards = 0`, shardkey.DefaultLogicalShards)
		return err
	})
	if errors.Is(err, ErrShardMember) {
		return n, err
	}
	return n, s.db.wrap("claiming logical shards", err)
}

func logicalOf(username string) int { return shardkey.Logical(username, shardkey.DefaultLogicalShards) }

// notOwned turns an ownership refusal, which a single database never expects, into an error.
func notOwned(err error) error {
	var no *NotOwnerError
	if errors.As(err, &no) {
		return fmt.Errorf("%w (%w)", err, ErrShardMember)
	}
	return err
}

func (s *Store) CreateAccount(ctx context.Context, a account.Account) error {
	return notOwned(s.db.CreateAccount(ctx, logicalOf(a.Username), a))
}

func (s *Store) GetAccount(ctx context.Context, username string) (account.Account, error) {
	a, err := s.db.GetAccount(ctx, logicalOf(username), username)
	return a, notOwned(err)
}

func (s *Store) UpdatePasswordHash(ctx context.Context, username, hash string) error {
	return notOwned(s.db.UpdatePasswordHash(ctx, logicalOf(username), username, hash))
}

func (s *Store) AddDevice(ctx context.Context, username, device string) error {
	return notOwned(s.db.AddDevice(ctx, logicalOf(username), username, device))
}

func (s *Store) ForgetDevices(ctx context.Context, username, device string) error {
	return notOwned(s.db.ForgetDevices(ctx, logicalOf(username), username, device))
}

func (s *Store) CreateSession(ctx context.Context, ss account.Session) error {
	return notOwned(s.db.CreateSession(ctx, logicalOf(ss.Username), ss))
}

func (s *Store) GetSession(ctx context.Context, username string, tokenHash []byte) (account.Session, error) {
	ss, err := s.db.GetSession(ctx, logicalOf(username), username, tokenHash)
	return ss, notOwned(err)
}

func (s *Store) DeleteSession(ctx context.Context, username string, tokenHash []byte) error {
	return notOwned(s.db.DeleteSession(ctx, logicalOf(username), username, tokenHash))
}

func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	return s.db.DeleteExpiredSessions(ctx, now)
}

func (s *Store) Ping(ctx context.Context) error { return s.db.Ping(ctx) }

func (s *Store) Close() error {
	s.db.Close()
	return nil
}
