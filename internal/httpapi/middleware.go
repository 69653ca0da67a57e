package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/hellosvc/hello/internal/account"
	"github.com/hellosvc/hello/internal/guard"
	"github.com/hellosvc/hello/internal/reqid"
)

// observe gives each request an id (adopting a well-formed X-Request-Id), logs it once it is
// done, and counts it in the metrics. Nothing sensitive is logged: no headers, no query, no body.
func (s *server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !reqid.Valid(id) {
			id = reqid.New()
		}
		w.Header().Set("X-Request-Id", id)
		st := &reqState{client: s.resolver.ClientIP(r)} // resolved once; handlers read it with clientOf
		r = r.WithContext(context.WithValue(reqid.NewContext(r.Context(), id), stateKey{}, st))
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)

		elapsed := time.Since(start)
		route := "unmatched"
		if _, path, ok := strings.Cut(r.Pattern, " "); ok {
			route = path // the mux sets r.Pattern on this same request when it routes it
		}
		method := metricMethod(r.Method)
		s.metrics.requests.WithLabelValues(route, method, strconv.Itoa(rec.status)).Inc()
		s.metrics.latency.WithLabelValues(route, method).Observe(elapsed.Seconds())
		if st.refusal != "" {
			s.refusals.add(st.refusal, st.client) // no line per refused request: a summary
			return
		}

		level := slog.LevelInfo
		if route == "/healthz" || route == "/readyz" {
			level = slog.LevelDebug // probes every few seconds would drown the log
		}
		s.log.Log(r.Context(), level, "request",
			"method", r.Method, "route", route, "path", r.URL.Path, "status", rec.status,
			"duration_ms", float64(elapsed.Microseconds())/1000, "bytes", rec.bytes,
			"client", st.client.String())
	})
}

// reqState is what observe keeps of a request while it is served.
type reqState struct {
	client  netip.Addr // the sender (see realip)
	refusal string     // the policy that refused it, if one did
}

type stateKey struct{}

func stateOf(r *http.Request) *reqState {
	st, _ := r.Context().Value(stateKey{}).(*reqState)
	return st
}

// clientOf returns the sender of r as observe resolved it (see realip).
func clientOf(r *http.Request) netip.Addr {
	if st := stateOf(r); st != nil {
		return st.client
	}
	return netip.Addr{}
}

// markRefused records that r was refused by a policy, for the RefusalLog.
func markRefused(r *http.Request, code account.Code) {
	if policy, ok := refusalCodes[code]; ok {
		if st := stateOf(r); st != nil {
			st.refusal = policy
		}
	}
}

// metricMethod keeps the method label's cardinality bounded.
func metricMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

type statusRecorder struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wroteHeader && code >= 200 {
		r.status, r.wroteHeader = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wroteHeader = true
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// limitBody bounds every request body; handlers see *http.MaxBytesError past the limit.
func (s *server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > MaxBodyBytes {
			s.fail(w, r, errTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

// recoverPanics turns a panic into a logged 500 instead of a dropped connection.
func (s *server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(v) // net/http's way to abort a response silently
				}
				s.log.ErrorContext(r.Context(), "panic", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				s.fail(w, r, &account.Error{Code: account.CodeInternal, Message: "internal error"})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// crossOriginProtection refuses state-changing requests that a browser sent from another
// origin (Sec-Fetch-Site / Origin checks of net/http), so a third-party page cannot post our
// forms with the visitor's cookies. Clients that are not browsers send neither header and pass.
func crossOriginProtection(next http.Handler, s *server) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, account.Errorf(codeForbidden, "cross-origin request refused"))
	}))
	return cop.Handler(next)
}

// limitSenders applies the per-sender limits before anything else is done for the request, so
// a refusal costs microseconds. Every response carries the RateLimit-* headers.
func (s *server) limitSenders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := s.guard.Sender(r.Context(), clientOf(r), isAuthRoute(r))
		if err != nil {
			// The limiter store fell over; the memory fallback answers Allow, so this is rare:
			// serve the request rather than fail every visitor.
			s.log.ErrorContext(r.Context(), "sender limit", "err", err)
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h["Ratelimit-Limit"] = []string{strconv.Itoa(res.Limit)} // canonical keys: no Set overhead
		h["Ratelimit-Remaining"] = []string{strconv.Itoa(res.Remaining)}
		h["Ratelimit-Reset"] = []string{strconv.Itoa(int(math.Ceil(res.ResetAfter.Seconds())))}
		if !res.Allowed {
			s.fail(w, r, guard.RateLimited(res))
			return
		}
		next.ServeHTTP(w, r)
	})
}

type headerValue struct {
	key   string // canonical form
	value []string
}

var (
	fixedHeaders = []headerValue{
		{"X-Content-Type-Options", []string{"nosniff"}},
		{"X-Frame-Options", []string{"DENY"}},
		{"Content-Security-Policy", []string{"frame-ancestors 'none'"}},
		{"Referrer-Policy", []string{"same-origin"}},
	}
	hsts = []string{"max-age=63072000; includeSubDomains"}
)

// securityHeaders sets the headers every response carries: no MIME sniffing, no framing (the
// login form cannot be clickjacked), no referrer leaking paths to other sites; and on HTTPS
// (directly or per a trusted proxy) HSTS, so the browser never sends the cookies in clear.
func (s *server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for _, kv := range fixedHeaders { // shared, never-modified values: no allocation per request
			h[kv.key] = kv.value
		}
		if s.resolver.IsHTTPS(r) {
			h["Strict-Transport-Security"] = hsts
		}
		next.ServeHTTP(w, r)
	})
}
