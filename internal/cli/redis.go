package cli

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"github.com/hellosvc/hello/internal/config"
	"github.com/hellosvc/hello/internal/guard"
	"github.com/hellosvc/hello/internal/guard/redis"
)

// newRedisStore connects the shared limiter store. Redis need not be up at start: until it
// answers, decisions fall back to local (or are refused, with HELLO_REDIS_FAILURE=deny).
func newRedisStore(ctx context.Context, cfg *config.Config, local guard.Store, log *slog.Logger, reg prometheus.Registerer) (*redis.Store, error) {
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
	checkEviction(ctx, s, log)
	return s, nil
}

// checkEviction warns, loudly, when Redis may evict the limiter's keys: under memory pressure
// an evicting policy drops failure logs, and every lock they hold vanishes with them.
func checkEviction(ctx context.Context, s *redis.Store, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	policy, safe, err := s.CheckEviction(ctx)
	switch {
	case err != nil:
		log.Warn("limiter: could not read redis' maxmemory-policy; it must be noeviction", "err", err)
	case !safe:
		log.Error("limiter: redis maxmemory-policy evicts keys: under memory pressure failure logs, and the lockouts they hold, "+
			"silently vanish; set maxmemory-policy noeviction (an out-of-memory redis is then a failure this service falls back on)",
			"maxmemory_policy", policy)
	}
}

// redisLogger adapts slog to go-redis' logger.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis client", "detail", strings.TrimSpace(fmt.Sprintf(format, v...)))
}
