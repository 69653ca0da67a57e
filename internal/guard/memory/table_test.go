package memory

import (
	"math/rand/v2"
	"os"
	"testing"
)

// The open-addressing table agrees with a Go map through random puts, updates, deletes and
// sweeps (backward-shift deletion keeps every remaining key findable). Each step checks the key
// it touched and, after a sweep, the keys the sweep may delete; every key is checked every
// fullCheckEvery steps and at the end. A key that a deletion made unfindable is caught there, or
// sooner: touched again, it is put twice and the counts part. (Checking every key after every
// sweep made this test take minutes under -race.) HELLO_TEST_LONG=1 runs ten times the steps.
func TestRateTableMatchesMap(t *testing.T) {
	steps := 200_000
	if os.Getenv("HELLO_TEST_LONG") == "1" {
		steps = 2_000_000
	}
	const (
		sweepCut       = 50 // sweeps cut below this: only keys holding a smaller value may go
		fullCheckEvery = 1000
	)
	var tab rateTable
	ref := map[uint64]int64{}
	low := map[uint64]bool{} // the keys of ref whose value is below sweepCut
	r := rand.New(rand.NewPCG(1, 2))
	keys := make([]uint64, 3000)
	for i := range keys {
		keys[i] = r.Uint64() | 1
		if i%3 == 0 { // crowd some homes together to exercise wrap-around and long runs
			keys[i] = keys[i]&0xffffffff | uint64(r.IntN(8))<<32 | 1
		}
	}
	check := func(step int, k uint64) {
		v, ok := ref[k]
		switch i := tab.find(k); {
		case ok && i < 0:
			t.Fatalf("step %d: key %x lost", step, k)
		case !ok && i >= 0:
			t.Fatalf("step %d: deleted key %x still found", step, k)
		case ok && tab.ent[i].tat != v:
			t.Fatalf("step %d: key %x holds %d, want %d", step, k, tab.ent[i].tat, v)
		}
	}
	for step := range steps {
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
			if v < sweepCut {
				low[h] = true
			} else {
				delete(low, h)
			}
			check(step, h)
		case op < 9:
			if i := tab.find(h); i >= 0 {
				tab.del(i)
			}
			delete(ref, h)
			delete(low, h)
			check(step, h)
		default:
			cut := int64(r.IntN(sweepCut))
			dropped := tab.sweep(cut, 16)
			gone := 0
			for k := range low {
				if tab.find(k) >= 0 {
					continue
				}
				if ref[k] > cut {
					t.Fatalf("step %d: sweep deleted a live entry", step)
				}
				delete(ref, k)
				delete(low, k)
				gone++
			}
			// With the count check below: no entry above the cut went either.
			if gone != dropped {
				t.Fatalf("step %d: sweep reported %d deletions, %d expired keys are gone", step, dropped, gone)
			}
		}
		if tab.n != len(ref) {
			t.Fatalf("step %d: table holds %d, map %d", step, tab.n, len(ref))
		}
		if step%fullCheckEvery == 0 {
			for k := range ref {
				check(step, k)
			}
		}
	}
	for k := range ref {
		check(steps, k)
	}
	tab.sweep(1<<62, -1)
	if tab.n != 0 {
		t.Fatalf("full sweep left %d", tab.n)
	}
}
