package guard

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	decisions *prometheus.CounterVec
	outcomes  *prometheus.CounterVec
	lockouts  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hello_guard_decisions_total",
			Help: "Brute-force guard decisions by policy (sender, auth_sender, login, captcha) and result (allowed, refused, error).",
		}, []string{"policy", "result"}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hello_guard_login_outcomes_total", Help: "Outcomes of admitted login attempts (success, failure).",
		}, []string{"outcome"}),
		lockouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hello_guard_lockouts_total", Help: "Times a name or device reached its failed-login limit.",
		}),
	}
	for _, c := range []prometheus.Collector{m.decisions, m.outcomes, m.lockouts} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering guard metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) decision(policy string, allowed bool, err error) {
	result := "allowed"
	switch {
	case err != nil:
		result = "error"
	case !allowed:
		result = "refused"
	}
	m.decisions.WithLabelValues(policy, result).Inc()
}

func (m *metrics) outcome(o string) { m.outcomes.WithLabelValues(o).Inc() }
