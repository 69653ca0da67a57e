// Package storetest is the conformance suite every guard.Store passes: the exact semantics of
// the doc comments in guard/store.go, on an injected clock (no sleeps).
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, clock *storetest.Clock) guard.Store {
//			return memory.New(memory.Options{Now: clock.Now})
//		})
//	}
//
// Stores may share their backing state between calls of the factory (one Redis for the whole
// suite): every case uses keys unique to its test name.
package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hellosvc/hello/internal/guard"
)

// Clock is a settable clock, safe for concurrent use. It moves only when told to.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts a clock at a fixed instant (whole seconds, so stores that keep
// microseconds are exact).
func NewClock() *Clock { return &Clock{t: time.Unix(1_750_000_000, 0)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Factory returns a fresh store reading time from clock.
type Factory func(t *testing.T, clock *Clock) guard.Store

// Run runs every case against stores made by newStore.
func Run(t *testing.T, newStore Factory) {
	cases := []struct {
		name string
		fn   func(t *testing.T, s guard.Store, c *Clock, key func(string) string)
	}{
		{"AttemptThreePerHour", testAttemptBoundary},
		{"AttemptSameGuessOneSlot", testAttemptSameGuess},
		{"AttemptRetryAfterWhenOverMax", testAttemptOverMax},
		{"AttemptZeroMax", testAttemptZeroMax},
		{"Forget", testForget},
		{"Clear", testClear},
		{"Peek", testPeek},
		{"HitCountWindow", testHitWindow},
		{"HitManyEvents", testHitMany},
		{"Spend", testSpend},
		{"GCRABurstRefill", testGCRA},
		{"GCRARefusedNotCounted", testGCRARefused},
		{"GCRASlowRate", testGCRASlow},
		{"KeySpacesAreSeparate", testKeySpaces},
		{"ParallelAttempts", testParallelAttempts},
		{"ParallelAllow", testParallelAllow},
		{"ParallelSpend", testParallelSpend},
		{"ParallelHits", testParallelHits},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := NewClock()
			s := newStore(t, c)
			prefix := fmt.Sprintf("%s/%d/", t.Name(), time.Now().UnixNano())
			tc.fn(t, s, c, func(k string) string { return prefix + k })
		})
	}
}

func guess(i int) guard.Guess {
	var g guard.Guess
	copy(g[:], fmt.Sprintf("guess-%010d", i))
	return g
}

func attempt(t *testing.T, s guard.Store, key string, g int, want guard.AttemptResult) {
	t.Helper()
	got, err := s.Attempt(context.Background(), key, guess(g), 3, time.Hour)
	if err != nil {
		t.Fatalf("Attempt(guess %d): %v", g, err)
	}
	if got != want {
		t.Fatalf("Attempt(guess %d) = %+v, want %+v", g, got, want)
	}
}

func peek(t *testing.T, s guard.Store, key string, want guard.AttemptResult) {
	t.Helper()
	got, err := s.Peek(context.Background(), key, 3, time.Hour)
	if err != nil {
		t.Fatalf("Peek: %v", err)
	}
	if got != want {
		t.Fatalf("Peek = %+v, want %+v", got, want)
	}
}

func ok(n int) guard.AttemptResult { return guard.AttemptResult{Allowed: true, Failures: n} }

// added is an allowed attempt that recorded a new guess.
func added(n int) guard.AttemptResult {
	return guard.AttemptResult{Allowed: true, Failures: n, Added: true}
}
func refused(n int, retry time.Duration) guard.AttemptResult {
	return guard.AttemptResult{Failures: n, RetryAfter: retry}
}

// At most 3 distinct guesses per rolling hour: the 4th inside the hour is refused until the
// oldest leaves; the boundary is exact.
func testAttemptBoundary(t *testing.T, s guard.Store, c *Clock, key func(string) string) {
	k := key("alice")
	attempt(t, s, k, 1, added(1)) // t=0
	c.Advance(10 * time.Minute)
	attempt(t, s, k, 2, added(2)) // t=10m
	c.Advance(10 * time.Minute)
	attempt(t, s, k, 3, added(3)) // t=20m
	c.Advance(10 * time.Minute)
	attempt(t, s, k, 4, refused(3, 30*time.Minute)) // t=30m: until guess 1 leaves at 60m
	attempt(t, s, k, 4, refused(3, 30*time.Minute)) // refused attempts are not recorded
	c.Advance(30*time.Minute - time.Microsecond)
	attempt(t, s, k, 5, refused(3, time.Microsecond)) // one µs before the hour
	c.Advance(time.Microsecond)
	attempt(t, s, k, 4, added(3))                   // t=60m: guess 1 aged out
	attempt(t, s, k, 5, refused(3, 10*time.Minute)) // now until guess 2 leaves at 70m
	attempt(t, s, k, 1, refused(3, 10*time.Minute)) // guess 1 left: it is a new guess again
	c.Advance(10 * time.Minute)
	attempt(t, s, k, 5, added(3))
	// Another name is not affected.
	attempt(t, s, key("bob"), 1, added(1))
}

func testAttemptSameGuess(t *testing.T, s guard.Store, c *Clock, key func(string) string) {
	k := key("carol")
	attempt(t, s, k, 1, added(1))
	c.Advance(time.Minute)
	attempt(t, s, k, 1, ok(1)) // the same wrong password again: same slot
	attempt(t, s, k, 2, added(2))
	attempt(t, s, k, 3, added(3))
	attempt(t, s, k, 1, ok(3)) // repeating a counted guess at the limit is still allowed
	attempt(t, s, k, 4, refused(3, 59*time.Minute))
	// The repeat did not refresh guess 1's time: it leaves an hour after its first use.
	c.Advance(59 * time.Minute)
	attempt(t, s, k, 4, added(3))
}

// With more entries than max (max lowered), RetryAfter waits until fewer than max remain.
func testAttemptOverMax(t *testing.T, s guard.Store, c *Clock, key func(string) string) {
	ctx := context.Background()
	k := key("dave")
	for i := range 3 {
		if _, err := s.Attempt(ctx, k, guess(i), 3, time.Hour); err != nil {
			t.Fatal(err)
		}
		c.Advance(time.Minute)
	}
	// t=3m, entries at 0, 1m, 2m; with max 2, the one at 1m must leave (at 61m).
	got, err := s.Attempt(ctx, k, guess(9), 2, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if want := refused(3, 58*time.Minute); got != want {
		t.Fatalf("Attempt with max 2 = %+v, want %+v", got, want)
	}
	got, err = s.Peek(ctx, k, 2, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if want := refused(3, 58*time.Minute); got != want {
		t.Fatalf("Peek with max 2 = %+v, want %+v", got, want)
	}
}

func testAttemptZeroMax(t *testing.T, s guard.Store, _ *Clock, key func(string) string) {
	got, err := s.Attempt(context.Background(), key("erin"), guess(1), 0, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if want := refused(0, 0); got != want {
		t.Fatalf("Attempt with max 0 = %+v, want %+v", got, want)
	}
}

func testForget(t *testing.T, s guard.Store, c *Clock, key func(string) string) {
	ctx := context.Background()
	k := key("frank")
	if err := s.Forget(ctx, k, guess(1)); err != nil { // nothing to forget
		t.Fatalf("Forget on an empty log: %v", err)
	}
	attempt(t, s, k, 1, added(1))
	attempt(t, s, k, 2, added(2))
	attempt(t, s, k, 3, added(3))
	attempt(t, s, k, 4, refused(3, time.Hour))
	if err := s.Forget(ctx, k, guess(2)); err != nil {
		t.Fatal(err)
	}
	if err := s.Forget(ctx, k, guess(7)); err != nil { // not in the log: no-op
		t.Fatal(err)
	}
	peek(t, s, k, ok(2))
	c.Advance(time.Minute)
	attempt(t, s, k, 4, added(3))
	for _, g := range []int{1, 3, 4} {
		if err := s.Forget(ctx, k, guess(g)); err != nil {
			t.Fatal(err)
		}
	}
	peek(t, s, k, ok(0))
	attempt(t, s, k, 5, added(1))
}

func testClear(t *testing.T, s guard.Store, _ *Clock, key func(string) string) {
	ctx := context.Background()
	k, other := key("grace"), key("heidi")
	attempt(t, s, k, 1, added(1))
	attempt(t, s, k, 2, added(2))
	attempt(t, s, k, 3, added(3))
	attempt(t, s, other, 1, added(1))
	if err := s.Clear(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := s.Clear(ctx, key("nobody")); err != nil {
		t.Fatalf("Clear of an absent key: %v", err)
	}
	peek(t, s, k, ok(0))
	attempt(t, s, k, 4, added(1))
	peek(t, s, other, ok(1))
}

func testPeek(t *testing.T, s guard.Store, c *Clock, key func(string) string) {
	k := key("ivan")
	peek(t, s, k, ok(0))
	attempt(t, s, k, 1, added(1))
	c.Advance(5 * time.Minute)
	attempt(t, s, k, 2, added(2))
	peek(t, s, k, ok(2))
	peek(t, s, k, ok(2)) // Peek records nothing
	c.Advance(time.Minute)
	attempt(t, s, k, 3, added(3))
	peek(t, s, k, refused(3, 54*time.Minute)) // t=6m: until the one at 0 leaves
	c.Advance(54 * time.Minute)
	peek(t, s, k, ok(2))
	c.Advance(5 * time.Minute)
	peek(t, s, k, ok(1))
	c.Advance(time.Hour)
	peek(t, s, k, ok(0))
}

func hit(t *testing.T, s guard.Store, key string, w time.Duration, want int) {
	t.Helper()
	got, err := s.Hit(context.Background(), key, w)
	if err != nil {
		t.Fatalf("Hit: %v", err)
	}
	if got != want {
		t.Fatalf("Hit = %d, want %d", got, want)
	}
}

func count(t *testing.T, s guard.Store, key string, w time.Duration, want int) {
	t.Helper()
	got, err := s.Count(context.Background(), key, w)
	if err != nil {
		t.Fatalf("Count: %v", err)
	}
	if got != want {
		t.Fatalf("Count = %d, want %d", got, want)
	}
}

func testHitWindow(t *testing.T, s guard.Store, c *Clock, key func(string) string) {
	const w = 10 * time.Minute
	k := key("10.0.0.1")
	count(t, s, k, w, 0)
	hit(t, s, k, w, 1) // t=0
	c.Advance(time.Minute)
	hit(t, s, k, w, 2) // t=1m
	hit(t, s, k, w, 3) // t=1m, same instant: counted separately
	c.Advance(time.Minute)
	hit(t, s, k, w, 4) // t=2m
	count(t, s, k, w, 4)
	count(t, s, k, w, 4) // Count adds nothing
	count(t, s, key("10.0.0.2"), w, 0)
	c.Advance(8*time.Minute - time.Microsecond)
	count(t, s, k, w, 4) // t=10m-1µs: all inside
	c.Advance(time.Microsecond)
	count(t, s, k, w, 3) // t=10m: the first left
	c.Advance(time.Minute)
	count(t, s, k, w, 1) // t=11m
	hit(t, s, k, w, 2)
	c.Advance(w)
	count(t, s, k, w, 0)
	hit(t, s, k, w, 1)
}

// Thousands of events in one window are all counted (a store may bound its memory by
// merging close events, but never forgets one early) and all leave within window·(1+1/64).
func testHitMany(t *testing.T, s guard.Store, c *Clock, key func(string) string) {
	const w = 64 * time.Second
	k := key("service")
	const n = 2000
	for i := 1; i <= n; i++ {
		got, err := s.Hit(context.Background(), k, w)
		if err != nil {
			t.Fatal(err)
		}
		if got != i {
			t.Fatalf("Hit #%d = %d", i, got)
		}
		c.Advance(w / n / 2) // all within half a window
	}
	count(t, s, k, w, n)
	c.Advance(w + w/64)
	count(t, s, k, w, 0)
}

func spend(t *testing.T, s guard.Store, id string, ttl time.Duration, want bool) {
	t.Helper()
	got, err := s.Spend(context.Background(), id, ttl)
	if err != nil {
		t.Fatalf("Spend: %v", err)
	}
	if got != want {
		t.Fatalf("Spend(%q) = %v, want %v", id, got, want)
	}
}

func testSpend(t *testing.T, s guard.Store, c *Clock, key func(string) string) {
	const ttl = 5 * time.Minute
	a, b := key("captcha-a"), key("captcha-b")
	spend(t, s, a, ttl, true)
	spend(t, s, a, ttl, false)
	spend(t, s, b, ttl, true)
	c.Advance(ttl - time.Microsecond)
	spend(t, s, a, ttl, false)
	c.Advance(time.Microsecond)
	spend(t, s, a, ttl, true) // expired: usable once more (the challenge itself has expired by then)
	spend(t, s, a, ttl, false)
}

func allow(t *testing.T, s guard.Store, key string, r guard.Rate, want guard.RateResult) {
	t.Helper()
	got, err := s.Allow(context.Background(), key, r)
	if err != nil {
		t.Fatalf("Allow: %v", err)
	}
	if got != want {
		t.Fatalf("Allow(%v) = %+v, want %+v", r, got, want)
	}
}

func testGCRA(t *testing.T, s guard.Store, c *Clock, key func(string) string) {
	r := guard.Rate{Count: 10, Period: time.Second} // emission interval 100ms
	k := key("10.1.1.1")
	const ms = time.Millisecond
	for i := range 10 { // the burst: 10 at once
		allow(t, s, k, r, guard.RateResult{Allowed: true, Limit: 10, Remaining: 9 - i, ResetAfter: time.Duration(i+1) * 100 * ms})
	}
	allow(t, s, k, r, guard.RateResult{Limit: 10, ResetAfter: time.Second, RetryAfter: 100 * ms})
	c.Advance(99 * ms)
	allow(t, s, k, r, guard.RateResult{Limit: 10, ResetAfter: 901 * ms, RetryAfter: ms})
	c.Advance(ms) // t=100ms: one refilled
	allow(t, s, k, r, guard.RateResult{Allowed: true, Limit: 10, ResetAfter: time.Second})
	c.Advance(250 * ms) // t=350ms: 2.5 intervals refilled
	allow(t, s, k, r, guard.RateResult{Allowed: true, Limit: 10, Remaining: 1, ResetAfter: 850 * ms})
	allow(t, s, k, r, guard.RateResult{Allowed: true, Limit: 10, Remaining: 0, ResetAfter: 950 * ms})
	allow(t, s, k, r, guard.RateResult{Limit: 10, ResetAfter: 950 * ms, RetryAfter: 50 * ms})
	c.Advance(950 * ms) // full again
	allow(t, s, k, r, guard.RateResult{Allowed: true, Limit: 10, Remaining: 9, ResetAfter: 100 * ms})
	c.Advance(time.Hour)
	allow(t, s, k, r, guard.RateResult{Allowed: true, Limit: 10, Remaining: 9, ResetAfter: 100 * ms})
	// Another key has its own bucket.
	allow(t, s, key("10.1.1.2"), r, guard.RateResult{Allowed: true, Limit: 10, Remaining: 9, ResetAfter: 100 * ms})
}

func testGCRARefused(t *testing.T, s guard.Store, c *Clock, key func(string) string) {
	r := guard.Rate{Count: 2, Period: time.Minute} // 30s interval
	k := key("10.2.2.2")
	allow(t, s, k, r, guard.RateResult{Allowed: true, Limit: 2, Remaining: 1, ResetAfter: 30 * time.Second})
	allow(t, s, k, r, guard.RateResult{Allowed: true, Limit: 2, Remaining: 0, ResetAfter: time.Minute})
	for range 100 { // hammering while refused does not push the next slot away
		allow(t, s, k, r, guard.RateResult{Limit: 2, ResetAfter: time.Minute, RetryAfter: 30 * time.Second})
	}
	c.Advance(30 * time.Second)
	allow(t, s, k, r, guard.RateResult{Allowed: true, Limit: 2, Remaining: 0, ResetAfter: time.Minute})
}

func testGCRASlow(t *testing.T, s guard.Store, c *Clock, key func(string) string) {
	r := guard.Rate{Count: 20, Period: time.Minute} // 3s interval
	k := key("login:10.3.3.3")
	for i := range 20 {
		allow(t, s, k, r, guard.RateResult{Allowed: true, Limit: 20, Remaining: 19 - i, ResetAfter: time.Duration(i+1) * 3 * time.Second})
	}
	allow(t, s, k, r, guard.RateResult{Limit: 20, ResetAfter: time.Minute, RetryAfter: 3 * time.Second})
	c.Advance(7 * time.Second) // two intervals and a bit
	allow(t, s, k, r, guard.RateResult{Allowed: true, Limit: 20, Remaining: 1, ResetAfter: 56 * time.Second})
}

// The same key string used by different methods names different state.
func testKeySpaces(t *testing.T, s guard.Store, _ *Clock, key func(string) string) {
	ctx := context.Background()
	k := key("shared")
	r := guard.Rate{Count: 1, Period: time.Hour}
	allow(t, s, k, r, guard.RateResult{Allowed: true, Limit: 1, ResetAfter: time.Hour})
	attempt(t, s, k, 1, added(1))
	hit(t, s, k, time.Hour, 1)
	spend(t, s, k, time.Hour, true)
	if err := s.Clear(ctx, k); err != nil {
		t.Fatal(err)
	}
	allow(t, s, k, r, guard.RateResult{Limit: 1, ResetAfter: time.Hour, RetryAfter: time.Hour})
	count(t, s, k, time.Hour, 1)
	spend(t, s, k, time.Hour, false)
	peek(t, s, k, ok(0))
}

const parallel = 50

func run(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}

func testParallelAttempts(t *testing.T, s guard.Store, _ *Clock, key func(string) string) {
	k := key("target")
	var allowed, errs atomic.Int32
	run(parallel, func(i int) {
		r, err := s.Attempt(context.Background(), k, guess(i), 3, time.Hour)
		if err != nil {
			errs.Add(1)
		}
		if r.Allowed {
			allowed.Add(1)
		}
	})
	if errs.Load() != 0 || allowed.Load() != 3 {
		t.Fatalf("%d distinct guesses at once: %d allowed, %d errors; want exactly 3, 0", parallel, allowed.Load(), errs.Load())
	}
	peek(t, s, k, refused(3, time.Hour))
}

func testParallelAllow(t *testing.T, s guard.Store, _ *Clock, key func(string) string) {
	k := key("10.9.9.9")
	var allowed, errs atomic.Int32
	run(parallel, func(int) {
		r, err := s.Allow(context.Background(), k, guard.Rate{Count: 7, Period: time.Hour})
		if err != nil {
			errs.Add(1)
		}
		if r.Allowed {
			allowed.Add(1)
		}
	})
	if errs.Load() != 0 || allowed.Load() != 7 {
		t.Fatalf("%d events at once on 7/1h: %d allowed, %d errors; want exactly 7, 0", parallel, allowed.Load(), errs.Load())
	}
}

func testParallelSpend(t *testing.T, s guard.Store, _ *Clock, key func(string) string) {
	id := key("once")
	var first, errs atomic.Int32
	run(parallel, func(int) {
		ok, err := s.Spend(context.Background(), id, time.Minute)
		if err != nil {
			errs.Add(1)
		}
		if ok {
			first.Add(1)
		}
	})
	if errs.Load() != 0 || first.Load() != 1 {
		t.Fatalf("%d spends of one id: %d succeeded, %d errors; want exactly 1, 0", parallel, first.Load(), errs.Load())
	}
}

func testParallelHits(t *testing.T, s guard.Store, _ *Clock, key func(string) string) {
	k := key("hits")
	var errs atomic.Int32
	seen := make([]atomic.Bool, parallel+1)
	run(parallel, func(int) {
		n, err := s.Hit(context.Background(), k, time.Minute)
		if err != nil || n < 1 || n > parallel || seen[n].Swap(true) {
			errs.Add(1)
		}
	})
	if errs.Load() != 0 {
		t.Fatalf("%d concurrent hits: %d errors or repeated counts", parallel, errs.Load())
	}
	count(t, s, k, time.Minute, parallel)
}
