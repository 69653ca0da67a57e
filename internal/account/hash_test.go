package account

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

var fastParams = Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestHashUsesOWASPParametersInPHCFormat(t *testing.T) {
	h := NewHasher(OWASPParams, 1, time.Second)
	enc, err := h.Hash(context.Background(), "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not argon2id with m=19456,t=2,p=1 in PHC format", enc)
	}
	ok, rehash, err := h.Verify(context.Background(), "correct horse", enc)
	if err != nil || !ok || rehash {
		t.Fatalf("Verify = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
}

// TestHashesKeepTheirMemory: a server hashing all day must not allocate argon2id's block array
// (19 MiB at the OWASP parameters) per hash; each allocation started a garbage collection every
// second or third login, in the login's goroutine. Hashes and verifications in the same slot
// reuse it; a hash made with another memory cost still verifies.
func TestHashesKeepTheirMemory(t *testing.T) {
	ctx := context.Background()
	h := NewHasher(OWASPParams, 1, time.Second)
	enc, err := h.Hash(ctx, "correct horse") // the slot's memory is made here
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const n = 3
	for range n {
		if ok, _, err := h.Verify(ctx, "correct horse", enc); err != nil || !ok {
			t.Fatalf("Verify = %v, %v", ok, err)
		}
		if _, err := h.Hash(ctx, "battery staple"); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if perHash := (after.TotalAlloc - before.TotalAlloc) / (2 * n); perHash > 1<<20 {
		t.Errorf("%d KiB allocated per hash, want the slot's memory reused (under 1 MiB)", perHash>>10)
	}
	old, err := NewHasher(fastParams, 1, time.Second).Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if ok, rehash, err := h.Verify(ctx, "correct horse", old); err != nil || !ok || !rehash {
		t.Fatalf("Verify of a cheaper hash = %v, %v, %v; want true, true, nil", ok, rehash, err)
	}
}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	h := NewHasher(fastParams, 2, time.Second)
	enc, err := h.Hash(ctx, "Passw0rd-é")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		password string
		want     bool
	}{
		{"right", "Passw0rd-é", true},
		{"right in another normal form", "Passw0rd-e\u0301", true}, // NFD spelling of é
		{"wrong", "Passw0rd-e", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		ok, _, err := h.Verify(ctx, tt.password, enc)
		if err != nil || ok != tt.want {
			t.Errorf("%s: Verify = %v, %v; want %v", tt.name, ok, err, tt.want)
		}
	}
	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdA$a2V5", "$argon2id$v=19$m=0,t=1,p=1$c2FsdA$a2V5", "$argon2id$v=19$m=64,t=1,p=1$!!$a2V5"} {
		if _, _, err := h.Verify(ctx, "x", bad); err == nil {
			t.Errorf("Verify accepted malformed hash %q", bad)
		}
	}
}

func TestVerifyAsksForRehashWhenParametersChanged(t *testing.T) {
	ctx := context.Background()
	old := NewHasher(fastParams, 1, time.Second)
	enc, err := old.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	stronger := fastParams
	stronger.Time = 2
	ok, rehash, err := NewHasher(stronger, 1, time.Second).Verify(ctx, "correct horse", enc)
	if err != nil || !ok || !rehash {
		t.Fatalf("Verify with raised parameters = %v, %v, %v; want true, true, nil", ok, rehash, err)
	}
}

func TestHasherIsBusyWhenAllSlotsAreTaken(t *testing.T) {
	h := NewHasher(fastParams, 1, 0)
	release, err := h.slots.acquire(context.Background(), HashTrusted)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	_, err = h.Hash(context.Background(), "correct horse")
	if CodeOf(err) != CodeBusy {
		t.Fatalf("Hash with every slot taken = %v, want busy", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.RetryAfter <= 0 {
		t.Fatalf("busy error has no Retry-After: %#v", err)
	}
}

// BenchmarkHashOWASP measures one argon2id hash with the production parameters (m=19 MiB, t=2,
// p=1): the cost of every signup and login, and what HELLO_HASH_CONCURRENCY multiplies.
func BenchmarkHashOWASP(b *testing.B) {
	h := NewHasher(OWASPParams, 1, time.Minute)
	ctx := context.Background()
	for b.Loop() {
		if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}
