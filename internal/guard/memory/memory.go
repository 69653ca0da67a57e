// Package memory is the embedded guard.Store: exact, in-process and bounded.
//
// Keys live in shards (a mutex each) chosen by a maphash of the key. Every entry knows when
// it stops mattering (a GCRA bucket once it is full again, a log once its newest entry left
// the window, a spent id once its ttl passed); such expired entries are dropped when met and
// swept a few at a time whenever a key is added. The number of tracked keys is capped: a
// shard that is full evicts with the CLOCK algorithm (expired entries first, then the
// approximately least recently used one), so a flood of random senders or names costs at
// most MaxKeys entries.
//
// A rate decision on an existing key takes one lock, one map lookup and a few integer
// operations on one int64 (the GCRA theoretical arrival time) and allocates nothing.
package memory

import (
	"context"
	"hash/maphash"
	"math/bits"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/hellosvc/hello/internal/guard"
)

// DefaultMaxKeys is the cap on tracked keys when Options.MaxKeys is zero: about 100–150 MB of
// heap when full of short keys.
const DefaultMaxKeys = 1_000_000

// Options configure a Store.
type Options struct {
	// MaxKeys caps the number of keys tracked (all kinds together). Zero means
	// DefaultMaxKeys.
	MaxKeys int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// kinds of entries; each has its own key space.
const (
	kindRate = iota
	kindLog
	kindHits
	kindSpent
	numKinds
)

// Store is the in-process guard.Store. The zero value is not usable; call New.
type Store struct {
	seed   maphash.Seed
	mask   uint64
	shards []shard
	now    func() time.Time
	max    int
}

var _ guard.Store = (*Store)(nil)

type shard struct {
	mu    sync.Mutex
	index [numKinds]map[string]int32
	slots []slot  // grows up to limit
	free  []int32 // unused slot numbers
	hand  int     // CLOCK hand
	limit int     // most entries this shard holds
	_     [64]byte
}

type slot struct {
	key  string
	exp  int64 // unix ns after which the entry carries no state; 0 marks a free slot
	tat  int64 // rate: GCRA theoretical arrival time (unix ns)
	ref  bool  // CLOCK reference bit
	kind uint8
	log  []logEntry // kindLog
	hits []hitEntry // kindHits
}

type logEntry struct {
	guess guard.Guess
	at    int64
}

type hitEntry struct {
	at int64 // time of the newest event merged into this entry
	n  int64
}

// New returns an empty Store.
func New(o Options) *Store {
	if o.MaxKeys <= 0 {
		o.MaxKeys = DefaultMaxKeys
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	// Enough shards that cores rarely meet on one lock, few enough that each holds a useful
	// number of keys (the cap is per shard: MaxKeys/shards each, so the total never exceeds
	// MaxKeys).
	n := 16 * runtime.GOMAXPROCS(0)
	n = 1 << bits.Len(uint(n-1)) // round up to a power of two
	n = max(min(n, 1024), 64)
	for n > 1 && o.MaxKeys/n < 64 {
		n /= 2
	}
	s := &Store{
		seed:   maphash.MakeSeed(),
		mask:   uint64(n - 1),
		shards: make([]shard, n),
		now:    o.Now,
		max:    o.MaxKeys,
	}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.limit = o.MaxKeys / n
		if i < o.MaxKeys%n {
			sh.limit++ // hand out the remainder so the shards add up to MaxKeys exactly
		}
		for k := range sh.index {
			sh.index[k] = make(map[string]int32)
		}
	}
	return s
}

// Len is the number of keys tracked, expired or not yet swept included.
func (s *Store) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.slots) - len(sh.free)
		sh.mu.Unlock()
	}
	return n
}

// MaxKeys is the cap on tracked keys.
func (s *Store) MaxKeys() int { return s.max }

// Sweep drops every expired entry now (entries are otherwise dropped when met or a few at a
// time as keys are added). It returns how many it dropped.
func (s *Store) Sweep() int {
	now := s.now().UnixNano()
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for j := range sh.slots {
			if e := &sh.slots[j]; e.exp != 0 && e.exp <= now {
				sh.remove(int32(j))
				n++
			}
		}
		sh.mu.Unlock()
	}
	return n
}

func (s *Store) shard(key string) *shard {
	return &s.shards[maphash.String(s.seed, key)&s.mask]
}

// lookup returns key's live entry of kind, or nil. It drops an expired one. Caller holds mu.
func (sh *shard) lookup(kind uint8, key string, now int64) *slot {
	i, ok := sh.index[kind][key]
	if !ok {
		return nil
	}
	e := &sh.slots[i]
	if e.exp <= now {
		sh.remove(i)
		return nil
	}
	e.ref = true
	return e
}

// insert adds key as a new entry of kind, evicting if the shard is full. Caller holds mu and
// has checked that key is absent.
func (sh *shard) insert(kind uint8, key string, now int64) *slot {
	sh.sweep(now, 2)
	if len(sh.slots)-len(sh.free) >= sh.limit {
		sh.evict(now)
	}
	var i int32
	if n := len(sh.free); n > 0 {
		i = sh.free[n-1]
		sh.free = sh.free[:n-1]
	} else {
		sh.slots = append(sh.slots, slot{})
		i = int32(len(sh.slots) - 1)
	}
	key = clone(key)
	sh.slots[i] = slot{key: key, kind: kind, ref: true}
	sh.index[kind][key] = i
	return &sh.slots[i]
}

// clone copies key so the store never pins a caller's larger buffer.
func clone(s string) string { return string([]byte(s)) }

// sweep looks at up to n slots under the CLOCK hand and frees the expired ones, so expired
// entries go away even when nobody asks for them again.
func (sh *shard) sweep(now int64, n int) {
	for ; n > 0 && len(sh.slots) > 0; n-- {
		if sh.hand >= len(sh.slots) {
			sh.hand = 0
		}
		if e := &sh.slots[sh.hand]; e.exp != 0 && e.exp <= now {
			sh.remove(int32(sh.hand))
		}
		sh.hand++
	}
}

// evict frees one slot: the first expired or unreferenced entry under the CLOCK hand
// (clearing reference bits on the way, so within two turns one is found).
func (sh *shard) evict(now int64) {
	for range 2*len(sh.slots) + 1 {
		if sh.hand >= len(sh.slots) {
			sh.hand = 0
		}
		e := &sh.slots[sh.hand]
		switch {
		case e.exp == 0: // free already
		case e.exp <= now || !e.ref:
			sh.remove(int32(sh.hand))
			sh.hand++
			return
		default:
			e.ref = false
		}
		sh.hand++
	}
}

func (sh *shard) remove(i int32) {
	e := &sh.slots[i]
	delete(sh.index[e.kind], e.key)
	*e = slot{}
	sh.free = append(sh.free, i)
}

// Allow implements guard.Store with GCRA: the emission interval is T = Period/Count and an
// event at now is allowed when the bucket's theoretical arrival time, moved on by T, is at
// most Period (Count·T) ahead of now.
func (s *Store) Allow(_ context.Context, key string, r guard.Rate) (guard.RateResult, error) {
	now := s.now().UnixNano()
	t, burst := gcraParams(r)
	sh := s.shard(key)
	sh.mu.Lock()
	e := sh.lookup(kindRate, key, now)
	tat := now
	if e != nil && e.tat > now {
		tat = e.tat
	}
	next := tat + t
	diff := now - (next - burst) // ≥ 0: allowed
	if diff < 0 {
		sh.mu.Unlock()
		return guard.RateResult{
			Limit:      r.Count,
			ResetAfter: time.Duration(tat - now),
			RetryAfter: time.Duration(-diff),
		}, nil
	}
	if e == nil {
		e = sh.insert(kindRate, key, now)
	}
	e.tat, e.exp = next, next
	sh.mu.Unlock()
	return guard.RateResult{
		Allowed:    true,
		Limit:      r.Count,
		Remaining:  int(diff / t),
		ResetAfter: time.Duration(next - now),
	}, nil
}

// gcraParams returns the emission interval and the burst tolerance (Count intervals) in ns.
// Both stores use these same integers.
func gcraParams(r guard.Rate) (t, burst int64) {
	n := int64(max(r.Count, 1))
	t = max(int64(r.Period)/n, 1)
	return t, t * n
}

// GCRAParams exposes the integer arithmetic the stores share: the emission interval and the
// burst tolerance of r, in nanoseconds.
func GCRAParams(r guard.Rate) (interval, burst time.Duration) {
	t, b := gcraParams(r)
	return time.Duration(t), time.Duration(b)
}

// Attempt implements guard.Store with an exact sliding log of distinct guesses.
func (s *Store) Attempt(_ context.Context, key string, g guard.Guess, maxN int, window time.Duration) (guard.AttemptResult, error) {
	now := s.now().UnixNano()
	w := int64(window)
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.lookup(kindLog, key, now)
	if e != nil {
		e.log = pruneLog(e.log, now-w)
		for _, l := range e.log {
			if l.guess == g {
				return guard.AttemptResult{Allowed: true, Failures: len(e.log)}, nil
			}
		}
		if len(e.log) >= maxN {
			return guard.AttemptResult{Failures: len(e.log), RetryAfter: logRetry(e.log, maxN, now, w)}, nil
		}
	} else {
		if maxN <= 0 {
			return guard.AttemptResult{}, nil
		}
		e = sh.insert(kindLog, key, now)
	}
	e.log = append(e.log, logEntry{guess: g, at: now})
	e.exp = now + w
	return guard.AttemptResult{Allowed: true, Failures: len(e.log)}, nil
}

// Peek implements guard.Store.
func (s *Store) Peek(_ context.Context, key string, maxN int, window time.Duration) (guard.AttemptResult, error) {
	now := s.now().UnixNano()
	w := int64(window)
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.lookup(kindLog, key, now)
	if e == nil {
		return guard.AttemptResult{Allowed: maxN > 0}, nil
	}
	e.log = pruneLog(e.log, now-w)
	r := guard.AttemptResult{Allowed: len(e.log) < maxN, Failures: len(e.log)}
	if !r.Allowed {
		r.RetryAfter = logRetry(e.log, maxN, now, w)
	}
	return r, nil
}

// pruneLog drops the entries at or before cut (no longer inside the window).
func pruneLog(log []logEntry, cut int64) []logEntry {
	k := 0
	for _, l := range log {
		if l.at > cut {
			log[k] = l
			k++
		}
	}
	clear(log[k:])
	return log[:k]
}

// logRetry is how long until fewer than maxN entries remain: until the entry at position
// len-maxN (oldest first) leaves the window; with exactly maxN entries, the oldest.
func logRetry(log []logEntry, maxN int, now, w int64) time.Duration {
	// Entries are appended in time order, so the log is sorted oldest first.
	i := max(len(log)-max(maxN, 1), 0)
	if len(log) == 0 {
		return 0
	}
	return time.Duration(max(log[i].at+w-now, 0))
}

// Forget implements guard.Store.
func (s *Store) Forget(_ context.Context, key string, g guard.Guess) error {
	now := s.now().UnixNano()
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.lookup(kindLog, key, now)
	if e == nil {
		return nil
	}
	for i, l := range e.log {
		if l.guess == g {
			e.log = slices.Delete(e.log, i, i+1)
			break
		}
	}
	if len(e.log) == 0 {
		sh.remove(sh.index[kindLog][key])
	}
	return nil
}

// Clear implements guard.Store.
func (s *Store) Clear(_ context.Context, key string) error {
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if i, ok := sh.index[kindLog][key]; ok {
		sh.remove(i)
	}
	return nil
}

// HitsExact is how many separate timestamps a Hit/Count key keeps before it merges events
// that fall in the same 1/HitsExact of the window: counts stay exact below it; above it an
// event may be counted up to window/HitsExact longer than window (never shorter), and a
// key holds at most about 2·HitsExact entries however many events it sees.
const HitsExact = 64

// Hit implements guard.Store: a sliding window count, exact up to HitsExact distinct
// timestamps per window, bounded above it (see HitsExact).
func (s *Store) Hit(_ context.Context, key string, window time.Duration) (int, error) {
	now := s.now().UnixNano()
	w := int64(window)
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.lookup(kindHits, key, now)
	if e == nil {
		e = sh.insert(kindHits, key, now)
	}
	e.hits = pruneHits(e.hits, now-w)
	slotW := max(w/HitsExact, 1)
	if n := len(e.hits); n >= HitsExact && floorDiv(e.hits[n-1].at, slotW) == floorDiv(now, slotW) {
		e.hits[n-1].n++
		e.hits[n-1].at = max(e.hits[n-1].at, now)
	} else {
		e.hits = append(e.hits, hitEntry{at: now, n: 1})
	}
	e.exp = max(e.exp, now+w)
	return sumHits(e.hits), nil
}

// Count implements guard.Store.
func (s *Store) Count(_ context.Context, key string, window time.Duration) (int, error) {
	now := s.now().UnixNano()
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.lookup(kindHits, key, now)
	if e == nil {
		return 0, nil
	}
	e.hits = pruneHits(e.hits, now-int64(window))
	return sumHits(e.hits), nil
}

func pruneHits(h []hitEntry, cut int64) []hitEntry {
	k := 0
	for _, x := range h {
		if x.at > cut {
			h[k] = x
			k++
		}
	}
	return h[:k]
}

func sumHits(h []hitEntry) int {
	var n int64
	for _, x := range h {
		n += x.n
	}
	return int(n)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// Spend implements guard.Store.
func (s *Store) Spend(_ context.Context, id string, ttl time.Duration) (bool, error) {
	now := s.now().UnixNano()
	sh := s.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.lookup(kindSpent, id, now) != nil {
		return false, nil
	}
	e := sh.insert(kindSpent, id, now)
	e.exp = now + max(int64(ttl), 1)
	return true, nil
}
