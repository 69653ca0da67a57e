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

// front is the first handler of every request. It gives the request an id (adopting a
// well-formed X-Request-Id), the security headers and the per-sender limits, before anything
// else is done for it: a refused request costs microseconds (no context, no body read), and
// only admitted requests go on, with their state in their context. Once done, every request is
// counted in the metrics; admitted ones are logged, refused ones are summarised by the
// RefusalLog instead of a line each. Nothing sensitive is logged: no headers, query or body.
func (s *server) front(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !reqid.Valid(id) {
			id = reqid.New()
		}
		// Everything front keeps of the request, in one allocation.
		sc := &reqScope{}
		sc.st.client = s.resolver.ClientIP(r) // resolved once; handlers read it with clientOf
		sc.rec = statusRecorder{ResponseWriter: w, status: http.StatusOK}
		sc.id[0] = id
		h := w.Header()
		h["X-Request-Id"] = sc.id[:] // canonical key
		s.securityHeaders(h, r)
		if s.admitSender(&sc.rec, r, sc) {
			r = sc.request(r)
			next.ServeHTTP(&sc.rec, r)
		}

		elapsed := time.Since(start)
		route := "unmatched"
		if _, path, ok := strings.Cut(r.Pattern, " "); ok {
			route = path // the mux sets r.Pattern on this same request when it routes it
		}
		method := metricMethod(r.Method)
		m := s.metrics.byRoute.get(routeKey{route, method, sc.rec.status})
		m.requests.Inc()
		m.latency.Observe(elapsed.Seconds())
		if sc.st.refusal != "" {
			s.refusals.add(sc.st.refusal, sc.st.client) // no line per refused request: a summary
			return
		}
		r = sc.request(r) // as it went on; or, if the sender check panicked, with its context now
		level := slog.LevelInfo
		if route == "/healthz" || route == "/readyz" {
			level = slog.LevelDebug // probes every few seconds would drown the log
		}
		s.log.Log(r.Context(), level, "request",
			"method", r.Method, "route", route, "path", r.URL.Path, "status", sc.rec.status,
			"duration_ms", float64(elapsed.Microseconds())/1000, "bytes", sc.rec.bytes,
			"client", sc.st.client.String())
	})
}

// admitSender applies the per-sender limits to r and reports whether it may go on; if not, it
// has answered it. Every response carries the RateLimit-* headers.
func (s *server) admitSender(w http.ResponseWriter, r *http.Request, sc *reqScope) (admitted bool) {
	defer func() {
		if v := recover(); v != nil {
			s.panicked(w, sc.request(r), v)
			admitted = false
		}
	}()
	res, err := s.guard.Sender(r.Context(), sc.st.client, isAuthRoute(r))
	if err != nil {
		// The limiter store fell over; the memory fallback answers Allow, so this is rare:
		// serve the request rather than fail every visitor.
		s.log.ErrorContext(sc.context(r), "sender limit", "err", err)
		return true
	}
	h := w.Header()
	v := make([]string, 2) // both values in one allocation; canonical keys: no Set overhead
	v[0], v[1] = strconv.Itoa(res.Remaining), strconv.Itoa(int(math.Ceil(res.ResetAfter.Seconds())))
	h["Ratelimit-Limit"] = limitValues.get(res.Limit) // one of the few configured limits
	h["Ratelimit-Remaining"], h["Ratelimit-Reset"] = v[0:1:1], v[1:2:2]
	if res.Allowed {
		return true
	}
	e := guard.RateLimited(res)
	sc.st.refusal = refusalCodes[e.Code]
	if wantsHTML(r) {
		s.renderError(w, sc.request(r), e) // a page, which may log: with the request's context
	} else {
		writeJSONError(w, e) // what s.fail does, minus the context it does not need here
	}
	return false
}

// reqState is what front keeps of a request while it is served.
type reqState struct {
	client  netip.Addr // the sender (see realip)
	refusal string     // the policy that refused it, if one did
}

// reqScope is what front keeps of a request, in one allocation: its state, the recorder of its
// response, the value of its X-Request-Id header, and — once the request is admitted — its
// context: the request id's, which also answers stateKey with the state.
type reqScope struct {
	context.Context // nil until context or request is called
	st              reqState
	rec             statusRecorder
	id              [1]string
}

type stateKey struct{}

// Value implements context.Context.
func (c *reqScope) Value(key any) any {
	if key == (stateKey{}) {
		return &c.st
	}
	return c.Context.Value(key)
}

// context returns the request's context, carrying its id and state.
func (c *reqScope) context(r *http.Request) context.Context {
	if c.Context == nil {
		c.Context = reqid.NewContext(r.Context(), c.id[0])
	}
	return c
}

// request returns r with the request's context (r itself if it has it already).
func (c *reqScope) request(r *http.Request) *http.Request {
	if r.Context() == context.Context(c) {
		return r
	}
	return r.WithContext(c.context(r))
}

func stateOf(r *http.Request) *reqState {
	st, _ := r.Context().Value(stateKey{}).(*reqState)
	return st
}

// clientOf returns the sender of r as front resolved it (see realip).
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
				s.panicked(w, r, v)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// panicked logs a recovered panic and answers 500; net/http's ErrAbortHandler goes on.
func (s *server) panicked(w http.ResponseWriter, r *http.Request, v any) {
	if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
		panic(v) // net/http's way to abort a response silently
	}
	s.log.ErrorContext(r.Context(), "panic", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	s.fail(w, r, &account.Error{Code: account.CodeInternal, Message: "internal error"})
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

// limitValues are the RateLimit-Limit header values, shared and never modified.
var limitValues = readMostly[int, []string]{max: 64, compute: func(n int) []string { return []string{strconv.Itoa(n)} }}

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
func (s *server) securityHeaders(h http.Header, r *http.Request) {
	for _, kv := range fixedHeaders { // shared, never-modified values: no allocation per request
		h[kv.key] = kv.value
	}
	if s.resolver.IsHTTPS(r) {
		h["Strict-Transport-Security"] = hsts
	}
}
