package account

import "context"

// HoldSlot takes one of h's hashing slots, as a hash in progress would.
func HoldSlot(h *Hasher, class HashClass) (release func(), err error) {
	return h.slots.acquire(context.Background(), class)
}
