package guard

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"sync"
)

// macPool hands out HMAC-SHA256 states under one key. hmac.New allocates the state and hashes
// the key's two blocks on every call; a pooled state's Reset only restores the keyed state, so
// a refusal that hashes a name (every login on a locked name) allocates nothing for it.
type macPool struct{ pool sync.Pool }

// macState is one HMAC with room for its message and its sum.
type macState struct {
	h   hash.Hash
	msg []byte
	sum [sha256.Size]byte
}

func newMACPool(key []byte) *macPool {
	p := &macPool{}
	p.pool.New = func() any { return &macState{h: hmac.New(sha256.New, key)} }
	return p
}

func (p *macPool) get() *macState {
	s := p.pool.Get().(*macState)
	s.msg = s.msg[:0]
	return s
}

// put returns s to the pool; what sum returned is no longer valid.
func (p *macPool) put(s *macState) {
	clear(s.msg) // names and passwords do not stay behind in a pooled buffer
	p.pool.Put(s)
}

// mac returns the HMAC of s.msg, valid until s goes back to the pool.
func (s *macState) mac() []byte {
	s.h.Reset()
	s.h.Write(s.msg)
	return s.h.Sum(s.sum[:0])
}
