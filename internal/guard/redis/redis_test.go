package redis_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hellosvc/hello/internal/guard"
	"github.com/hellosvc/hello/internal/guard/memory"
	"github.com/hellosvc/hello/internal/guard/redis"
	"github.com/hellosvc/hello/internal/guard/storetest"
	"github.com/hellosvc/hello/internal/testenv"
)

func newStore(t *testing.T, srv *testenv.Redis, o redis.Options) *redis.Store {
	t.Helper()
	o.URL = srv.URL()
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.ProbeInterval == 0 {
		o.ProbeInterval = 5 * time.Millisecond
	}
	if o.Local == nil {
		o.Local = memory.New(memory.Options{Now: o.Now})
	}
	s, err := redis.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	srv := testenv.StartRedis(t)
	storetest.Run(t, func(t *testing.T, c *storetest.Clock) guard.Store {
		return newStore(t, srv, redis.Options{Now: c.Now})
	})
}

// waitState polls State until it is want: the store recovers by itself in the background.
func waitState(t *testing.T, s *redis.Store, want string) {
	t.Helper()
	testenv.Eventually(t, 20*time.Second, "State() = "+want, func() bool { return s.State() == want })
}

// Two replicas on one Redis share counters and spent ids (on Redis' clock: no injected time).
func TestSharedState(t *testing.T) {
	srv := testenv.StartRedis(t)
	a := newStore(t, srv, redis.Options{})
	b := newStore(t, srv, redis.Options{})
	ctx := context.Background()

	r := guard.Rate{Count: 4, Period: time.Hour}
	for i, s := range []*redis.Store{a, b, a, b} {
		res, err := s.Allow(ctx, "10.0.0.1", r)
		if err != nil || !res.Allowed || res.Remaining != 3-i {
			t.Fatalf("Allow #%d = %+v, %v", i, res, err)
		}
	}
	if res, _ := a.Allow(ctx, "10.0.0.1", r); res.Allowed || res.RetryAfter <= 0 || res.RetryAfter > 15*time.Minute {
		t.Fatalf("5th Allow across replicas = %+v, want refused for up to 15m", res)
	}

	var g [4]guard.Guess
	for i := range g {
		g[i][0] = byte(i + 1)
	}
	for i, s := range []*redis.Store{a, b, a} {
		if res, err := s.Attempt(ctx, "alice", g[i], 3, time.Hour); err != nil || !res.Allowed || res.Failures != i+1 {
			t.Fatalf("Attempt #%d = %+v, %v", i, res, err)
		}
	}
	if res, _ := b.Attempt(ctx, "alice", g[3], 3, time.Hour); res.Allowed || res.Failures != 3 {
		t.Fatalf("4th guess on the other replica = %+v, want refused", res)
	}
	if ok, _ := a.Spend(ctx, "captcha-1", time.Minute); !ok {
		t.Fatal("first Spend refused")
	}
	if ok, _ := b.Spend(ctx, "captcha-1", time.Minute); ok {
		t.Fatal("an id spent on one replica was accepted on the other")
	}
	if n, _ := a.Hit(ctx, "fail", time.Minute); n != 1 {
		t.Fatalf("Hit = %d", n)
	}
	if n, _ := b.Hit(ctx, "fail", time.Minute); n != 2 {
		t.Fatalf("Hit on the other replica = %d, want 2", n)
	}
	if err := b.Clear(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if res, _ := a.Peek(ctx, "alice", 3, time.Hour); res.Failures != 0 {
		t.Fatalf("Peek after Clear on the other replica = %+v", res)
	}
	// Keys carry hash tags for Redis Cluster.
	if reply, err := srv.Do("EXISTS", "hello:{10.0.0.1}:r"); err != nil || reply != ":1" {
		t.Fatalf("EXISTS hello:{10.0.0.1}:r = %q, %v", reply, err)
	}
}

// Redis dies: decisions go on with the local store and State says degraded; Redis comes back:
// the store returns to it by itself and replicas share counts again.
func TestFallbackAndRecovery(t *testing.T) {
	srv := testenv.StartRedis(t)
	reg := prometheus.NewRegistry()
	clock := storetest.NewClock()
	local := memory.New(memory.Options{Now: clock.Now})
	a := newStore(t, srv, redis.Options{Now: clock.Now, Local: local, Registerer: reg})
	b := newStore(t, srv, redis.Options{Now: clock.Now})
	ctx := context.Background()
	r := guard.Rate{Count: 3, Period: time.Hour}

	if res, err := a.Allow(ctx, "k", r); err != nil || !res.Allowed {
		t.Fatalf("Allow = %+v, %v", res, err)
	}
	if a.State() != redis.StateOK {
		t.Fatalf("State = %q", a.State())
	}

	srv.Kill()
	// Still limiting: the local store counts from scratch and refuses the 4th.
	for i := range 3 {
		res, err := a.Allow(ctx, "k", r)
		if err != nil || !res.Allowed {
			t.Fatalf("Allow #%d while Redis is down = %+v, %v", i, res, err)
		}
	}
	if res, err := a.Allow(ctx, "k", r); err != nil || res.Allowed {
		t.Fatalf("4th Allow while Redis is down = %+v, %v; want refused by the local store", res, err)
	}
	var g guard.Guess
	for i := range 4 {
		g[0] = byte(i)
		res, err := a.Attempt(ctx, "alice", g, 3, time.Hour)
		if err != nil || res.Allowed != (i < 3) {
			t.Fatalf("Attempt #%d while Redis is down = %+v, %v", i, res, err)
		}
	}
	if a.State() != redis.StateDegraded {
		t.Fatalf("State while Redis is down = %q", a.State())
	}
	if v := metric(t, reg, "hello_limiter_fallback_active"); v != 1 {
		t.Fatalf("hello_limiter_fallback_active = %v, want 1", v)
	}
	if v := metric(t, reg, "hello_limiter_redis_errors_total"); v < 1 {
		t.Fatalf("hello_limiter_redis_errors_total = %v, want ≥ 1", v)
	}

	srv.Restart()
	waitState(t, a, redis.StateOK)
	if v := metric(t, reg, "hello_limiter_fallback_active"); v != 0 {
		t.Fatalf("hello_limiter_fallback_active after recovery = %v, want 0", v)
	}
	// b may have noticed nothing (it made no call); make sure both count in Redis again.
	waitState(t, b, redis.StateOK)
	for i, s := range []*redis.Store{a, b, a} {
		res, err := s.Allow(ctx, "k2", r)
		if err != nil || !res.Allowed || res.Remaining != 2-i {
			t.Fatalf("shared Allow #%d after recovery = %+v, %v", i, res, err)
		}
	}
	if res, _ := b.Allow(ctx, "k2", r); res.Allowed {
		t.Fatal("4th shared Allow after recovery was allowed")
	}
	// Scripts were flushed with the restart: EVALSHA's NOSCRIPT was handled by EVAL.
	if ok, err := a.Spend(ctx, "id", time.Minute); err != nil || !ok {
		t.Fatalf("Spend after restart = %v, %v", ok, err)
	}
}

func metric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			if m.GetGauge() != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

// In deny mode every method but Allow refuses with guard.ErrUnavailable while Redis is away.
func TestDenyMode(t *testing.T) {
	srv := testenv.StartRedis(t)
	s := newStore(t, srv, redis.Options{FailureMode: redis.FailureDeny})
	ctx := context.Background()
	if _, err := s.Attempt(ctx, "alice", guard.Guess{1}, 3, time.Hour); err != nil {
		t.Fatalf("Attempt with Redis up: %v", err)
	}
	srv.Kill()
	for range 2 { // the failing call itself, then the degraded state
		if _, err := s.Attempt(ctx, "alice", guard.Guess{2}, 3, time.Hour); !errors.Is(err, guard.ErrUnavailable) {
			t.Fatalf("Attempt with Redis down in deny mode: %v, want guard.ErrUnavailable", err)
		}
	}
	checks := map[string]error{}
	_, checks["Peek"] = s.Peek(ctx, "alice", 3, time.Hour)
	checks["Forget"] = s.Forget(ctx, "alice", guard.Guess{1})
	checks["Clear"] = s.Clear(ctx, "alice")
	_, checks["Hit"] = s.Hit(ctx, "x", time.Minute)
	_, checks["Count"] = s.Count(ctx, "x", time.Minute)
	_, checks["Spend"] = s.Spend(ctx, "x", time.Minute)
	for name, err := range checks {
		if !errors.Is(err, guard.ErrUnavailable) {
			t.Errorf("%s in deny mode: %v, want guard.ErrUnavailable", name, err)
		}
	}
	if res, err := s.Allow(ctx, "10.0.0.1", guard.Rate{Count: 1, Period: time.Minute}); err != nil || !res.Allowed {
		t.Fatalf("Allow in deny mode falls back to local: %+v, %v", res, err)
	}
	srv.Restart()
	waitState(t, s, redis.StateOK)
	if _, err := s.Attempt(ctx, "alice", guard.Guess{2}, 3, time.Hour); err != nil {
		t.Fatalf("Attempt after recovery: %v", err)
	}
}

func TestBadOptions(t *testing.T) {
	local := memory.New(memory.Options{})
	if _, err := redis.New(redis.Options{URL: "redis://x", FailureMode: "maybe", Local: local}); err == nil || !strings.Contains(err.Error(), "maybe") {
		t.Fatalf("bad failure mode: %v", err)
	}
	if _, err := redis.New(redis.Options{Local: local}); err == nil {
		t.Fatal("no URL: no error")
	}
	if _, err := redis.New(redis.Options{URL: "redis://x"}); err == nil {
		t.Fatal("no Local store: no error")
	}
}

// Issue 12: Close with callers in flight neither races (go test -race) nor reports Redis as
// failed: a store shutting down is no failure of Redis.
func TestCloseWithCallersInFlight(t *testing.T) {
	srv := testenv.StartRedis(t)
	var logs strings.Builder
	var mu sync.Mutex
	s := newStore(t, srv, redis.Options{Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil))})
	ctx := context.Background()
	var wg sync.WaitGroup
	started := make(chan struct{}, 64)
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started <- struct{}{}
			for j := 0; j < 200; j++ {
				if _, err := s.Attempt(ctx, fmt.Sprintf("u:%d", i), guard.Guess{byte(j)}, 3, time.Hour); err != nil {
					return
				}
			}
		}()
	}
	for range 64 {
		<-started
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(logs.String(), "deciding with the local store") {
		t.Fatalf("Close was logged as a Redis failure:\n%s", logs.String())
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
