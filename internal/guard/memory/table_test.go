package memory

import (
	"math/rand/v2"
	"testing"
)

// The open-addressing table agrees with a Go map through random puts, updates, deletes and
// sweeps (backward-shift deletion keeps every remaining key findable).
func TestRateTableMatchesMap(t *testing.T) {
	var tab rateTable
	ref := map[uint64]int64{}
	r := rand.New(rand.NewPCG(1, 2))
	keys := make([]uint64, 3000)
	for i := range keys {
		keys[i] = r.Uint64() | 1
		if i%3 == 0 { // crowd some homes together to exercise wrap-around and long runs
			keys[i] = keys[i]&0xffffffff | uint64(r.IntN(8))<<32 | 1
		}
	}
	for step := range 200_000 {
		h := keys[r.IntN(len(keys))]
		switch op := r.IntN(10); {
		case op < 6:
			v := int64(r.IntN(1000))
			if i := tab.find(h); i >= 0 {
				tab.ent[i].tat = v
			} else {
				tab.put(h, v)
			}
			ref[h] = v
		case op < 9:
			if i := tab.find(h); i >= 0 {
				tab.del(i)
			}
			delete(ref, h)
		default:
			cut := int64(r.IntN(50))
			tab.sweep(cut, 16)
			for k, v := range ref { // the sweep deleted some of these; resync below
				if tab.find(k) < 0 {
					if v > cut {
						t.Fatalf("step %d: sweep deleted a live entry", step)
					}
					delete(ref, k)
				}
			}
		}
		if tab.n != len(ref) {
			t.Fatalf("step %d: table holds %d, map %d", step, tab.n, len(ref))
		}
	}
	for k, v := range ref {
		i := tab.find(k)
		if i < 0 || tab.ent[i].tat != v {
			t.Fatalf("key %x lost or wrong", k)
		}
	}
	tab.sweep(1<<62, -1)
	if tab.n != 0 {
		t.Fatalf("full sweep left %d", tab.n)
	}
}
