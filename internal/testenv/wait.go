package testenv

import (
	"testing"
	"time"
)

// Eventually waits until cond holds, checking it every few milliseconds, and fails the test
// naming what it waited for if timeout passes first. It is for conditions that something else
// makes true in its own time (a server starting, a store noticing Redis is back), never a
// stand-in for synchronising with code the test controls.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if cond() {
		return
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	poll := time.NewTicker(5 * time.Millisecond)
	defer poll.Stop()
	for {
		select {
		case <-poll.C:
			if cond() {
				return
			}
		case <-deadline.C:
			t.Fatalf("%s: not within %s", what, timeout)
		}
	}
}
