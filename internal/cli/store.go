package cli

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/hellosvc/hello/internal/account"
	"github.com/hellosvc/hello/internal/config"
	"github.com/hellosvc/hello/internal/store/sqlite"
)

// store is an account.Store that can migrate its own schema.
type store interface {
	account.Store
	Migrate(ctx context.Context) (applied int, err error)
}

// openStore opens the storage HELLO_DB names.
func openStore(_ context.Context, cfg *config.Config) (store, error) {
	scheme, rest, _ := strings.Cut(cfg.DB, ":")
	switch scheme {
	case "sqlite":
		return sqlite.Open(rest)
	}
	return nil, fmt.Errorf("%w: HELLO_DB: storage %q is not supported by this build", config.ErrUsage, scheme)
}

// migrate applies the embedded migrations: `hello migrate`.
func migrate(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() { _ = st.Close() }()
	n, err := st.Migrate(ctx)
	if err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	log.Info("migrations applied", "applied", n)
	return nil
}
