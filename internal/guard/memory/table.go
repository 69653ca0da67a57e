package memory

// rateTable maps a key's 64-bit hash to its GCRA theoretical arrival time: open addressing
// with linear probing over 16-byte entries, so a lookup usually touches one cache line (a Go
// map touches a control word and a slot, often two lines). Hash 0 marks an empty entry (real
// hashes are forced odd). Deletion shifts the following entries back, so there are no
// tombstones.
type rateTable struct {
	ent []rateEnt // power-of-two length
	n   int
	rnd uint64 // xorshift state for sampling
}

type rateEnt struct {
	h   uint64
	tat int64
}

func (t *rateTable) home(h uint64) int { return int(h>>32) & (len(t.ent) - 1) }

// find returns the index of h, or -1.
func (t *rateTable) find(h uint64) int {
	if len(t.ent) == 0 {
		return -1
	}
	mask := len(t.ent) - 1
	for i := t.home(h); ; i = (i + 1) & mask {
		switch t.ent[i].h {
		case h:
			return i
		case 0:
			return -1
		}
	}
}

// put adds h (absent) with tat.
func (t *rateTable) put(h uint64, tat int64) {
	if 4*(t.n+1) > 3*len(t.ent) {
		t.grow()
	}
	mask := len(t.ent) - 1
	i := t.home(h)
	for t.ent[i].h != 0 {
		i = (i + 1) & mask
	}
	t.ent[i] = rateEnt{h: h, tat: tat}
	t.n++
}

func (t *rateTable) grow() {
	old := t.ent
	t.ent = make([]rateEnt, max(2*len(old), 64))
	t.n = 0
	for _, e := range old {
		if e.h != 0 {
			t.put(e.h, e.tat)
		}
	}
}

// del removes the entry at i, shifting back the entries of its probe run.
func (t *rateTable) del(i int) {
	mask := len(t.ent) - 1
	for {
		t.ent[i] = rateEnt{}
		j := i
		for {
			j = (j + 1) & mask
			if t.ent[j].h == 0 {
				t.n--
				return
			}
			k := t.home(t.ent[j].h)
			// The entry at j may move to i unless its home lies cyclically in (i, j].
			if i <= j {
				if i < k && k <= j {
					continue
				}
			} else if i < k || k <= j {
				continue
			}
			t.ent[i] = t.ent[j]
			i = j
			break
		}
	}
}

// sweep deletes the entries with tat ≤ cut among n entries (all when n < 0) met from a random
// place, and returns how many it deleted.
func (t *rateTable) sweep(cut int64, n int) int {
	if t.n == 0 {
		return 0
	}
	if n < 0 {
		n = len(t.ent) + t.n // every slot; the slot count ends the loop
	}
	mask := len(t.ent) - 1
	i := t.random() & mask
	dropped := 0
	for slots := len(t.ent); n > 0 && slots > 0; {
		e := t.ent[i]
		if e.h != 0 {
			n--
			if e.tat <= cut {
				t.del(i) // an entry may have moved into i: look at it again
				dropped++
				continue
			}
		}
		i = (i + 1) & mask
		slots--
	}
	return dropped
}

// evictOldest deletes, among up to evictSample entries from a random place, the one with the
// smallest TAT (whose bucket is fullest: the least recently busy sender).
func (t *rateTable) evictOldest() {
	if t.n == 0 {
		return
	}
	mask := len(t.ent) - 1
	i, best, seen := t.random()&mask, -1, 0
	for ; seen < evictSample; i = (i + 1) & mask {
		if t.ent[i].h == 0 {
			continue
		}
		seen++
		if best < 0 || t.ent[i].tat < t.ent[best].tat {
			best = i
		}
		if seen == t.n {
			break
		}
	}
	t.del(best)
}

func (t *rateTable) random() int {
	if t.rnd == 0 {
		t.rnd = 0x9e3779b97f4a7c15
	}
	t.rnd ^= t.rnd << 13
	t.rnd ^= t.rnd >> 7
	t.rnd ^= t.rnd << 17
	return int(t.rnd >> 1)
}
