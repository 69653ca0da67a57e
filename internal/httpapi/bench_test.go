package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hellosvc/hello/internal/account"
	"github.com/hellosvc/hello/internal/guard"
	"github.com/hellosvc/hello/internal/guard/memory"
	"github.com/hellosvc/hello/internal/httpapi"
	"github.com/hellosvc/hello/internal/realip"
)

// refusingServer is the public handler with a sender limit that refuses every login.
func refusingServer(b *testing.B) http.Handler {
	b.Helper()
	ctx := context.Background()
	st := httpapi.MigratedSQLite(b)
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
	send := newSender(h)
	send("192.0.2.1", "a guess of eight") // the sender's one allowed login
	b.ReportAllocs()
	for b.Loop() {
		if code := send("192.0.2.1", "a guess of eight"); code != http.StatusTooManyRequests {
			b.Fatalf("status %d", code)
		}
	}
}

// BenchmarkRefusedLoginBotnet is the whole handler chain refusing a login on a locked name
// from a new sender each time (behind a trusted proxy): every request passes the sender
// limits, so the body is read and the name checked before the refusal.
func BenchmarkRefusedLoginBotnet(b *testing.B) {
	h := refusingServer(b)
	send := newSender(h)
	for i := range 3 { // 3 wrong passwords: the name is locked
		if code := send(fmt.Sprintf("192.0.2.%d", i+1), fmt.Sprintf("wrong password %d", i)); code != http.StatusUnauthorized {
			b.Fatalf("locking: status %d", code)
		}
	}
	senders := make([]string, 1<<18) // each sender once: the auth limit allows it one login
	for i := range senders {
		senders[i] = fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n++
		if code := send(senders[n%len(senders)], "a guess of eight"); code != http.StatusTooManyRequests {
			b.Fatalf("status %d", code)
		}
	}
}

// newSender returns a function that serves one login through h, from 127.0.0.1 (a trusted
// proxy) for the given X-Forwarded-For, and returns the status. What net/http allocates for
// a request (the request, its header, the bufio reader) is made once: the benchmarks measure
// the handler; as net/http does, each response gets a fresh header map.
func newSender(h http.Handler) func(forwardedFor, password string) int {
	var body bytes.Reader
	r := httptest.NewRequest(http.MethodPost, "/api/login", nil)
	r.RemoteAddr = "127.0.0.1:40000"
	r.Header.Set("Content-Type", "application/json")
	w := &discardWriter{}
	return func(forwardedFor, password string) int {
		b := `{"username":"victim","password":"` + password + `"}`
		body.Reset([]byte(b))
		r.Body, r.ContentLength = io.NopCloser(&body), int64(len(b))
		r.Header["X-Forwarded-For"] = []string{forwardedFor}
		w.header, w.status = make(http.Header), 0
		h.ServeHTTP(w, r)
		return w.status
	}
}

// discardWriter is a ResponseWriter that keeps the status and drops the body.
type discardWriter struct {
	header http.Header
	status int
}

func (w *discardWriter) Header() http.Header { return w.header }
func (w *discardWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *discardWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(b), nil
}
