package account_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hellosvc/hello/internal/account"
	"github.com/hellosvc/hello/internal/captcha"
	"github.com/hellosvc/hello/internal/guard"
	"github.com/hellosvc/hello/internal/guard/memory"
)

// Logins the server was too busy to check (503 busy) count toward the service-wide failure
// wave. Without them, guesses from new addresses (the "clean" class) held every hashing slot
// until enough of them had been hashed and had failed — about 5 s in the bench's attack
// scenario — while trusted-device logins waited for a slot and for CPU.
func TestShedLoginsStartTheFailureWave(t *testing.T) {
	ctx := context.Background()
	h := account.NewHasher(fast, 1, 0)
	svc, _, owner := waveService(t, h, 3)
	fresh := account.Attempt{Username: "innocent", Password: "some password", Sender: netip.MustParseAddr("192.0.2.200")}

	release, err := account.HoldSlot(h, account.HashTrusted) // the one slot is busy
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // a trusted device shed three times is no wave: the wave never taxes it
		if _, err := svc.Login(ctx, owner); account.CodeOf(err) != account.CodeBusy {
			t.Fatalf("alice's trusted login with the slot taken = %v, want busy", err)
		}
	}
	release()
	if _, err := svc.Login(ctx, fresh); account.CodeOf(err) != account.CodeInvalidCredentials {
		t.Fatalf("after 3 trusted logins shed, a fresh sender and name = %v, want invalid_credentials (no wave)", err)
	}

	if release, err = account.HoldSlot(h, account.HashTrusted); err != nil {
		t.Fatal(err)
	}
	for i := range 2 { // a stuffing flood from new addresses: each one shed
		_, err := svc.Login(ctx, account.Attempt{Username: fmt.Sprintf("leak%d", i), Password: "leaked password",
			Sender: netip.AddrFrom4([4]byte{203, 0, 113, byte(i + 1)})})
		if account.CodeOf(err) != account.CodeBusy {
			t.Fatalf("login %d with the slot taken = %v, want busy", i, err)
		}
	}
	release()
	// With the innocent's failure, three in the window: the wave is on.
	bystander := account.Attempt{Username: "bystander", Password: "some password", Sender: netip.MustParseAddr("192.0.2.201")}
	if _, err := svc.Login(ctx, bystander); account.CodeOf(err) != account.CodeCaptchaRequired {
		t.Fatalf("after 2 logins shed as busy and 1 failure, a fresh sender and name = %v, want captcha_required (the wave)", err)
	}
}

// Guesses admitted before the wave started and queued for a hashing slot are asked for a
// captcha when their slot comes, not hashed: at the start of a flood from new addresses, the
// queue's guesses (admitted while the wave was not yet on) were hashed on both cores for a
// second, and the real users' hashes waited for the CPU. A trusted device's queued login is
// still checked.
func TestQueuedGuessesAreRecheckedWhenTheirSlotComes(t *testing.T) {
	ctx := context.Background()
	h := account.NewHasher(fast, 1, time.Minute) // one slot, a queue of 4
	svc, g, owner := waveService(t, h, 2)
	guess := func(i int) account.Attempt { // credential stuffing: leaked pairs, new addresses
		return account.Attempt{Username: fmt.Sprintf("leaked%d", i), Password: "leaked password",
			Sender: netip.AddrFrom4([4]byte{203, 0, 113, byte(i + 1)})}
	}

	release, err := account.HoldSlot(h, account.HashTrusted) // a hash in progress
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for i := range 3 { // three guesses from new addresses: admitted (no wave yet), queued
		go func() { _, err := svc.Login(ctx, guess(i)); errs <- err }()
		account.WaitQueued(t, h, i+1)
	}
	go func() { _, err := svc.Login(ctx, owner); errs <- err }() // alice, on her device
	account.WaitQueued(t, h, 4)
	for i := 3; i < 5; i++ { // the queue is full: shed, and the wave is on
		if _, err := svc.Login(ctx, guess(i)); account.CodeOf(err) != account.CodeBusy {
			t.Fatalf("guess %d with the queue full = %v, want busy", i, err)
		}
	}
	release()
	got := map[account.Code]int{}
	for range 4 {
		if err := <-errs; err != nil {
			got[account.CodeOf(err)]++
		} else {
			got["ok"]++
		}
	}
	if want := map[account.Code]int{"ok": 1, account.CodeCaptchaRequired: 3}; !maps.Equal(got, want) {
		t.Fatalf("the queued logins ended with %v, want alice's in (no error) and the 3 guesses asked for a captcha, not hashed", got)
	}
	for i := range 3 { // no verdict on them: nothing is counted against their names
		if st, err := g.Status(ctx, guess(i).Username); err != nil || st.Failures != 0 {
			t.Fatalf("status of %s = %+v, %v; want no failures", guess(i).Username, st, err)
		}
	}
}

// waveService is a Service with the real guard on a memory store, captchas on, a service-wide
// wave after globalFailures failed logins a minute, and alice's account; owner is alice's
// login from the device her first login gave her.
func waveService(t *testing.T, h *account.Hasher, globalFailures int) (*account.Service, *guard.Guard, account.Attempt) {
	t.Helper()
	ctx := context.Background()
	mem := memory.New(memory.Options{})
	const secret = "wave-test-secret-0123456789abcdef"
	capt, err := captcha.New(captcha.Options{Secret: []byte(secret), Spent: mem})
	if err != nil {
		t.Fatal(err)
	}
	g, err := guard.New(guard.Options{Store: mem, Captcha: capt, Secret: []byte(secret),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: prometheus.NewRegistry(),
		Config: guard.Config{LoginMaxFailures: 3, LoginWindow: time.Hour, Captcha: true, DeviceCookies: true,
			CaptchaAfterSenderFailures: guard.Rate{Count: 5, Period: 10 * time.Minute},
			CaptchaGlobalFailures:      guard.Rate{Count: globalFailures, Period: time.Minute}}})
	if err != nil {
		t.Fatal(err)
	}
	st := migratedSQLite(t)
	svc, err := account.NewService(ctx, account.Options{Store: st, Guard: g, Hasher: h})
	if err != nil {
		t.Fatal(err)
	}
	hash, err := h.Hash(ctx, "alice's password")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateAccount(ctx, account.Account{Username: "alice", PasswordHash: hash, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	owner := account.Attempt{Username: "alice", Password: "alice's password", Sender: netip.MustParseAddr("198.51.100.7")}
	res, err := svc.Login(ctx, owner)
	if err != nil || res.Device == "" {
		t.Fatalf("alice's first login: %v, device %q", err, res.Device)
	}
	owner.Device = res.Device
	return svc, g, owner
}
