package guard_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/hellosvc/hello/internal/account"
)

// BenchmarkRefusedLogin is the cost of refusing a login for a locked name: the guard answers
// before any password hash or storage read, so a brute-force attempt costs the server
// microseconds, not an argon2id hash (tens of milliseconds).
func BenchmarkRefusedLogin(b *testing.B) {
	e := newEnv(b, defaultConfig())
	ctx := context.Background()
	for _, pw := range []string{"guess one", "guess two", "guess three"} {
		e.login("alice", pw, "")
	}
	req := account.Attempt{Username: "alice", Password: "guess four", Sender: netip.MustParseAddr("198.51.100.7")}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.svc.Login(ctx, req); account.CodeOf(err) != account.CodeTooManyAttempts {
			b.Fatalf("login = %v, want too_many_attempts", err)
		}
	}
}

// BenchmarkSenderDecision is the per-request cost of the per-sender limit (IPv4 and IPv6).
func BenchmarkSenderDecision(b *testing.B) {
	cfg := defaultConfig()
	cfg.SenderLimit.Count = 1 << 30
	e := newEnv(b, cfg)
	ctx := context.Background()
	for _, ip := range []string{"198.51.100.7", "2001:db8:1:2::3"} {
		addr := netip.MustParseAddr(ip)
		b.Run(ip, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.guard.Sender(ctx, addr, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
