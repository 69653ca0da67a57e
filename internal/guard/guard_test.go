package guard_test

import (
	"context"
	"net/netip"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hellosvc/hello/internal/account"
	"github.com/hellosvc/hello/internal/captcha"
	"github.com/hellosvc/hello/internal/guard"
	"github.com/hellosvc/hello/internal/guard/memory"
	"github.com/hellosvc/hello/internal/store/sqlite"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// countingStore is the real SQLite store, counting account reads: a refused login must not
// reach storage.
type countingStore struct {
	*sqlite.Store
	reads atomic.Int64
}

func (s *countingStore) GetAccount(ctx context.Context, name string) (account.Account, error) {
	s.reads.Add(1)
	return s.Store.GetAccount(ctx, name)
}

type env struct {
	svc    *account.Service
	store  *countingStore
	clock  *clock
	guard  *guard.Guard
	cap    *captcha.Service
	mem    *memory.Store
	hasher *account.Hasher
}

const secret = "0123456789abcdef0123456789abcdef"

func defaultConfig() guard.Config {
	return guard.Config{
		SenderLimit: guard.Rate{Count: 600, Period: time.Minute}, AuthSenderLimit: guard.Rate{Count: 20, Period: time.Minute},
		IPv6PrefixFactor: 8, LoginMaxFailures: 3, LoginWindow: time.Hour, DeviceCookies: true,
		CaptchaAfterSenderFailures: guard.Rate{Count: 5, Period: 10 * time.Minute},
		CaptchaGlobalFailures:      guard.Rate{Count: 100, Period: time.Minute},
	}
}

func newEnv(t testing.TB, cfg guard.Config) *env { return newEnvWith(t, cfg, nil) }

// newEnvWith builds the env with the guard's store wrapped by wrap (nil: the memory store as is).
func newEnvWith(t testing.TB, cfg guard.Config, wrap func(guard.Store) guard.Store) *env {
	t.Helper()
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "hello.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	mem := memory.New(memory.Options{Now: c.Now})
	var gs guard.Store = mem
	if wrap != nil {
		gs = wrap(mem)
	}
	e := &env{store: &countingStore{Store: st}, clock: c, mem: mem,
		hasher: account.NewHasher(account.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 4, time.Second)}
	var gc guard.Captcha
	if cfg.Captcha {
		e.cap, err = captcha.New(captcha.Options{Secret: []byte(secret), Spent: mem, Now: c.Now})
		if err != nil {
			t.Fatal(err)
		}
		gc = e.cap
	}
	e.guard, err = guard.New(guard.Options{Store: gs, Config: cfg, Captcha: gc, Secret: []byte(secret), Now: c.Now,
		Logger: discard(), Metrics: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	e.svc, err = account.NewService(ctx, account.Options{Store: e.store, Guard: e.guard, Now: c.Now, Hasher: e.hasher})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

var sender = netip.MustParseAddr("198.51.100.7")

func (e *env) login(name, password, device string) (account.LoginResult, account.Code) {
	res, err := e.svc.Login(context.Background(), account.Attempt{Username: name, Password: password, Sender: sender, Device: device})
	if err != nil {
		return res, account.CodeOf(err)
	}
	return res, ""
}

func (e *env) signup(t *testing.T, name string) {
	t.Helper()
	if _, err := e.svc.Signup(context.Background(), account.Attempt{Username: name, Password: "right password", Sender: sender}); err != nil {
		t.Fatal(err)
	}
}

// signupUnguarded creates an account with "right password" straight in the store, for tests
// whose guard would ask the signup for a captcha.
func (e *env) signupUnguarded(t testing.TB, name string) {
	t.Helper()
	hash, err := e.hasher.Hash(context.Background(), "right password")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.CreateAccount(context.Background(), account.Account{Username: name, PasswordHash: hash, CreatedAt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
}

func retryAfter(t *testing.T, e *env, name, password string) time.Duration {
	t.Helper()
	_, err := e.svc.Login(context.Background(), account.Attempt{Username: name, Password: password, Sender: sender})
	var ae *account.Error
	if !asError(err, &ae) || ae.Code != account.CodeTooManyAttempts {
		t.Fatalf("login = %v, want too_many_attempts", err)
	}
	return ae.RetryAfter
}

func TestThreeFailuresPerHourExactly(t *testing.T) {
	e := newEnv(t, defaultConfig())
	e.signup(t, "alice")
	for i, pw := range []string{"wrong one", "wrong two", "wrong three"} {
		if _, code := e.login("alice", pw, ""); code != account.CodeInvalidCredentials {
			t.Fatalf("failure %d: code %s, want invalid_credentials", i+1, code)
		}
		e.clock.Add(10 * time.Minute)
	}
	// Now 09:30; failures at 09:00, 09:10, 09:20. The 4th attempt inside the hour is refused,
	// before any storage read, even with the right password.
	reads := e.store.reads.Load()
	if got := retryAfter(t, e, "alice", "right password"); got != 30*time.Minute {
		t.Fatalf("Retry-After = %s, want 30m (until the 09:00 failure leaves the window)", got)
	}
	if e.store.reads.Load() != reads {
		t.Fatal("a refused login read the account from storage")
	}
	e.clock.Add(30*time.Minute - time.Second) // 09:59:59: the first failure is still inside
	if _, code := e.login("alice", "wrong four", ""); code != account.CodeTooManyAttempts {
		t.Fatalf("one second before the first failure ages out: %s, want too_many_attempts", code)
	}
	e.clock.Add(time.Second) // 10:00:00: it ages out; one try is free again
	if _, code := e.login("alice", "wrong four", ""); code != account.CodeInvalidCredentials {
		t.Fatalf("after the first failure aged out: %s, want invalid_credentials", code)
	}
	if _, code := e.login("alice", "right password", ""); code != account.CodeTooManyAttempts {
		t.Fatalf("window full again: %s, want too_many_attempts", code)
	}
}

func TestSuccessClearsFailures(t *testing.T) {
	e := newEnv(t, defaultConfig())
	e.signup(t, "alice")
	e.login("alice", "wrong one", "")
	e.login("alice", "wrong two", "")
	if _, code := e.login("alice", "right password", ""); code != "" {
		t.Fatalf("right password with 2 failures: %s", code)
	}
	for i := range 3 {
		if _, code := e.login("alice", "wrong again "+string(rune('a'+i)), ""); code != account.CodeInvalidCredentials {
			t.Fatalf("after a success, failure %d: %s, want a fresh budget of 3", i+1, code)
		}
	}
}

func TestTheSameWrongPasswordCountsOnce(t *testing.T) {
	e := newEnv(t, defaultConfig())
	e.signup(t, "alice")
	for range 10 { // a phone retrying one stale saved password
		if _, code := e.login("alice", "old password", ""); code != account.CodeInvalidCredentials {
			t.Fatalf("retrying a stale password: %s, want invalid_credentials", code)
		}
	}
	e.login("alice", "wrong two", "")
	if _, code := e.login("alice", "right password", ""); code != "" {
		t.Fatalf("after 2 distinct failures the right password: %s", code)
	}
}

func TestUnknownNamesLockToo(t *testing.T) {
	e := newEnv(t, defaultConfig())
	for _, pw := range []string{"a wrong one", "b wrong one", "c wrong one"} {
		if _, code := e.login("nobody", pw, ""); code != account.CodeInvalidCredentials {
			t.Fatalf("unknown name: %s", code)
		}
	}
	if _, code := e.login("nobody", "d wrong one", ""); code != account.CodeTooManyAttempts {
		t.Fatalf("4th try on an unknown name: %s, want too_many_attempts like a real one", code)
	}
}

func TestDeviceCookieLetsTheOwnerInWhileTheNameIsLocked(t *testing.T) {
	e := newEnv(t, defaultConfig())
	e.signup(t, "alice")
	res, code := e.login("alice", "right password", "")
	if code != "" || res.Device == "" {
		t.Fatalf("first login: %s, device %q", code, res.Device)
	}
	// An attacker without the cookie burns the name's budget.
	for _, pw := range []string{"guess one", "guess two", "guess three"} {
		if _, code := e.login("alice", pw, ""); code != account.CodeInvalidCredentials {
			t.Fatalf("attacker guess: %s", code)
		}
	}
	if _, code := e.login("alice", "right password", ""); code != account.CodeTooManyAttempts {
		t.Fatalf("name should be locked: %s", code)
	}
	// The owner's browser presents its device cookie: its own budget, so it gets in.
	res2, code := e.login("alice", "right password", res.Device)
	if code != "" {
		t.Fatalf("owner with device cookie while the name is locked: %s, want success", code)
	}
	// A cookie is bound to its name: it does not open another name's budget.
	e.signup(t, "bobby")
	for _, pw := range []string{"guess one", "guess two", "guess three"} {
		e.login("bobby", pw, "")
	}
	if _, code := e.login("bobby", "right password", res2.Device); code != account.CodeTooManyAttempts {
		t.Fatalf("alice's device cookie on bobby: %s, want too_many_attempts", code)
	}
	// A tampered cookie counts as none.
	forged := []byte(res2.Device)
	forged[3] ^= 1
	if _, code := e.login("alice", "right password", string(forged)); code != account.CodeTooManyAttempts {
		t.Fatalf("tampered device cookie: %s, want too_many_attempts", code)
	}
	// The device's own budget is also 3 per hour.
	for _, pw := range []string{"typo one", "typo two", "typo three"} {
		if _, code := e.login("alice", pw, res2.Device); code != account.CodeInvalidCredentials {
			t.Fatalf("device failure: %s", code)
		}
	}
	if _, code := e.login("alice", "right password", res2.Device); code != account.CodeTooManyAttempts {
		t.Fatalf("device budget exhausted: %s, want too_many_attempts", code)
	}
}

func TestParallelAttemptsCannotSlipPastTheLimit(t *testing.T) {
	e := newEnv(t, defaultConfig())
	e.signup(t, "alice")
	const n = 40
	codes := make(chan account.Code, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, code := e.login("alice", "parallel guess "+string(rune('A'+i)), "")
			codes <- code
		}()
	}
	wg.Wait()
	close(codes)
	count := map[account.Code]int{}
	for c := range codes {
		count[c]++
	}
	if count[account.CodeInvalidCredentials] != 3 || count[account.CodeTooManyAttempts] != n-3 {
		t.Fatalf("outcomes = %v, want exactly 3 invalid_credentials and %d too_many_attempts", count, n-3)
	}
}

func TestSenderLimits(t *testing.T) {
	cfg := defaultConfig()
	cfg.SenderLimit = guard.Rate{Count: 4, Period: time.Minute}
	cfg.IPv6PrefixFactor = 2
	e := newEnv(t, cfg)
	ctx := context.Background()
	allow := func(ip string) bool {
		res, err := e.guard.Sender(ctx, netip.MustParseAddr(ip), false)
		if err != nil {
			t.Fatal(err)
		}
		return res.Allowed
	}
	for i := range 4 {
		if !allow("192.0.2.1") {
			t.Fatalf("request %d refused under the limit", i+1)
		}
	}
	if allow("192.0.2.1") {
		t.Fatal("5th request inside the minute allowed")
	}
	if !allow("192.0.2.2") {
		t.Fatal("another IPv4 sender was refused")
	}
	// IPv6: every address of one /64 is one sender.
	for i, ip := range []string{"2001:db8:1:1::1", "2001:db8:1:1::2", "2001:db8:1:1:ffff::3", "2001:db8:1:1::4"} {
		if !allow(ip) {
			t.Fatalf("IPv6 request %d refused under the limit", i+1)
		}
	}
	if allow("2001:db8:1:1::99") {
		t.Fatal("rotating addresses inside one /64 bought a 5th request")
	}
	// And a /48 holds at most factor × limit, however many /64s it rotates through.
	allowed := 0
	for i := range 20 {
		if allow(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, byte(i), 0, 0, 0, 0, 0, 0, 0, 1}).String()) {
			allowed++
		}
	}
	if allowed != 8 {
		t.Fatalf("a /48 rotating through 20 /64s got %d requests, want 8 (4 × factor 2)", allowed)
	}
	// The window refills.
	e.clock.Add(time.Minute)
	if !allow("192.0.2.1") {
		t.Fatal("refused after the window passed")
	}
}

func TestCaptchaPolicy(t *testing.T) {
	cfg := defaultConfig()
	cfg.Captcha = true
	cfg.CaptchaAfterSenderFailures = guard.Rate{Count: 2, Period: time.Hour}
	e := newEnv(t, cfg)
	ctx := context.Background()
	solve := func(err error) account.CaptchaAnswer {
		t.Helper()
		var ae *account.Error
		if !asError(err, &ae) {
			t.Fatalf("no challenge in %v", err)
		}
		ch := ae.Captcha
		if ch == nil || ch.ID == "" || ch.ImageURL == "" || ch.AudioURL == "" {
			t.Fatalf("refusal %v carries no challenge", err)
		}
		ans, err := e.cap.Answer(ch.ID)
		if err != nil {
			t.Fatal(err)
		}
		return account.CaptchaAnswer{ID: ch.ID, Answer: ans}
	}

	// Every signup needs one.
	_, err := e.svc.Signup(ctx, account.Attempt{Username: "alice", Password: "right password", Sender: sender})
	if account.CodeOf(err) != account.CodeCaptchaRequired {
		t.Fatalf("signup without captcha = %v, want captcha_required", err)
	}
	ans := solve(err)
	wrong := ans
	wrong.Answer = "000000"
	if ans.Answer == wrong.Answer {
		wrong.Answer = "111111"
	}
	_, err = e.svc.Signup(ctx, account.Attempt{Username: "alice", Password: "right password", Sender: sender, Captcha: wrong})
	if account.CodeOf(err) != account.CodeCaptchaInvalid {
		t.Fatalf("wrong answer = %v, want captcha_invalid", err)
	}
	// The wrong answer spent that challenge: its right answer no longer works either.
	if _, err = e.svc.Signup(ctx, account.Attempt{Username: "alice", Password: "right password", Sender: sender, Captcha: ans}); account.CodeOf(err) != account.CodeCaptchaInvalid {
		t.Fatalf("re-used challenge = %v, want captcha_invalid", err)
	}
	ans = solve(err) // the refusal carries a new challenge
	if _, err := e.svc.Signup(ctx, account.Attempt{Username: "alice", Password: "right password", Sender: sender, Captcha: ans}); err != nil {
		t.Fatalf("signup with a solved captcha: %v", err)
	}
	if _, err := e.svc.Signup(ctx, account.Attempt{Username: "alice2", Password: "right password", Sender: sender, Captcha: ans}); account.CodeOf(err) != account.CodeCaptchaInvalid {
		t.Fatalf("a solved challenge used twice = %v, want captcha_invalid", err)
	}

	// Login: no captcha for a clean name from a clean sender...
	if _, code := e.login("alice", "right password", ""); code != "" {
		t.Fatalf("clean login: %s", code)
	}
	// ...but once the name has a failure in its window, one is needed.
	if _, code := e.login("alice", "wrong password", ""); code != account.CodeInvalidCredentials {
		t.Fatalf("failure: %s", code)
	}
	_, err = e.svc.Login(ctx, account.Attempt{Username: "alice", Password: "right password", Sender: sender})
	if account.CodeOf(err) != account.CodeCaptchaRequired {
		t.Fatalf("login after a failure without captcha = %v, want captcha_required", err)
	}
	if _, err := e.svc.Login(ctx, account.Attempt{Username: "alice", Password: "right password", Sender: sender, Captcha: solve(err)}); err != nil {
		t.Fatalf("login with solved captcha: %v", err)
	}
	// A sender with failures on other names needs one too (2 per hour here).
	e.login("bobby", "wrong password", "")
	e.login("carol", "wrong password", "")
	if _, code := e.login("dave", "whatever pw", ""); code != account.CodeCaptchaRequired {
		t.Fatalf("sender with 2 failures, fresh name: %s, want captcha_required", code)
	}
	// An expired challenge is refused (the sender's failures keep captchas required).
	e.login("alice", "wrong password", "")
	_, err = e.svc.Login(ctx, account.Attempt{Username: "alice", Password: "right password", Sender: sender})
	stale := solve(err)
	e.clock.Add(11 * time.Minute)
	_, err = e.svc.Login(ctx, account.Attempt{Username: "alice", Password: "right password", Sender: sender, Captcha: stale})
	if account.CodeOf(err) != account.CodeCaptchaInvalid {
		t.Fatalf("expired challenge = %v, want captcha_invalid", err)
	}
	// A tampered id is refused.
	fresh := solve(err)
	tampered := []byte(fresh.ID)
	tampered[10] ^= 2
	fresh.ID = string(tampered)
	_, err = e.svc.Login(ctx, account.Attempt{Username: "alice", Password: "right password", Sender: sender, Captcha: fresh})
	if account.CodeOf(err) != account.CodeCaptchaInvalid {
		t.Fatalf("tampered challenge = %v, want captcha_invalid", err)
	}
}

func TestServiceWideFailureWaveRequiresCaptchaForEveryone(t *testing.T) {
	cfg := defaultConfig()
	cfg.Captcha = true
	cfg.CaptchaAfterSenderFailures = guard.Rate{Count: 1000, Period: 10 * time.Minute}
	cfg.CaptchaGlobalFailures = guard.Rate{Count: 5, Period: time.Minute}
	e := newEnv(t, cfg)
	for i := range 5 { // a stuffing wave: many names, many senders
		_, _ = e.svc.Login(context.Background(), account.Attempt{Username: "victim" + string(rune('a'+i)), Password: "leaked pw", Sender: netip.AddrFrom4([4]byte{203, 0, 113, byte(i)})})
	}
	_, err := e.svc.Login(context.Background(), account.Attempt{Username: "innocent", Password: "some password", Sender: netip.MustParseAddr("192.0.2.200")})
	if account.CodeOf(err) != account.CodeCaptchaRequired {
		t.Fatalf("during a failure wave a fresh sender and name = %v, want captcha_required", err)
	}
	e.clock.Add(time.Minute)
	_, err = e.svc.Login(context.Background(), account.Attempt{Username: "innocent", Password: "some password", Sender: netip.MustParseAddr("192.0.2.200")})
	if account.CodeOf(err) != account.CodeInvalidCredentials {
		t.Fatalf("after the wave = %v, want invalid_credentials (no captcha)", err)
	}
}
