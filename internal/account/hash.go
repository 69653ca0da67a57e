package account

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/text/unicode/norm"

	"github.com/hellosvc/hello/internal/argon2"
)

// Argon2Params are the argon2id cost parameters. They are stored inside every hash (PHC string
// format), so they can be raised at any time: older hashes still verify and are re-hashed with
// the new parameters on the owner's next successful login.
type Argon2Params struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
	SaltLen   uint32
	KeyLen    uint32
}

// OWASPParams are the OWASP Password Storage Cheat Sheet's argon2id parameters:
// m=19 MiB, t=2, p=1.
var OWASPParams = Argon2Params{MemoryKiB: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Hasher hashes and verifies passwords under a concurrency bound: each argon2id hash holds
// MemoryKiB of memory, so an unbounded burst of logins could exhaust the process. Slots are
// scheduled by class (see HashClass); a caller that cannot get one within the wait deadline,
// or is shed for a higher class, gets a busy error (503 with Retry-After). Each slot keeps its
// argon2id memory from one hash to the next (MemoryKiB per slot, held once used): allocating it
// per hash started a garbage collection every second or third login, in the login's goroutine.
type Hasher struct {
	params Argon2Params
	slots  *slots
	mems   chan *argon2.Memory // one per slot
}

// NewHasher returns a Hasher that runs at most concurrency hashes at once and lets a caller
// wait at most wait for a slot.
func NewHasher(p Argon2Params, concurrency int, wait time.Duration) *Hasher {
	if concurrency < 1 {
		concurrency = 1
	}
	h := &Hasher{params: p, slots: newSlots(concurrency, wait), mems: make(chan *argon2.Memory, concurrency)}
	for range concurrency {
		h.mems <- new(argon2.Memory)
	}
	return h
}

// Register adds the scheduler's metrics (hello_hash_*) to reg.
func (h *Hasher) Register(reg prometheus.Registerer) error {
	for _, c := range h.slots.m.collectors {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("registering hashing metrics: %w", err)
		}
	}
	return nil
}

var errBusy = &Error{Code: CodeBusy, Message: "the server is busy, try again shortly", RetryAfter: time.Second}

// Hash returns the PHC-format argon2id hash of password, at the lowest priority.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	return h.HashAs(ctx, HashOther, password)
}

// HashAs is Hash at the priority of class.
func (h *Hasher) HashAs(ctx context.Context, class HashClass, password string) (string, error) {
	release, err := h.slots.acquire(ctx, class)
	if err != nil {
		return "", err
	}
	defer release()
	salt := make([]byte, h.params.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("reading salt: %w", err)
	}
	key := h.derive(password, salt, h.params)
	return encodePHC(h.params, salt, key), nil
}

// Verify reports whether password matches encoded, and whether encoded was made with
// parameters other than the current ones (so the caller should store a fresh hash). It runs at
// the lowest priority.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (ok, rehash bool, err error) {
	return h.VerifyAs(ctx, HashOther, password, encoded)
}

// VerifyAs is Verify at the priority of class.
func (h *Hasher) VerifyAs(ctx context.Context, class HashClass, password, encoded string) (ok, rehash bool, err error) {
	if _, _, _, err := decodePHC(encoded); err != nil {
		return false, false, err
	}
	release, err := h.slots.acquire(ctx, class)
	if err != nil {
		return false, false, err
	}
	defer release()
	return h.verify(password, encoded)
}

// verify is Verify in a slot the caller holds.
func (h *Hasher) verify(password, encoded string) (ok, rehash bool, err error) {
	p, salt, want, err := decodePHC(encoded)
	if err != nil {
		return false, false, err
	}
	got := h.derive(password, salt, p)
	return subtle.ConstantTimeCompare(got, want) == 1, p != h.params, nil
}

// derive normalises the password (NFKC, as NIST SP 800-63B recommends, so that one password
// typed on two keyboards is one password) and runs argon2id in the memory of the slot the
// caller holds. A hash made with another memory cost (an older one, re-hashed at this login)
// gets memory of its own that is not kept.
func (h *Hasher) derive(password string, salt []byte, p Argon2Params) []byte {
	pw := []byte(norm.NFKC.String(password))
	if p.MemoryKiB != h.params.MemoryKiB {
		return new(argon2.Memory).IDKey(pw, salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
	}
	m := <-h.mems // one per slot, and the caller holds a slot: never waits
	defer func() { h.mems <- m }()
	return m.IDKey(pw, salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
}

var b64 = base64.RawStdEncoding

func encodePHC(p Argon2Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

var errBadHash = errors.New("malformed argon2id hash")

func decodePHC(s string) (p Argon2Params, salt, key []byte, err error) {
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, errBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return p, nil, nil, errBadHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return p, nil, nil, errBadHash
	}
	if salt, err = b64.DecodeString(parts[4]); err != nil {
		return p, nil, nil, errBadHash
	}
	if key, err = b64.DecodeString(parts[5]); err != nil {
		return p, nil, nil, errBadHash
	}
	if p.MemoryKiB == 0 || p.Time == 0 || p.Threads == 0 || len(key) == 0 {
		return p, nil, nil, errBadHash
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}
