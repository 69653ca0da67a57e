package memory

import (
	"sync/atomic"
	"time"
)

// coarseClock is the store's default clock: a time that a ticker goroutine refreshes every
// millisecond while the store is in use, so a decision costs an atomic load instead of a clock
// read (about 35–65 ns on the virtual machines this runs on). Decisions are therefore made on a
// time that is up to about a millisecond old (more if the ticker is starved); the clock never
// goes back. The ticker stops after a second without reads and restarts on the next one,
// which then reads the precise time itself. Tests inject Options.Now instead.
type coarseClock struct {
	now     atomic.Int64 // unix ns
	used    atomic.Bool  // read since the last tick
	running atomic.Bool
	start   time.Time // preciseNow = base + monotonic time since start: one clock read, no steps
	base    int64
}

const (
	tickEvery = time.Millisecond
	idleTicks = 1000
)

func newCoarseClock() *coarseClock {
	c := &coarseClock{start: time.Now()}
	c.base = c.start.UnixNano()
	return c
}

func (c *coarseClock) preciseNow() int64 { return c.base + int64(time.Since(c.start)) }

// Now returns the coarse time in Unix nanoseconds.
func (c *coarseClock) Now() int64 {
	if c.running.Load() {
		if !c.used.Load() {
			c.used.Store(true)
		}
		return c.now.Load()
	}
	t := c.advance()
	c.used.Store(true)
	if c.running.CompareAndSwap(false, true) {
		go c.tick()
	}
	return t
}

// advance sets the shared time to now unless it is already later, and returns it.
func (c *coarseClock) advance() int64 {
	t := c.preciseNow()
	for {
		old := c.now.Load()
		if old >= t {
			return old
		}
		if c.now.CompareAndSwap(old, t) {
			return t
		}
	}
}

func (c *coarseClock) tick() {
	t := time.NewTicker(tickEvery)
	defer t.Stop()
	idle := 0
	for range t.C {
		c.advance()
		if c.used.Swap(false) {
			idle = 0
			continue
		}
		if idle++; idle >= idleTicks {
			c.running.Store(false)
			// A reader that started the clock between the check above and this store
			// started another ticker only if it saw running false, which it could not: so
			// check once more that nobody needs this one.
			if c.used.Load() && c.running.CompareAndSwap(false, true) {
				idle = 0
				continue
			}
			return
		}
	}
}
