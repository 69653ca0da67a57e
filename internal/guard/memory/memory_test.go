package memory_test

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hellosvc/hello/internal/guard"
	"github.com/hellosvc/hello/internal/guard/memory"
	"github.com/hellosvc/hello/internal/guard/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, c *storetest.Clock) guard.Store {
		return memory.New(memory.Options{Now: c.Now})
	})
}

// A small cap still passes the suite: eviction never touches a key in use.
func TestConformanceSmallCap(t *testing.T) {
	storetest.Run(t, func(t *testing.T, c *storetest.Clock) guard.Store {
		return memory.New(memory.Options{MaxKeys: 64, Now: c.Now})
	})
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// A flood of distinct senders and names, 40 times the cap or more, is held to MaxKeys entries
// and to a bounded heap. HELLO_TEST_LONG=1 floods a million keys into a cap of 20,000 (minutes
// under -race); the default run proves the same with 200,000 into 5,000.
func TestFloodIsBounded(t *testing.T) {
	maxKeys, flood := 5_000, 200_000
	if os.Getenv("HELLO_TEST_LONG") == "1" {
		maxKeys, flood = 20_000, 1_000_000
	}
	c := storetest.NewClock()
	s := memory.New(memory.Options{MaxKeys: maxKeys, Now: c.Now})
	ctx := context.Background()
	before := heapInUse()
	r := guard.Rate{Count: 600, Period: time.Minute}
	var g guard.Guess
	buf := make([]byte, 0, 32)
	for i := range flood {
		buf = strconv.AppendInt(append(buf[:0], "10."...), int64(i), 10)
		key := string(buf)
		var err error
		switch i % 4 {
		case 0, 1:
			_, err = s.Allow(ctx, key, r)
		case 2:
			g[0], g[1], g[2] = byte(i), byte(i>>8), byte(i>>16)
			_, err = s.Attempt(ctx, key, g, 3, time.Hour)
		case 3:
			_, err = s.Hit(ctx, key, 10*time.Minute)
		}
		if err != nil {
			t.Fatal(err)
		}
		if i%(flood/10) == 0 {
			if n := s.Len(); n > maxKeys {
				t.Fatalf("after %d keys: %d tracked, cap %d", i, n, maxKeys)
			}
		}
	}
	if n := s.Len(); n > maxKeys || n < maxKeys*9/10 {
		t.Fatalf("%d keys tracked after a flood of %d, want at most %d (and near it)", n, flood, maxKeys)
	}
	grew := int64(heapInUse()) - int64(before)
	// ~200 bytes per entry (slot, key, map slot, a log or hit slice) plus slack; a store
	// that kept the flood would exceed it (200,000 keys: about 15 MB, three times the bound).
	bound := int64(maxKeys) * 1024
	t.Logf("%d keys tracked, heap in use grew by %d KiB (bound %d KiB)", s.Len(), grew>>10, bound>>10)
	if grew > bound {
		t.Fatalf("heap in use grew by %d bytes for %d keys, bound %d", grew, maxKeys, bound)
	}
	runtime.KeepAlive(s)
}

// Expired entries go away: met again they read as new, swept they free their slot, and the
// cap evicts them before live ones.
func TestExpiredEntriesAreEvicted(t *testing.T) {
	c := storetest.NewClock()
	s := memory.New(memory.Options{MaxKeys: 1000, Now: c.Now})
	ctx := context.Background()
	r := guard.Rate{Count: 10, Period: time.Second}
	for i := range 500 {
		if _, err := s.Allow(ctx, "old"+strconv.Itoa(i), r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Spend(ctx, "id", time.Minute); err != nil {
		t.Fatal(err)
	}
	if n := s.Len(); n != 501 {
		t.Fatalf("Len = %d, want 501", n)
	}
	c.Advance(time.Second) // every bucket is full again: nothing left to remember
	if n := s.Sweep(); n != 500 {
		t.Fatalf("Sweep dropped %d, want 500 (the spent id lives a minute)", n)
	}
	if n := s.Len(); n != 1 {
		t.Fatalf("Len after Sweep = %d, want 1", n)
	}

	// Without Sweep: adding keys sweeps expired ones a few at a time.
	for i := range 500 {
		if _, err := s.Allow(ctx, "old"+strconv.Itoa(i), r); err != nil {
			t.Fatal(err)
		}
	}
	c.Advance(time.Second)
	for i := range 600 {
		if _, err := s.Hit(ctx, "new"+strconv.Itoa(i), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	// 500 expired + 600 live + the spent id do not fit in 1000: the cap holds, and expired
	// buckets went before any live entry was evicted.
	if n := s.Len(); n > 1000 {
		t.Fatalf("Len = %d over the cap", n)
	}
	live := 0
	for i := range 600 {
		n, err := s.Count(ctx, "new"+strconv.Itoa(i), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		live += n
	}
	if live != 600 {
		t.Fatalf("%d of 600 live keys survived; expired ones should have been evicted first", live)
	}
}

// Recently used keys survive a flood that overflows the cap (eviction takes the live entry
// that expires first, and a key in use keeps its expiry ahead); the flood's own keys go instead.
func TestHotKeysSurviveFlood(t *testing.T) {
	c := storetest.NewClock()
	s := memory.New(memory.Options{MaxKeys: 4096, Now: c.Now})
	ctx := context.Background()
	r := guard.Rate{Count: 5, Period: time.Hour}
	for range 5 {
		if _, err := s.Allow(ctx, "attacker", r); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 100_000 {
		if _, err := s.Allow(ctx, "flood"+strconv.Itoa(i), r); err != nil {
			t.Fatal(err)
		}
		if i%1000 == 0 { // the attacker keeps trying
			res, err := s.Allow(ctx, "attacker", r)
			if err != nil {
				t.Fatal(err)
			}
			if res.Allowed {
				t.Fatalf("the attacker's bucket was evicted after %d flood keys", i)
			}
		}
	}
}

func TestAllowDoesNotAllocate(t *testing.T) {
	s := memory.New(memory.Options{})
	ctx := context.Background()
	r := guard.Rate{Count: 1 << 30, Period: time.Hour}
	if _, err := s.Allow(ctx, "10.0.0.1", r); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() { _, _ = s.Allow(ctx, "10.0.0.1", r) }); n != 0 {
		t.Fatalf("Allow on an existing key: %v allocs/op, want 0", n)
	}
}

func BenchmarkAllow(b *testing.B) {
	s := memory.New(memory.Options{})
	keys := make([]string, 100_000)
	for i := range keys {
		keys[i] = "10." + strconv.Itoa(i>>16&255) + "." + strconv.Itoa(i>>8&255) + "." + strconv.Itoa(i&255)
	}
	ctx := context.Background()
	r := guard.Rate{Count: 1 << 30, Period: time.Hour}
	for _, k := range keys {
		_, _ = s.Allow(ctx, k, r)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var start atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		i := int(start.Add(int64(len(keys) / 7))) // each goroutine its own place in the keys
		for pb.Next() {
			if res, _ := s.Allow(ctx, keys[i%len(keys)], r); !res.Allowed {
				b.Fatal("refused")
			}
			i++
		}
	})
}
