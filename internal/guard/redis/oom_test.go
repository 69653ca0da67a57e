package redis_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"github.com/hellosvc/hello/internal/guard"
	"github.com/hellosvc/hello/internal/guard/memory"
	"github.com/hellosvc/hello/internal/guard/redis"
	"github.com/hellosvc/hello/internal/guard/storetest"
	"github.com/hellosvc/hello/internal/testenv"
)

func admin(t *testing.T, srv *testenv.Redis) *goredis.Client {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Issue 9 (3): a Redis out of memory is a failure of the shared store, and the local fallback
// starts from the shared log, not from nothing: no name gets more guesses than Redis allowed.
func TestOutOfMemoryFallsBackToTheSharedFloor(t *testing.T) {
	srv := testenv.StartRedis(t)
	reg := prometheus.NewRegistry()
	clock := storetest.NewClock()
	a := newStore(t, srv, redis.Options{Now: clock.Now})
	b := newStore(t, srv, redis.Options{Now: clock.Now, Local: memory.New(memory.Options{Now: clock.Now}), Registerer: reg})
	ctx := context.Background()
	guess := func(i int) guard.Guess { return guard.Guess{byte(i + 1)} }

	// Two wrong passwords through replica a; b sees the shared log as the guard does, by Peek.
	for i := range 2 {
		if res, err := a.Attempt(ctx, "u:alice", guess(i), 3, time.Hour); err != nil || !res.Allowed {
			t.Fatalf("Attempt %d = %+v, %v", i, res, err)
		}
	}
	if res, err := b.Peek(ctx, "u:alice", 3, time.Hour); err != nil || res.Failures != 2 {
		t.Fatalf("Peek on b = %+v, %v", res, err)
	}

	// Redis fills up (noeviction: it refuses writes).
	rc := admin(t, srv)
	if err := rc.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
		t.Fatal(err)
	}
	// The failure counters' script is the guard's next write; Redis refuses it.
	if _, err := b.Hit(ctx, "sf:192.0.2.1", 10*time.Minute); err != nil {
		t.Fatalf("Hit while Redis is full: %v (want a local answer)", err)
	}
	allowed := 0
	for i := 2; i < 8; i++ {
		res, err := b.Attempt(ctx, "u:alice", guess(i), 3, time.Hour)
		if err != nil {
			t.Fatalf("Attempt %d while Redis is full: %v", i, err)
		}
		if res.Allowed {
			allowed++
		}
	}
	if allowed != 1 {
		t.Fatalf("guesses allowed by the fallback = %d, want 1 (3 per hour, 2 already in the shared log)", allowed)
	}
	if b.State() != redis.StateDegraded {
		t.Fatalf("State with Redis out of memory = %q, want degraded", b.State())
	}
	if v := metric(t, reg, "hello_limiter_redis_oom_total"); v < 1 {
		t.Fatalf("hello_limiter_redis_oom_total = %v, want ≥ 1", v)
	}
	// A spent captcha stays spent on the fallback.
	if err := rc.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	waitState(t, b, redis.StateOK)
	if first, err := b.Spend(ctx, "captcha:n1", time.Minute); err != nil || !first {
		t.Fatalf("Spend = %v, %v", first, err)
	}
	if err := rc.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Hit(ctx, "sf:192.0.2.2", 10*time.Minute); err != nil || b.State() != redis.StateDegraded {
		t.Fatalf("Hit while Redis is full: %v, state %s", err, b.State())
	}
	if first, err := b.Spend(ctx, "captcha:n1", time.Minute); err != nil || first {
		t.Fatalf("Spend of a spent id on the fallback = %v, %v; want refused", first, err)
	}
}

// Issue 9 (3): an evicting maxmemory-policy is reported (INFO memory, since ElastiCache
// refuses CONFIG GET) and exported.
func TestEvictionPolicyIsChecked(t *testing.T) {
	srv := testenv.StartRedis(t)
	reg := prometheus.NewRegistry()
	s := newStore(t, srv, redis.Options{Registerer: reg})
	ctx := context.Background()
	if p, safe, err := s.CheckEviction(ctx); err != nil || !safe || p != "noeviction" {
		t.Fatalf("CheckEviction = %q %v %v, want noeviction (redis' default)", p, safe, err)
	}
	if err := admin(t, srv).ConfigSet(ctx, "maxmemory-policy", "volatile-lru").Err(); err != nil {
		t.Fatal(err)
	}
	if p, safe, err := s.CheckEviction(ctx); err != nil || safe || p != "volatile-lru" {
		t.Fatalf("CheckEviction = %q %v %v, want volatile-lru, unsafe", p, safe, err)
	}
	if v := metric(t, reg, "hello_limiter_redis_evicting"); v != 1 {
		t.Fatalf("hello_limiter_redis_evicting = %v, want 1", v)
	}
}
