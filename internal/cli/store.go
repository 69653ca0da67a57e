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

// strictMigrator is a store spanning several databases whose Migrate skips the ones that are
// down (so the service starts and serves the others); `hello migrate` wants every one.
type strictMigrator interface {
	MigrateAll(ctx context.Context) (applied int, err error)
}

// openStore opens the storage HELLO_DB names.
func openStore(ctx context.Context, cfg *config.Config, log *slog.Logger) (store, error) {
	if cfg.DB.Kind == dsn.SQLite {
		return sqlite.Open(cfg.DB.Path)
	}
	opts, err := pgOptions(ctx, cfg)
	if err != nil {
		return nil, err
	}
	switch cfg.DB.Kind {
	case dsn.Postgres:
		opts.DSN, opts.Name = cfg.DB.Conn, "postgres"
		return postgres.OpenStore(ctx, opts)
	case dsn.Shards:
		return openShards(ctx, cfg, opts, 0, log)
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
	run := st.Migrate
	if sm, ok := st.(strictMigrator); ok {
		run = sm.MigrateAll
	}
	n, err := run(ctx)
	if err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	log.Info("migrations applied", "applied", n)
	return nil
}
