package cli

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hellosvc/hello/internal/config"
	"github.com/hellosvc/hello/internal/guard"
)

// sharedStore is a limiter store shared by every replica, with a local fallback.
type sharedStore interface {
	guard.Store
	State() string
	Close() error
}

func newRedisStore(_ context.Context, _ *config.Config, _ guard.Store, _ *slog.Logger, _ prometheus.Registerer) (sharedStore, error) {
	return nil, fmt.Errorf("%w: HELLO_REDIS_URL: not wired yet", config.ErrUsage)
}
