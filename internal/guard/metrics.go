package guard

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	// One set of counters per policy, resolved once: labels are not hashed per request.
	sender, authSender, login, captcha results
	outcomes                           *prometheus.CounterVec
	lockouts                           prometheus.Counter
}

type results struct{ allowed, refused, errored prometheus.Counter }

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	decisions := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hello_guard_decisions_total",
		Help: "Brute-force guard decisions by policy (sender, auth_sender, login, captcha) and result (allowed, refused, error).",
	}, []string{"policy", "result"})
	policy := func(name string) results {
		return results{decisions.WithLabelValues(name, "allowed"), decisions.WithLabelValues(name, "refused"), decisions.WithLabelValues(name, "error")}
	}
	m := &metrics{
		sender: policy("sender"), authSender: policy("auth_sender"), login: policy("login"), captcha: policy("captcha"),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hello_guard_login_outcomes_total", Help: "Outcomes of admitted login attempts (success, failure, shed: 503 busy, rechecked: asked for a captcha when its hashing slot came).",
		}, []string{"outcome"}),
		lockouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hello_guard_lockouts_total", Help: "Times a name or device reached its failed-login limit.",
		}),
	}
	for _, c := range []prometheus.Collector{decisions, m.outcomes, m.lockouts} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering guard metrics: %w", err)
		}
	}
	return m, nil
}

func (r results) count(allowed bool, err error) {
	switch {
	case err != nil:
		r.errored.Inc()
	case !allowed:
		r.refused.Inc()
	default:
		r.allowed.Inc()
	}
}

func (m *metrics) outcome(o string) { m.outcomes.WithLabelValues(o).Inc() }
