package cli

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/hellosvc/hello/internal/httpapi"
)

// healthReporter is implemented by stores that span several databases (shards): each one is
// reported by name, and the service stays ready while at least one answers.
type healthReporter interface {
	Health(ctx context.Context) map[string]error
}

// readiness builds GET /readyz's answer: not ready while draining or when no storage answers;
// "degraded" while part of the storage is down or the shared limiter store is away (the
// service still protects logins with its local fallback then).
func readiness(st store, limiter func() string, draining *atomic.Bool, log *slog.Logger) func(ctx context.Context) httpapi.Readiness {
	return func(ctx context.Context) httpapi.Readiness {
		if draining.Load() {
			return httpapi.Readiness{Checks: map[string]string{"server": "shutting down"}}
		}
		rd := httpapi.Readiness{Ready: true, Status: "ok", Checks: map[string]string{}}
		parts := map[string]error{"storage": nil}
		if hr, ok := st.(healthReporter); ok {
			parts = hr.Health(ctx)
		} else {
			parts["storage"] = st.Ping(ctx)
		}
		up := 0
		for name, err := range parts {
			if err != nil {
				log.WarnContext(ctx, "storage not ready", "part", name, "err", err)
				rd.Checks[name] = "unavailable"
				rd.Status = "degraded"
				continue
			}
			rd.Checks[name] = "ok"
			up++
		}
		if up == 0 {
			rd.Ready = false
		}
		rd.Checks["limiter"] = limiter()
		if rd.Checks["limiter"] != "ok" {
			rd.Status = "degraded"
		}
		return rd
	}
}
