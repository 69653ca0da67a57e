package cli

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"github.com/hellosvc/hello/internal/config"
	"github.com/hellosvc/hello/internal/guard"
	"github.com/hellosvc/hello/internal/guard/redis"
)

// sharedStore is a limiter store shared by every replica, with a local fallback.
type sharedStore interface {
	guard.Store
	State() string
	Close() error
}

// newRedisStore connects the shared limiter store. Redis need not be up at start: until it
// answers, decisions fall back to local (or are refused, with HELLO_REDIS_FAILURE=deny).
func newRedisStore(_ context.Context, cfg *config.Config, local guard.Store, log *slog.Logger, reg prometheus.Registerer) (sharedStore, error) {
	// go-redis reports connection trouble through a process-wide logger of its own (plain text
	// on stderr); route it into the service's JSON log instead.
	goredis.SetLogger(redisLogger{log})
	s, err := redis.New(redis.Options{
		URL: cfg.Guard.RedisURL, Password: cfg.Guard.RedisPassword.Reveal(),
		Local: local, FailureMode: cfg.Guard.RedisFailure, Logger: log, Registerer: reg,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: HELLO_REDIS_URL: %w", config.ErrUsage, err)
	}
	return s, nil
}

// redisLogger adapts slog to go-redis' logger.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis client", "detail", strings.TrimSpace(fmt.Sprintf(format, v...)))
}
