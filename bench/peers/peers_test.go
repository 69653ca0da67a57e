package peers

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/httprate"
	sethvargo "github.com/sethvargo/go-limiter"
	"github.com/sethvargo/go-limiter/memorystore"
	throttled "github.com/throttled/throttled/v2"
	throttledmem "github.com/throttled/throttled/v2/store/memstore"
	ulule "github.com/ulule/limiter/v3"
	ululemem "github.com/ulule/limiter/v3/drivers/store/memory"

	"github.com/hellosvc/hello/internal/guard"
	"github.com/hellosvc/hello/internal/guard/memory"
)

// The key distribution every limiter sees: 100,000 distinct IPv4-like senders, visited in
// turn (each goroutine of a parallel run from its own place). Limits are high enough that
// every call is allowed, so each call is a full "count and allow" decision.
const numKeys = 100_000

var keys = func() []string {
	k := make([]string, numKeys)
	for i := range k {
		k[i] = "10." + strconv.Itoa(i>>16&255) + "." + strconv.Itoa(i>>8&255) + "." + strconv.Itoa(i&255)
	}
	return k
}()

// A limit no benchmark reaches: a billion events per hour.
const (
	limit  = 1_000_000_000
	period = time.Hour
)

// decide is one limiter's decision for key; it reports whether the call was allowed.
type decide func(key string) bool

func run(b *testing.B, d decide) {
	for _, k := range keys { // every key exists before timing: decisions on existing keys
		if !d(k) {
			b.Fatal("refused while warming up")
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	var start atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		i := int(start.Add(numKeys/7)) % numKeys
		for pb.Next() {
			if !d(keys[i]) {
				b.Error("refused")
				return
			}
			if i++; i == numKeys {
				i = 0
			}
		}
	})
}

func BenchmarkHelloMemory(b *testing.B) {
	s := memory.New(memory.Options{})
	ctx := context.Background()
	r := guard.Rate{Count: limit, Period: period}
	run(b, func(k string) bool {
		res, _ := s.Allow(ctx, k, r)
		return res.Allowed
	})
}

func BenchmarkSethvargo(b *testing.B) {
	s, err := memorystore.New(&memorystore.Config{Tokens: limit, Interval: period})
	if err != nil {
		b.Fatal(err)
	}
	var _ sethvargo.Store = s
	defer func() { _ = s.Close(context.Background()) }()
	ctx := context.Background()
	run(b, func(k string) bool {
		_, _, _, ok, _ := s.Take(ctx, k)
		return ok
	})
}

func BenchmarkThrottledGCRA(b *testing.B) {
	st, err := throttledmem.NewCtx(numKeys * 2)
	if err != nil {
		b.Fatal(err)
	}
	q := throttled.RateQuota{MaxRate: throttled.PerHour(limit), MaxBurst: limit}
	l, err := throttled.NewGCRARateLimiterCtx(st, q)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	run(b, func(k string) bool {
		limited, _, _ := l.RateLimitCtx(ctx, k, 1)
		return !limited
	})
}

func BenchmarkUlule(b *testing.B) {
	l := ulule.New(ululemem.NewStore(), ulule.Rate{Period: period, Limit: limit})
	ctx := context.Background()
	run(b, func(k string) bool {
		c, _ := l.Get(ctx, k)
		return !c.Reached
	})
}

// httprate is HTTP middleware; its decision is RateLimiter.OnLimit with the response headers
// turned off (no header map is touched), on a request shared by every call.
func BenchmarkHTTPRate(b *testing.B) {
	l := httprate.NewRateLimiter(limit, period, httprate.WithResponseHeaders(httprate.ResponseHeaders{}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	var w nopWriter
	run(b, func(k string) bool { return !l.OnLimit(w, req, k) })
}

type nopWriter struct{}

func (nopWriter) Header() http.Header         { return http.Header{} }
func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }
func (nopWriter) WriteHeader(int)             {}
