package httpapi

import (
	"sync"
	"sync/atomic"
)

// readMostly is a map for values computed once per key from a small set of keys (routes ×
// methods × statuses, refusal messages): a lookup is one atomic load and one map read, with no
// lock and no allocation; adding a key copies the map. Past max keys, get computes the value
// each time without keeping it, so keys from client input cannot grow it without bound.
type readMostly[K comparable, V any] struct {
	max     int
	compute func(K) V

	m  atomic.Pointer[map[K]V]
	mu sync.Mutex // serialises adds
}

func (c *readMostly[K, V]) get(k K) V {
	if m := c.m.Load(); m != nil {
		if v, ok := (*m)[k]; ok {
			return v
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	if old != nil {
		if v, ok := (*old)[k]; ok {
			return v
		}
	}
	v := c.compute(k)
	if old != nil && len(*old) >= c.max {
		return v
	}
	next := make(map[K]V, 1+lenOf(old))
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	next[k] = v
	c.m.Store(&next)
	return v
}

func lenOf[K comparable, V any](m *map[K]V) int {
	if m == nil {
		return 0
	}
	return len(*m)
}
