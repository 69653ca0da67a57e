package argon2

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"testing"

	xargon2 "golang.org/x/crypto/argon2"
)

// The Argon2id vectors of golang.org/x/crypto/argon2 (made with the reference implementation's
// command line, password "password", salt "somesalt").
var vectors = []struct {
	time, memory uint32
	threads      uint8
	hash         string
}{
	{1, 64, 1, "655ad15eac652dc59f7170a7332bf49b8469be1fdb9c28bb"},
	{2, 64, 1, "068d62b26455936aa6ebe60060b0a65870dbfa3ddf8d41f7"},
	{2, 64, 2, "350ac37222f436ccb5c0972f1ebd3bf6b958bf2071841362"},
	{3, 256, 2, "4668d30ac4187e6878eedeacf0fd83c5a0a30db2cc16ef0b"},
	{4, 4096, 4, "145db9733a9f4ee43edf33c509be96b934d505a4efb33c5a"},
	{4, 1024, 8, "8dafa8e004f8ea96bf7c0f93eecf67a6047476143d15577f"},
	{2, 64, 3, "4a15b31aec7c2590b87d1f520be7d96f56658172deaa3079"},
	{3, 1024, 6, "1640b932f4b60e272f5d2207b9a9c626ffa1bd88d2349016"},
}

// TestVectors computes every vector in one Memory, largest first, so that all but the first
// run in memory a previous computation left full of its blocks.
func TestVectors(t *testing.T) { checkVectors(t) }

func checkVectors(t *testing.T) {
	t.Helper()
	var m Memory
	for _, i := range []int{4, 5, 7, 3, 0, 1, 2, 6} {
		v := vectors[i]
		want, _ := hex.DecodeString(v.hash)
		got := m.IDKey([]byte("password"), []byte("somesalt"), v.time, v.memory, v.threads, uint32(len(want)))
		if !bytes.Equal(got, want) {
			t.Errorf("vector %d (t=%d m=%d p=%d) in reused memory: got %x, want %x", i, v.time, v.memory, v.threads, got, want)
		}
	}
	if m.Size() != 4096 {
		t.Errorf("Memory holds %d KiB after the largest vector, want 4096", m.Size())
	}
}

// TestSameAsXCrypto compares with golang.org/x/crypto/argon2.IDKey for parameters around the
// lane and segment boundaries, one Memory reused for all of them, passwords and salts varying.
func TestSameAsXCrypto(t *testing.T) {
	var m Memory
	n := 0
	for _, threads := range []uint8{1, 2, 5} {
		for _, time := range []uint32{1, 2, 3} {
			for _, memory := range []uint32{1, 8 * uint32(threads), 8*uint32(threads) + 3, 97, 512} {
				for _, keyLen := range []uint32{4, 32, 65, 130} {
					n++
					pw := fmt.Appendf(nil, "password %d", n)
					salt := fmt.Appendf(nil, "salt of case %d", n)
					got := m.IDKey(pw, salt, time, memory, threads, keyLen)
					want := xargon2.IDKey(pw, salt, time, memory, threads, keyLen)
					if !bytes.Equal(got, want) {
						t.Errorf("t=%d m=%d p=%d keyLen=%d: got %x, want x/crypto's %x", time, memory, threads, keyLen, got, want)
					}
				}
			}
		}
	}
}

func TestPanicsOnZeroCosts(t *testing.T) {
	for _, c := range []struct {
		time    uint32
		threads uint8
	}{{0, 1}, {1, 0}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("time=%d threads=%d: no panic", c.time, c.threads)
				}
			}()
			var m Memory
			m.IDKey([]byte("p"), []byte("saltsalt"), c.time, 64, c.threads, 32)
		}()
	}
}

// BenchmarkIDKey compares one OWASP-parameter hash (m=19 MiB, t=2, p=1) in golang.org/x/crypto,
// which allocates and clears the block array each time, with one in a reused Memory:
//
//	go test -run '^$' -bench IDKey -count 6 ./internal/argon2/
func BenchmarkIDKey(b *testing.B) {
	pw, salt := []byte("correct horse battery staple"), []byte("0123456789abcdef")
	b.Run("x-crypto", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			xargon2.IDKey(pw, salt, 2, 19*1024, 1, 32)
		}
	})
	b.Run("reused-memory", func(b *testing.B) {
		b.ReportAllocs()
		var m Memory
		m.IDKey(pw, salt, 2, 19*1024, 1, 32) // the memory is kept from here on
		for b.Loop() {
			m.IDKey(pw, salt, 2, 19*1024, 1, 32)
		}
	})
}
