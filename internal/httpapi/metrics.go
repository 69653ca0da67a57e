package httpapi

import (
	"fmt"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

type httpMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	logins   *prometheus.CounterVec
	// loginDuration by class: trusted (a device cookie valid for the name) or other, so the
	// latency real users on their own devices get is seen apart from the flood's.
	loginTrusted, loginOther prometheus.Observer

	// The children of the vectors, resolved once per label set: a request does not hash its
	// labels and look them up under the vector's lock.
	byRoute  readMostly[routeKey, routeMetrics]
	byResult readMostly[string, prometheus.Counter] // logins by outcome
}

type routeKey struct {
	route, method string
	status        int
}

type routeMetrics struct {
	requests prometheus.Counter
	latency  prometheus.Observer
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
	// Routes are the mux's patterns or "unmatched", methods are bounded by metricMethod and
	// statuses by the handlers, outcomes by the error codes: the maxima are never reached.
	m.byRoute = readMostly[routeKey, routeMetrics]{max: 4096, compute: func(k routeKey) routeMetrics {
		return routeMetrics{
			requests: m.requests.WithLabelValues(k.route, k.method, strconv.Itoa(k.status)),
			latency:  m.latency.WithLabelValues(k.route, k.method),
		}
	}}
	m.byResult = readMostly[string, prometheus.Counter]{max: 256, compute: func(outcome string) prometheus.Counter {
		return m.logins.WithLabelValues(outcome)
	}}
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.logins, loginDuration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering metrics: %w", err)
		}
	}
	return m, nil
}
