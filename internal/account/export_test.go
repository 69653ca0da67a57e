package account

import (
	"context"
	"testing"
)

// HoldSlot takes one of h's hashing slots, as a hash in progress would.
func HoldSlot(h *Hasher, class HashClass) (release func(), err error) {
	return h.slots.acquire(context.Background(), class)
}

// WaitQueued returns once n callers wait for one of h's hashing slots.
func WaitQueued(t *testing.T, h *Hasher, n int) { queued(t, h.slots, n) }
