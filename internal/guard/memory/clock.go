package memory

import (
	"sync/atomic"
	"time"
)

// The default clock reads a time that a ticker goroutine refreshes every millisecond while
// the store is in use, so a decision costs an atomic load instead of a clock read (about
// 35–65 ns on the virtual machines this runs on). Decisions are therefore made on a time that
// is up to about a millisecond old (more if the ticker is starved); the clock never goes
// back. The ticker stops after a second without reads and restarts on the next one, which
// then reads the precise time itself. Tests inject Options.Now instead.
var clk struct {
	now     atomic.Int64 // unix ns
	used    atomic.Bool  // read since the last tick
	running atomic.Bool
}

const (
	tickEvery = time.Millisecond
	idleTicks = 1000
)

var (
	clockStart = time.Now()
	clockBase  = clockStart.UnixNano()
)

// preciseNow is wall time at start plus the monotonic time since: one clock read, no steps.
func preciseNow() int64 { return clockBase + int64(time.Since(clockStart)) }

func coarseNow() int64 {
	if clk.running.Load() {
		if !clk.used.Load() {
			clk.used.Store(true)
		}
		return clk.now.Load()
	}
	return startClock()
}

func startClock() int64 {
	t := advanceClock()
	clk.used.Store(true)
	if clk.running.CompareAndSwap(false, true) {
		go tick()
	}
	return t
}

// advanceClock sets the shared time to now unless it is already later, and returns it.
func advanceClock() int64 {
	t := preciseNow()
	for {
		old := clk.now.Load()
		if old >= t {
			return old
		}
		if clk.now.CompareAndSwap(old, t) {
			return t
		}
	}
}

func tick() {
	t := time.NewTicker(tickEvery)
	defer t.Stop()
	idle := 0
	for range t.C {
		advanceClock()
		if clk.used.Swap(false) {
			idle = 0
			continue
		}
		if idle++; idle >= idleTicks {
			clk.running.Store(false)
			// A reader that started the clock between the check above and this store
			// started another ticker only if it saw running false, which it could not: so
			// check once more that nobody needs this one.
			if clk.used.Load() && clk.running.CompareAndSwap(false, true) {
				idle = 0
				continue
			}
			return
		}
	}
}
