package shardkey

import "testing"

// The hash is part of the stored data's format: these values may never change.
func TestHashIsStable(t *testing.T) {
	for name, want := range map[string]uint64{
		"alice":         0x3507d047a67c08f4,
		"bob":           0xf6493629e5654ae0,
		"ünïcødé.name":  0x2476d0f92619eade,
		"user-12345_x.": 0x554c0b3717fb367,
	} {
		if got := Hash(name); got != want {
			t.Errorf("Hash(%q) = %#x, want %#x", name, got, want)
		}
	}
}

func TestLogicalIsInRange(t *testing.T) {
	for _, n := range []int{1, 3, 64, 1024, 65536} {
		for _, name := range []string{"a", "alice", "bob", "zz-top"} {
			if l := Logical(name, n); l < 0 || l >= n {
				t.Fatalf("Logical(%q, %d) = %d", name, n, l)
			}
		}
	}
}
