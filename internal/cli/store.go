package cli

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hellosvc/hello/internal/account"
	"github.com/hellosvc/hello/internal/config"
	"github.com/hellosvc/hello/internal/dsn"
	"github.com/hellosvc/hello/internal/store/postgres"
	"github.com/hellosvc/hello/internal/store/shard"
	"github.com/hellosvc/hello/internal/store/sqlite"
)

// store is an account.Store that can migrate its own schema.
type store interface {
	account.Store
	Migrate(ctx context.Context) (applied int, err error)
	Ping(ctx context.Context) error // readiness: does the storage answer?
	Close() error
}

// storage is the opened store with what serve and migrate need of its kind, decided where the
// kind is known.
type storage struct {
	store
	// health asks every part whether it answers: each shard ("shard:s1"), or "storage".
	health func(ctx context.Context) map[string]error
	// migrateAll migrates every database (hello migrate); a sharded store's Migrate skips the
	// shards that are down so that serve starts and serves the others.
	migrateAll func(ctx context.Context) (applied int, err error)
}

// single is the storage of one database.
func single(st store) *storage {
	return &storage{store: st, migrateAll: st.Migrate,
		health: func(ctx context.Context) map[string]error { return map[string]error{"storage": st.Ping(ctx)} }}
}

// openStore opens the storage HELLO_DB names.
func openStore(ctx context.Context, cfg *config.Config, log *slog.Logger) (*storage, error) {
	if cfg.DB.Kind == dsn.SQLite {
		st, err := sqlite.Open(cfg.DB.Path)
		if err != nil {
			return nil, err
		}
		return single(st), nil
	}
	opts, err := pgOptions(ctx, cfg)
	if err != nil {
		return nil, err
	}
	switch cfg.DB.Kind {
	case dsn.Postgres:
		opts.DSN, opts.Name = cfg.DB.Conn, "postgres"
		st, err := postgres.OpenStore(ctx, opts)
		if err != nil {
			return nil, err
		}
		return single(st), nil
	case dsn.Shards:
		st, err := openShards(ctx, cfg, opts, 0, log)
		if err != nil {
			return nil, err
		}
		return &storage{store: st, health: st.Health, migrateAll: st.MigrateAll}, nil
	}
	return nil, fmt.Errorf("%w: HELLO_DB: storage %s is not supported by this build", config.ErrUsage, cfg.DB)
}

// pgOptions are the settings every PostgreSQL database of the configuration is opened with.
func pgOptions(ctx context.Context, cfg *config.Config) (postgres.Options, error) {
	st := cfg.Storage
	o := postgres.Options{
		Password: st.Password.Reveal(), MaxConns: st.MaxConns, AppUser: st.AppUser,
		ConnectTimeout: st.ConnectTimeout, StatementTimeout: st.StatementTimeout, Timeout: st.Timeout,
	}
	if st.IAMAuth {
		tokens, err := rdsTokens(ctx)
		if err != nil {
			return o, fmt.Errorf("%w: %w", config.ErrUsage, err)
		}
		o.Token = tokens
	}
	return o, nil
}

// openShards opens the sharded store of HELLO_DB=shards:PATH (or shards: with HELLO_SHARDS).
// poll is how often the service checks the map version (0: the default; negative: never).
func openShards(ctx context.Context, cfg *config.Config, opts postgres.Options, poll time.Duration, log *slog.Logger) (*shard.Store, error) {
	file, err := shard.ReadFile(cfg.DB.Path, cfg.Storage.Shards)
	if err != nil {
		return nil, fmt.Errorf("%w: HELLO_DB: %w", config.ErrUsage, err)
	}
	return shard.Open(ctx, shard.Options{
		File: file, Lookup: cfg.Storage.Lookup, DB: opts, Log: log, Poll: poll,
	})
}

// migrate applies the embedded migrations: `hello migrate` (every database of the mode).
func migrate(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer func() { _ = st.Close() }()
	n, err := st.migrateAll(ctx)
	if err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	log.Info("migrations applied", "applied", n)
	return nil
}
