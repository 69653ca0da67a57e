package account

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// HoldSlot takes one of h's hashing slots, as a hash in progress would.
func HoldSlot(h *Hasher, class HashClass) (release func(), err error) {
	return h.slots.acquire(context.Background(), class)
}

// WaitQueued returns once n callers wait for one of h's hashing slots (or fails t after 10 s).
func WaitQueued(t testing.TB, h *Hasher, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.slots.mu.Lock()
		q := h.slots.queued
		h.slots.mu.Unlock()
		if q == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d callers waiting for a hashing slot, want %d", q, n)
		}
		runtime.Gosched()
	}
}
