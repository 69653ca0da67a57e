package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hellosvc/hello/internal/account"
	"github.com/hellosvc/hello/internal/guard"
	"github.com/hellosvc/hello/internal/guard/memory"
	"github.com/hellosvc/hello/internal/realip"
	"github.com/hellosvc/hello/internal/reqid"
)

// A refusal by the per-sender limit is answered before the request gets a context, without
// losing anything: its id, every security header, the RateLimit-* headers, Retry-After, the
// JSON (or the page) and the summary in place of a log line.
func TestSenderRefusalIsComplete(t *testing.T) {
	f := newFrontEnv(t, guard.Rate{Count: 1, Period: time.Hour})
	send := func(path, id string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.RemoteAddr = "127.0.0.1:40000" // a trusted proxy...
		r.Header.Set("X-Forwarded-For", "198.51.100.7")
		r.Header.Set("X-Forwarded-Proto", "https") // ...that says the client came over TLS
		if id != "" {
			r.Header.Set("X-Request-Id", id)
		}
		w := httptest.NewRecorder()
		f.h.ServeHTTP(w, r)
		return w
	}
	if w := send("/api/hello", ""); w.Code != http.StatusOK {
		t.Fatalf("first request = %d", w.Code)
	}
	for _, path := range []string{"/api/hello", "/login"} {
		w := send(path, "client-id-1")
		if w.Code != http.StatusTooManyRequests {
			t.Fatalf("%s over the limit = %d, want 429", path, w.Code)
		}
		want := map[string]string{
			"X-Request-Id": "client-id-1", "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
			"Content-Security-Policy": "frame-ancestors 'none'", "Referrer-Policy": "same-origin",
			"Strict-Transport-Security": "max-age=63072000; includeSubDomains", "Cache-Control": "no-store",
			"Ratelimit-Limit": "1", "Ratelimit-Remaining": "0",
		}
		for k, v := range want {
			if got := w.Header().Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", path, k, got, v)
			}
		}
		for _, k := range []string{"Ratelimit-Reset", "Retry-After"} {
			if w.Header().Get(k) == "" {
				t.Errorf("%s: no %s", path, k)
			}
		}
		if path == "/api/hello" {
			var body struct{ Error, Message string }
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error != "rate_limited" ||
				w.Header().Get("Content-Type") != "application/json" {
				t.Errorf("%s: %s %q, want JSON rate_limited", path, w.Header().Get("Content-Type"), w.Body)
			}
		} else if !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") || !strings.Contains(w.Body.String(), "too many requests") {
			t.Errorf("%s: %s %q, want the HTML error page", path, w.Header().Get("Content-Type"), w.Body)
		}
	}
	if w := send("/api/hello", "bad id with spaces"); w.Header().Get("X-Request-Id") == "bad id with spaces" ||
		!reqid.Valid(w.Header().Get("X-Request-Id")) {
		t.Errorf("X-Request-Id = %q: a malformed id is replaced by a fresh one", w.Header().Get("X-Request-Id"))
	}
	f.refusals.Flush()
	lines := f.logs()
	for _, l := range lines {
		if l["msg"] == "request" && l["status"] == float64(429) {
			t.Errorf("a refusal was logged one by one: %v", l)
		}
	}
	if n := count(lines, "requests refused", "policy", "sender"); n != 3 {
		t.Errorf("summarised %v refusals, want 3", n)
	}
	var logged map[string]any // the admitted request
	for _, l := range lines {
		if l["msg"] == "request" {
			logged = l
		}
	}
	if logged == nil || logged["status"] != float64(200) || logged["client"] != "198.51.100.7" || logged["request_id"] == nil || logged["request_id"] == "" {
		t.Errorf("admitted request logged as %v, want its status, client and request_id", logged)
	}
}

// A panic in the sender check is answered 500 and logged, with the request's id, as a panic
// anywhere after it is.
func TestPanicInSenderCheck(t *testing.T) {
	f := newFrontEnv(t, guard.Rate{Count: 100, Period: time.Minute})
	f.store.panics.Store(true)
	r := httptest.NewRequest(http.MethodGet, "/api/hello", nil)
	r.Header.Set("X-Request-Id", "panic-id")
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), `"internal_error"`) {
		t.Fatalf("= %d %q, want 500 internal_error", w.Code, w.Body)
	}
	var panicked, request bool
	for _, l := range f.logs() {
		switch {
		case l["msg"] == "panic" && l["request_id"] == "panic-id":
			panicked = true
		case l["msg"] == "request" && l["request_id"] == "panic-id" && l["status"] == float64(500):
			request = true
		}
	}
	if !panicked || !request {
		t.Errorf("logs %v: want the panic and the request, each with request_id panic-id", f.logs())
	}
}

type frontEnv struct {
	h        http.Handler
	store    *panicStore
	refusals *RefusalLog
	mu       sync.Mutex
	buf      bytes.Buffer
}

func (f *frontEnv) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.buf.Write(p)
}

func (f *frontEnv) logs() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(f.buf.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

func count(lines []map[string]any, msg, key, value string) float64 {
	n := 0.0
	for _, l := range lines {
		if l["msg"] == msg && l[key] == value {
			n += l["count"].(float64)
		}
	}
	return n
}

// newFrontEnv is the public handler (trusting 127.0.0.0/8 as a proxy) with senderLimit on
// every request, logging JSON as hello does.
func newFrontEnv(t *testing.T, senderLimit guard.Rate) *frontEnv {
	t.Helper()
	ctx := context.Background()
	f := &frontEnv{store: &panicStore{Store: memory.New(memory.Options{})}}
	log := slog.New(reqid.Handler{Handler: slog.NewJSONHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug})})
	st := MigratedSQLite(t)
	reg := prometheus.NewRegistry()
	g, err := guard.New(guard.Options{Store: f.store, Secret: []byte("front-test-secret-front-test-secret"), Logger: log, Metrics: reg,
		Config: guard.Config{SenderLimit: senderLimit, AuthSenderLimit: senderLimit, LoginMaxFailures: 3, LoginWindow: time.Hour,
			CaptchaAfterSenderFailures: guard.Rate{Count: 5, Period: time.Minute}, CaptchaGlobalFailures: guard.Rate{Count: 100, Period: time.Minute}}})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := account.NewService(ctx, account.Options{Store: st, Guard: g,
		Hasher: account.NewHasher(account.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 2, time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if f.refusals, err = NewRefusalLog(log, time.Hour, reg); err != nil {
		t.Fatal(err)
	}
	f.h, err = NewServer(Deps{Accounts: svc, Logger: log, Metrics: reg, Guard: g, Refusals: f.refusals,
		Resolver: realip.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, realip.XForwardedFor),
		Ready:    func(context.Context) Readiness { return Readiness{Ready: true} }})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// panicStore is a guard.Store whose Allow panics on demand.
type panicStore struct {
	*memory.Store
	panics atomic.Bool
}

func (p *panicStore) Allow(ctx context.Context, key string, r guard.Rate) (guard.RateResult, error) {
	if p.panics.Load() {
		panic("the limiter store panicked")
	}
	return p.Store.Allow(ctx, key, r)
}
