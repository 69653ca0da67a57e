package cli

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hellosvc/hello/internal/httpapi"
)

// readiness builds GET /readyz's answer: not ready while draining or when no storage answers;
// "degraded" while part of the storage is down or the shared limiter store is away (the
// service still protects logins with its local fallback then).
func readiness(st *storage, limiter func() string, draining *atomic.Bool, log *slog.Logger) func(ctx context.Context) httpapi.Readiness {
	return func(ctx context.Context) httpapi.Readiness {
		if draining.Load() {
			return httpapi.Readiness{Checks: map[string]string{"server": "shutting down"}}
		}
		rd := httpapi.Readiness{Ready: true, Status: "ok", Checks: map[string]string{}}
		parts := st.health(ctx)
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

// storageUp exports hello_store_shard_up{shard}: 1 while that part of the storage answers,
// asked at each scrape (bounded by a short deadline), so an alert can name the shard.
type storageUp struct {
	st   *storage
	desc *prometheus.Desc
}

func newStorageUp(st *storage) *storageUp {
	return &storageUp{st: st, desc: prometheus.NewDesc("hello_store_shard_up",
		"1 while the storage shard answers (shard=\"storage\" for a single database), 0 otherwise.", []string{"shard"}, nil)}
}

func (c *storageUp) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *storageUp) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for name, err := range c.st.health(ctx) {
		up := 1.0
		if err != nil {
			up = 0
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, up, strings.TrimPrefix(name, "shard:"))
	}
}
