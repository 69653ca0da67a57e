package httpapi_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hellosvc/hello/internal/account"
	"github.com/hellosvc/hello/internal/guard"
	"github.com/hellosvc/hello/internal/guard/memory"
	"github.com/hellosvc/hello/internal/httpapi"
	"github.com/hellosvc/hello/internal/realip"
	"github.com/hellosvc/hello/internal/store/sqlite"
)

// refusingServer is the public handler with a sender limit that refuses every login.
func refusingServer(b *testing.B) http.Handler {
	b.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(b.TempDir(), "hello.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	reg := prometheus.NewRegistry()
	g, err := guard.New(guard.Options{Store: memory.New(memory.Options{}), Secret: []byte("bench-secret-bench-secret-bench-secret"), Logger: log, Metrics: reg,
		Config: guard.Config{SenderLimit: guard.Rate{Count: 1 << 30, Period: time.Minute}, AuthSenderLimit: guard.Rate{Count: 1, Period: time.Hour},
			LoginMaxFailures: 3, LoginWindow: time.Hour, CaptchaAfterSenderFailures: guard.Rate{Count: 5, Period: time.Minute}, CaptchaGlobalFailures: guard.Rate{Count: 100, Period: time.Minute}}})
	if err != nil {
		b.Fatal(err)
	}
	svc, err := account.NewService(ctx, account.Options{Store: st, Guard: g,
		Hasher: account.NewHasher(account.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 2, time.Second)})
	if err != nil {
		b.Fatal(err)
	}
	refusals, err := httpapi.NewRefusalLog(log, 10*time.Second, reg)
	if err != nil {
		b.Fatal(err)
	}
	h, err := httpapi.NewServer(httpapi.Deps{Accounts: svc, Logger: log, Metrics: reg, Resolver: realip.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, realip.XForwardedFor),
		Guard: g, Refusals: refusals, Ready: func(context.Context) httpapi.Readiness { return httpapi.Readiness{Ready: true} }})
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// BenchmarkRefusedLogin is the whole handler chain refusing a login from a sender over its
// limit (the end-to-end figure, network included, comes from bench/cmd/refusalbench).
func BenchmarkRefusedLogin(b *testing.B) {
	h := refusingServer(b)
	body := `{"username":"victim","password":"a guess of eight"}`
	send := func() *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/api/login", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	send() // the sender's one allowed login
	b.ReportAllocs()
	for b.Loop() {
		if w := send(); w.Code != http.StatusTooManyRequests {
			b.Fatalf("status %d", w.Code)
		}
	}
}
