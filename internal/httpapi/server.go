// Package httpapi is hello's HTTP face: the JSON API, the server-rendered pages, health
// probes and the middleware around them. routes.go lists every route.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hellosvc/hello/internal/account"
	"github.com/hellosvc/hello/internal/captcha"
	"github.com/hellosvc/hello/internal/guard"
	"github.com/hellosvc/hello/internal/realip"
	"github.com/hellosvc/hello/web"
)

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = 1 << 20

// Cookie names.
const (
	SessionCookie = "hello_session"
	DeviceCookie  = "hello_device"
)

// Deps are the server's dependencies.
type Deps struct {
	Accounts *account.Service
	Logger   *slog.Logger
	Metrics  prometheus.Registerer
	Resolver *realip.Resolver
	Guard    *guard.Guard
	Captcha  *captcha.Service // nil when captchas are off
	// Ready reports whether the service can serve traffic (GET /readyz).
	Ready func(ctx context.Context) Readiness
	// Refusals summarises refused requests in the log (one line per policy per interval).
	Refusals *RefusalLog
	// SecureCookies marks cookies Secure on every response, not only on HTTPS requests: set
	// in staging and production, whose deployments terminate TLS in front of the service.
	SecureCookies bool
}

// Readiness is the answer of GET /readyz.
type Readiness struct {
	Ready  bool              // false: 503 not_ready
	Status string            // "ok", or "degraded" while serving with reduced guarantees
	Checks map[string]string // per dependency: "ok" or what is wrong
}

type server struct {
	accounts *account.Service
	log      *slog.Logger
	resolver *realip.Resolver
	guard    *guard.Guard
	captcha  *captcha.Service
	ready    func(ctx context.Context) Readiness
	pages    *web.Pages
	metrics  *httpMetrics
	mux      *http.ServeMux
	secure   bool // SecureCookies
	refusals *RefusalLog
}

// NewServer returns the public HTTP handler.
func NewServer(d Deps) (http.Handler, error) {
	if d.Accounts == nil || d.Logger == nil || d.Metrics == nil || d.Resolver == nil || d.Ready == nil || d.Guard == nil || d.Refusals == nil {
		return nil, errors.New("httpapi: every field of Deps is required")
	}
	pages, err := web.Parse()
	if err != nil {
		return nil, err
	}
	m, err := newHTTPMetrics(d.Metrics)
	if err != nil {
		return nil, err
	}
	s := &server{
		accounts: d.Accounts, log: d.Logger, resolver: d.Resolver, ready: d.Ready, guard: d.Guard, captcha: d.Captcha,
		pages: pages, metrics: m, mux: http.NewServeMux(), secure: d.SecureCookies, refusals: d.Refusals,
	}
	s.routes()
	var h http.Handler = http.HandlerFunc(s.dispatch)
	h = crossOriginProtection(h, s)
	h = s.limitBody(h)
	h = s.recoverPanics(h)
	h = s.front(h) // id, security headers, per-sender limits, metrics and logs
	return h, nil
}

// dispatch routes the request, answering unknown routes and wrong methods itself: JSON under
// /api/, HTML elsewhere, instead of the mux's plain text.
func (s *server) dispatch(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if pattern != "" {
		if strings.IndexByte(pattern, '{') < 0 && r.RequestURI != "*" {
			// What ServeMux.ServeHTTP would do, without matching the request a second time: a
			// pattern without wildcards has no path values to set.
			r.Pattern = pattern
			h.ServeHTTP(w, r)
			return
		}
		s.mux.ServeHTTP(w, r)
		return
	}
	// No route matched: h is the mux's own 404, 405 or redirect. Learn which, then answer.
	probe := &headerOnly{header: http.Header{}}
	h.ServeHTTP(probe, r)
	switch probe.status {
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", probe.header.Get("Allow"))
		s.fail(w, r, errMethodNotAllowed)
	case http.StatusNotFound:
		s.fail(w, r, errNotFound)
	default: // a redirect to the canonical path
		for k, v := range probe.header {
			w.Header()[k] = v
		}
		w.WriteHeader(probe.status)
	}
}

// headerOnly records the status and headers a handler writes and drops the body.
type headerOnly struct {
	header http.Header
	status int
}

func (h *headerOnly) Header() http.Header { return h.header }
func (h *headerOnly) Write(b []byte) (int, error) {
	if h.status == 0 {
		h.status = http.StatusOK
	}
	return len(b), nil
}
func (h *headerOnly) WriteHeader(code int) {
	if h.status == 0 {
		h.status = code
	}
}
