// Package memory is the embedded guard.Store: exact, in-process and bounded.
//
// Keys live in shards (a mutex each) chosen by a seeded maphash of the key; within a shard
// each kind of state (rates, failure logs, hit counts, spent ids) has its own map keyed by
// that 64-bit hash. A rate is one int64, its GCRA theoretical arrival time, so a decision is
// one lock, two lookups of one map and a few integer operations, with no allocation.
//
// Keys are told apart by the 64-bit hash (seeded at random per process, so nobody can aim for
// a collision); the logs and hit counts, where a mix-up would matter, also keep and compare
// the key. Two live rate keys share a hash with probability about 5e-14 per new key when a
// million are tracked.
//
// Every entry knows when it stops mattering (a rate once its bucket is full again, a log once
// its newest guess left the window, a spent id once its ttl passed). Expired entries read as
// empty, are dropped a few at a time as keys are added, and all at once by Sweep. The number of
// tracked keys is capped: a full shard evicts, from a random sample of entries, the expired
// ones or else the one that would expire first (the least recently active), the way Redis
// approximates LRU; so a flood of random senders or names costs at most MaxKeys entries.
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

// DefaultMaxKeys is the cap on tracked keys when Options.MaxKeys is zero.
const DefaultMaxKeys = 1_000_000

// Options configure a Store.
type Options struct {
	// MaxKeys caps the number of keys tracked (all kinds together). Zero means
	// DefaultMaxKeys.
	MaxKeys int
	// Now is the clock; nil means a millisecond-resolution clock refreshed in the
	// background (see clock.go), much cheaper to read than time.Now.
	Now func() time.Time
}

// Store is the in-process guard.Store. The zero value is not usable; call New.
type Store struct {
	seed   maphash.Seed
	mask   uint64
	shards []shard
	now    func() int64 // unix ns
	max    int
}

var _ guard.Store = (*Store)(nil)

type shard struct {
	mu    sync.Mutex
	rates rateTable        // GCRA theoretical arrival time (unix ns); expired when ≤ now
	spent map[uint64]int64 // expiry (unix ns)
	logs  map[uint64]*logState
	hits  map[uint64]*hitState
	limit int // most entries (all maps together) this shard holds
	_     [64]byte
}

type logState struct {
	key string
	exp int64      // newest entry + window
	log []logEntry // oldest first
}

type logEntry struct {
	guess guard.Guess
	at    int64
}

type hitState struct {
	key  string
	exp  int64 // newest event + window
	hits []hitEntry
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
	// Enough shards that cores rarely meet on one lock, few enough that each holds a useful
	// number of keys (the cap is per shard and the shards add up to MaxKeys exactly).
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
		now:    newCoarseClock().Now,
		max:    o.MaxKeys,
	}
	if o.Now != nil {
		s.now = func() int64 { return o.Now().UnixNano() }
	}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.limit = o.MaxKeys / n
		if i < o.MaxKeys%n {
			sh.limit++
		}
		sh.spent = make(map[uint64]int64)
		sh.logs = make(map[uint64]*logState)
		sh.hits = make(map[uint64]*hitState)
	}
	return s
}

// Len is the number of keys tracked, expired ones not yet dropped included.
func (s *Store) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += sh.len()
		sh.mu.Unlock()
	}
	return n
}

// Sweep drops every expired entry now and returns how many it dropped.
func (s *Store) Sweep() int {
	now := s.now()
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += sh.rates.sweep(now, -1)
		n += sweepMap(sh.spent, now, -1, func(v int64) int64 { return v })
		n += sweepMap(sh.logs, now, -1, func(v *logState) int64 { return v.exp })
		n += sweepMap(sh.hits, now, -1, func(v *hitState) int64 { return v.exp })
		sh.mu.Unlock()
	}
	return n
}

func (sh *shard) len() int { return sh.rates.n + len(sh.spent) + len(sh.logs) + len(sh.hits) }

// sweepMap deletes the entries expired at cut among the first n (all when n < 0) that ranging
// over m yields, which starts at a random place.
func sweepMap[V any](m map[uint64]V, cut int64, n int, exp func(V) int64) int {
	dropped := 0
	for k, v := range m {
		if n == 0 {
			break
		}
		n--
		if exp(v) <= cut {
			delete(m, k)
			dropped++
		}
	}
	return dropped
}

// evictSample is how many entries eviction looks at.
const evictSample = 8

// evictFrom deletes, among a random sample of m, every expired entry or, when none is, the
// one that expires first. It reports whether it deleted anything.
func evictFrom[V any](m map[uint64]V, now int64, exp func(V) int64) bool {
	var oldest uint64
	oldestExp, n, dropped := int64(0), 0, false
	for k, v := range m {
		if n == evictSample {
			break
		}
		n++
		e := exp(v)
		if e <= now {
			delete(m, k)
			dropped = true
		} else if n == 1 || e < oldestExp {
			oldest, oldestExp = k, e
		}
	}
	if !dropped && n > 0 {
		delete(m, oldest)
		dropped = true
	}
	return dropped
}

// sweepGrace is how long past its expiry an entry stays before the sweep that runs as keys
// are added drops it: a sender that comes back within it finds its entry (no insert), and the
// sweep does not churn through buckets that are merely full between two requests.
const sweepGrace = int64(time.Minute)

// entryKind names the map an entry is added to.
type entryKind int

const (
	rateEntry    entryKind = iota // GCRA state (Allow)
	spentEntry                    // spent ids (Spend)
	logEntryKind                  // failure logs (Attempt)
	hitsEntry                     // event counts (Hit)
)

// makeRoom is called before adding an entry of kind: it drops a couple of long-expired entries
// of that kind as it goes, and at the cap evicts, expired entries first.
func (sh *shard) makeRoom(now int64, kind entryKind) {
	cut := now - sweepGrace
	switch kind {
	case rateEntry:
		sh.rates.sweep(cut, 2)
	case spentEntry:
		sweepMap(sh.spent, cut, 2, func(v int64) int64 { return v })
	case logEntryKind:
		sweepMap(sh.logs, cut, 2, func(v *logState) int64 { return v.exp })
	case hitsEntry:
		sweepMap(sh.hits, cut, 2, func(v *hitState) int64 { return v.exp })
	}
	for sh.len() >= sh.limit {
		// Expired entries anywhere in the shard go first...
		if sh.rates.sweep(now, evictSample)+
			sweepMap(sh.spent, now, evictSample, func(v int64) int64 { return v })+
			sweepMap(sh.logs, now, evictSample, func(v *logState) int64 { return v.exp })+
			sweepMap(sh.hits, now, evictSample, func(v *hitState) int64 { return v.exp }) > 0 {
			continue
		}
		// ...then the live entry that would expire first, from the largest map.
		big := max(sh.rates.n, len(sh.spent), len(sh.logs), len(sh.hits))
		switch big {
		case sh.rates.n:
			sh.rates.evictOldest()
		case len(sh.spent):
			evictFrom(sh.spent, now, func(v int64) int64 { return v })
		case len(sh.logs):
			evictFrom(sh.logs, now, func(v *logState) int64 { return v.exp })
		default:
			evictFrom(sh.hits, now, func(v *hitState) int64 { return v.exp })
		}
	}
}

func (s *Store) hash(key string) (uint64, *shard) {
	h := maphash.String(s.seed, key)
	return h, &s.shards[h&s.mask]
}

// Allow implements guard.Store with GCRA: the emission interval is T = Period/Count and an
// event at now is allowed when the bucket's theoretical arrival time, moved on by T, is at
// most Count·T ahead of now.
func (s *Store) Allow(_ context.Context, key string, r guard.Rate) (guard.RateResult, error) {
	now := s.now()
	t, burst := gcraParams(r)
	h, sh := s.hash(key)
	h |= 1 // 0 marks an empty table entry
	sh.mu.Lock()
	i := sh.rates.find(h)
	tat := now
	if i >= 0 && sh.rates.ent[i].tat > now {
		tat = sh.rates.ent[i].tat
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
	if i >= 0 {
		sh.rates.ent[i].tat = next
	} else {
		sh.makeRoom(now, rateEntry)
		sh.rates.put(h, next)
	}
	sh.mu.Unlock()
	return guard.RateResult{
		Allowed:    true,
		Limit:      r.Count,
		Remaining:  int(diff / t),
		ResetAfter: time.Duration(next - now),
	}, nil
}

// gcraParams returns the emission interval and the burst tolerance (Count intervals) in ns.
func gcraParams(r guard.Rate) (t, burst int64) {
	ti, b := r.GCRA()
	return int64(ti), int64(b)
}

// log returns key's failure log, pruned to the window, or nil. Caller holds mu.
func (sh *shard) log(h uint64, key string, now, w int64) *logState {
	l := sh.logs[h]
	if l == nil {
		return nil
	}
	if l.key != key { // a hash collision: the newcomer takes the entry over
		delete(sh.logs, h)
		return nil
	}
	l.log = prune(l.log, now-w)
	return l
}

// Attempt implements guard.Store with an exact sliding log of distinct guesses.
func (s *Store) Attempt(_ context.Context, key string, g guard.Guess, maxN int, window time.Duration) (guard.AttemptResult, error) {
	now, w := s.now(), int64(window)
	h, sh := s.hash(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	l := sh.log(h, key, now, w)
	var log []logEntry
	if l != nil {
		log = l.log
	}
	for _, e := range log {
		if e.guess == g {
			return guard.AttemptResult{Allowed: true, Failures: len(log)}, nil
		}
	}
	if len(log) >= maxN {
		return guard.AttemptResult{Failures: len(log), RetryAfter: logRetry(log, maxN, now, w)}, nil
	}
	if l == nil {
		sh.makeRoom(now, logEntryKind)
		l = &logState{key: key}
		sh.logs[h] = l
	}
	l.log = append(l.log, logEntry{guess: g, at: now})
	l.exp = now + w
	return guard.AttemptResult{Allowed: true, Failures: len(l.log), Added: true}, nil
}

// Peek implements guard.Store.
func (s *Store) Peek(_ context.Context, key string, maxN int, window time.Duration) (guard.AttemptResult, error) {
	now, w := s.now(), int64(window)
	h, sh := s.hash(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	var log []logEntry
	if l := sh.log(h, key, now, w); l != nil {
		log = l.log
	}
	r := guard.AttemptResult{Allowed: len(log) < maxN, Failures: len(log)}
	if !r.Allowed {
		r.RetryAfter = logRetry(log, maxN, now, w)
	}
	return r, nil
}

// prune drops the entries at or before cut (no longer inside the window), in place.
func prune[E interface{ time() int64 }](entries []E, cut int64) []E {
	k := 0
	for _, e := range entries {
		if e.time() > cut {
			entries[k] = e
			k++
		}
	}
	clear(entries[k:])
	return entries[:k]
}

func (e logEntry) time() int64 { return e.at }
func (e hitEntry) time() int64 { return e.at }

// logRetry is how long until fewer than maxN entries remain: until the entry at position
// len-maxN (oldest first) leaves the window; with exactly maxN entries, the oldest.
func logRetry(log []logEntry, maxN int, now, w int64) time.Duration {
	if len(log) == 0 {
		return 0
	}
	i := max(len(log)-max(maxN, 1), 0)
	return time.Duration(max(log[i].at+w-now, 0))
}

// Forget implements guard.Store.
func (s *Store) Forget(_ context.Context, key string, g guard.Guess) error {
	h, sh := s.hash(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	l := sh.logs[h]
	if l == nil || l.key != key {
		return nil
	}
	if i := slices.IndexFunc(l.log, func(e logEntry) bool { return e.guess == g }); i >= 0 {
		l.log = slices.Delete(l.log, i, i+1)
	}
	if len(l.log) == 0 {
		delete(sh.logs, h)
	}
	return nil
}

// Clear implements guard.Store.
func (s *Store) Clear(_ context.Context, key string) error {
	h, sh := s.hash(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if l := sh.logs[h]; l != nil && l.key == key {
		delete(sh.logs, h)
	}
	return nil
}

// HitsExact is guard.HitsExact, the bound both stores keep.
const HitsExact = guard.HitsExact

// hitsOf returns key's hit counts, pruned to the window, or nil. Caller holds mu.
func (sh *shard) hitsOf(h uint64, key string, now, w int64) *hitState {
	x := sh.hits[h]
	if x == nil {
		return nil
	}
	if x.key != key {
		delete(sh.hits, h)
		return nil
	}
	x.hits = prune(x.hits, now-w)
	return x
}

// Hit implements guard.Store: a sliding window count, exact up to HitsExact distinct
// timestamps per window, bounded above it (see HitsExact).
func (s *Store) Hit(_ context.Context, key string, window time.Duration) (int, error) {
	now, w := s.now(), int64(window)
	h, sh := s.hash(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	x := sh.hitsOf(h, key, now, w)
	if x == nil {
		sh.makeRoom(now, hitsEntry)
		x = &hitState{key: key}
		sh.hits[h] = x
	}
	slotW := max(w/HitsExact, 1)
	if n := len(x.hits); n >= HitsExact && floorDiv(x.hits[n-1].at, slotW) == floorDiv(now, slotW) {
		x.hits[n-1].n++
		x.hits[n-1].at = max(x.hits[n-1].at, now)
	} else {
		x.hits = append(x.hits, hitEntry{at: now, n: 1})
	}
	x.exp = max(x.exp, now+w)
	return sumHits(x.hits), nil
}

// Count implements guard.Store.
func (s *Store) Count(_ context.Context, key string, window time.Duration) (int, error) {
	now := s.now()
	h, sh := s.hash(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if x := sh.hitsOf(h, key, now, int64(window)); x != nil {
		return sumHits(x.hits), nil
	}
	return 0, nil
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
	now := s.now()
	h, sh := s.hash(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	exp, ok := sh.spent[h]
	if ok && exp > now {
		return false, nil
	}
	if !ok {
		sh.makeRoom(now, spentEntry)
	}
	sh.spent[h] = now + max(int64(ttl), 1)
	return true, nil
}
