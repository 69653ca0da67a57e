package httpapi

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type httpMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	logins   *prometheus.CounterVec
	// loginDuration by class: trusted (a device cookie valid for the name) or other, so the
	// latency real users on their own devices get is seen apart from the flood's.
	loginTrusted, loginOther prometheus.Observer
}

func newHTTPMetrics(reg prometheus.Registerer) (*httpMetrics, error) {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hello_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "hello_http_request_duration_seconds", Help: "HTTP request latency by route and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hello_logins_total", Help: "Login attempts by outcome: success, or the error code.",
		}, []string{"outcome"}),
	}
	loginDuration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "hello_login_duration_seconds", Help: "Login latency, end to end in the service, by class: trusted (device cookie valid for the name) or other.",
		Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"class"})
	m.loginTrusted, m.loginOther = loginDuration.WithLabelValues("trusted"), loginDuration.WithLabelValues("other")
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.logins, loginDuration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering metrics: %w", err)
		}
	}
	return m, nil
}
