package guard_test

// Regression tests for holes an attacker found by reading the code (issue 9) and for trusted
// devices under attack (issue 10). Each failed before its fix.

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hellosvc/hello/internal/account"
	"github.com/hellosvc/hello/internal/guard"
)

// barrierStore holds every Peek until n callers have peeked: the worst interleaving of a
// burst, where each guess reads the log before any has reserved its slot.
type barrierStore struct {
	guard.Store
	n       int
	mu      sync.Mutex
	arrived int
	all     chan struct{}
}

func (b *barrierStore) Peek(ctx context.Context, key string, max int, w time.Duration) (guard.AttemptResult, error) {
	res, err := b.Store.Peek(ctx, key, max, w)
	b.mu.Lock()
	b.arrived++
	if b.arrived == b.n {
		close(b.all)
	}
	b.mu.Unlock()
	<-b.all
	return res, err
}

// Issue 9 (4): three guesses raced in one burst used to skip the captcha on the 2nd and 3rd.
func TestRacedGuessesCannotSkipTheCaptcha(t *testing.T) {
	cfg := defaultConfig()
	cfg.Captcha = true
	const n = 3
	e := newEnvWith(t, cfg, func(s guard.Store) guard.Store { return &barrierStore{Store: s, n: n, all: make(chan struct{})} })
	e.signupUnguarded(t, "alice")
	codes := make(chan account.Code, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, code := e.login("alice", "burst guess "+string(rune('a'+i)), "")
			codes <- code
		}()
	}
	wg.Wait()
	close(codes)
	got := map[account.Code]int{}
	for c := range codes {
		got[c]++
	}
	if got[account.CodeInvalidCredentials] != 1 || got[account.CodeCaptchaRequired] != n-1 {
		t.Fatalf("outcomes of a burst of %d guesses = %v, want 1 evaluated and %d captcha_required", n, got, n-1)
	}
	// The refused guesses left no trace: the log holds the one evaluated guess.
	if st, err := e.guard.Status(context.Background(), "alice"); err != nil || st.Failures != 1 {
		t.Fatalf("status = %+v, %v; want 1 failure in the log", st, err)
	}
}

// Issue 10 (1): a trusted device is not asked for a captcha because of other people's failures.
func TestTrustedDeviceIsNotTaxedByAFailureWave(t *testing.T) {
	cfg := defaultConfig()
	cfg.Captcha = true
	cfg.CaptchaAfterSenderFailures = guard.Rate{Count: 1, Period: time.Hour}
	cfg.CaptchaGlobalFailures = guard.Rate{Count: 5, Period: time.Minute}
	e := newEnv(t, cfg)
	e.signupUnguarded(t, "alice")
	res, code := e.login("alice", "right password", "")
	if code != "" || res.Device == "" {
		t.Fatalf("first login: %s, device %q", code, res.Device)
	}
	for i := range 10 { // a stuffing wave from the same address as the owner (a shared NAT)
		e.login("victim"+string(rune('a'+i)), "leaked password", "")
	}
	if _, code := e.login("bobby", "some password", ""); code != account.CodeCaptchaRequired {
		t.Fatalf("a new device during the wave: %s, want captcha_required", code)
	}
	if _, code := e.login("alice", "right password", res.Device); code != "" {
		t.Fatalf("the owner's trusted device during the wave: %s, want success", code)
	}
	// Only the device's own failures ask it for a captcha.
	if _, code := e.login("alice", "typo password", res.Device); code != account.CodeInvalidCredentials {
		t.Fatalf("device typo: %s", code)
	}
	if _, code := e.login("alice", "right password", res.Device); code != account.CodeCaptchaRequired {
		t.Fatalf("device after its own failure: %s, want captcha_required", code)
	}
}

// recordingStore remembers the longest key the guard built.
type recordingStore struct {
	guard.Store
	mu      sync.Mutex
	longest string
}

func (r *recordingStore) saw(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(key) > len(r.longest) {
		r.longest = key
	}
}

func (r *recordingStore) Allow(ctx context.Context, k string, rt guard.Rate) (guard.RateResult, error) {
	r.saw(k)
	return r.Store.Allow(ctx, k, rt)
}
func (r *recordingStore) Attempt(ctx context.Context, k string, g guard.Guess, m int, w time.Duration) (guard.AttemptResult, error) {
	r.saw(k)
	return r.Store.Attempt(ctx, k, g, m, w)
}
func (r *recordingStore) Peek(ctx context.Context, k string, m int, w time.Duration) (guard.AttemptResult, error) {
	r.saw(k)
	return r.Store.Peek(ctx, k, m, w)
}
func (r *recordingStore) Hit(ctx context.Context, k string, w time.Duration) (int, error) {
	r.saw(k)
	return r.Store.Hit(ctx, k, w)
}
func (r *recordingStore) Count(ctx context.Context, k string, w time.Duration) (int, error) {
	r.saw(k)
	return r.Store.Count(ctx, k, w)
}
func (r *recordingStore) Spend(ctx context.Context, k string, ttl time.Duration) (bool, error) {
	r.saw(k)
	return r.Store.Spend(ctx, k, ttl)
}

// Issue 9 (3): no key built from user input grows with it (a 500k-character captcha id used to
// become a Redis key verbatim).
func TestEveryStoreKeyIsBounded(t *testing.T) {
	cfg := defaultConfig()
	cfg.Captcha = true
	var rs *recordingStore
	e := newEnvWith(t, cfg, func(s guard.Store) guard.Store { rs = &recordingStore{Store: s}; return rs })
	ctx := context.Background()
	longName := strings.Repeat("名", account.MaxUsernameLen)
	huge := strings.Repeat("A", 500_000)
	_, _ = e.svc.Signup(ctx, account.Attempt{Username: longName, Password: "right password", Sender: sender,
		Captcha: account.CaptchaAnswer{ID: huge, Answer: "123456"}})
	_, _ = e.svc.Login(ctx, account.Attempt{Username: longName, Password: "wrong password", Sender: sender})
	_, _ = e.svc.Login(ctx, account.Attempt{Username: longName, Password: "wrong password 2", Sender: netip.MustParseAddr("2001:db8::1"),
		Captcha: account.CaptchaAnswer{ID: huge, Answer: "123456"}, Device: huge})
	_, _ = e.guard.Sender(ctx, netip.MustParseAddr("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"), true)
	if len(rs.longest) > 64 {
		t.Fatalf("the guard built a key of %d bytes: %.80q…", len(rs.longest), rs.longest)
	}
}
