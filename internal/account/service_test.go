package account_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hellosvc/hello/internal/account"
	"github.com/hellosvc/hello/internal/store/sqlite"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// migratedSQLite is a fresh SQLite store, closed when the test ends.
func migratedSQLite(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "hello.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st
}

func newService(t *testing.T, params account.Argon2Params, c *clock) (*account.Service, *sqlite.Store) {
	t.Helper()
	st := migratedSQLite(t)
	svc, err := account.NewService(context.Background(), account.Options{
		Store: st, Hasher: account.NewHasher(params, 2, time.Second), SessionTTL: time.Hour, Now: c.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc, st
}

var fast = account.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestSessionExpires(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	svc, _ := newService(t, fast, c)
	if _, err := svc.Signup(ctx, account.Attempt{Username: "alice", Password: "correct horse"}); err != nil {
		t.Fatal(err)
	}
	res, err := svc.Login(ctx, account.Attempt{Username: "Alice", Password: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.ExpiresAt.Equal(c.t.Add(time.Hour)) {
		t.Fatalf("ExpiresAt = %v, want %v", res.ExpiresAt, c.t.Add(time.Hour))
	}
	c.t = c.t.Add(59 * time.Minute)
	if a, err := svc.Me(ctx, res.Token); err != nil || a.Username != "alice" {
		t.Fatalf("Me before expiry = %v, %v", a, err)
	}
	c.t = c.t.Add(time.Minute)
	if _, err := svc.Me(ctx, res.Token); account.CodeOf(err) != account.CodeUnauthenticated {
		t.Fatalf("Me at expiry = %v, want unauthenticated", err)
	}
	if n, err := svc.PurgeExpiredSessions(ctx); err != nil || n != 1 {
		t.Fatalf("PurgeExpiredSessions = %d, %v; want 1", n, err)
	}
}

func TestLoginUpgradesOldHashes(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Now()}
	weak, st := newService(t, fast, c)
	if _, err := weak.Signup(ctx, account.Attempt{Username: "alice", Password: "correct horse"}); err != nil {
		t.Fatal(err)
	}
	stronger := fast
	stronger.Time = 2
	svc, err := account.NewService(ctx, account.Options{Store: st, Hasher: account.NewHasher(stronger, 2, time.Second), Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Login(ctx, account.Attempt{Username: "alice", Password: "correct horse"}); err != nil {
		t.Fatal(err)
	}
	a, err := st.GetAccount(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if want := "$argon2id$v=19$m=64,t=2,p=1$"; a.PasswordHash[:len(want)] != want {
		t.Fatalf("hash after login = %q, want the raised parameters %q", a.PasswordHash, want)
	}
	if _, err := svc.Login(ctx, account.Attempt{Username: "alice", Password: "correct horse"}); err != nil {
		t.Fatalf("login with the upgraded hash: %v", err)
	}
}

func TestTokensAreBoundToTheirOwner(t *testing.T) {
	ctx := context.Background()
	svc, _ := newService(t, fast, &clock{t: time.Now()})
	for _, n := range []string{"alice", "bobby"} {
		if _, err := svc.Signup(ctx, account.Attempt{Username: n, Password: "correct horse"}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := svc.Login(ctx, account.Attempt{Username: "alice", Password: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	// Swap the username part of alice's token for bobby's: the secret must not open bobby's account.
	_, secret, _ := strings.Cut(res.Token, ".")
	forged := "Ym9iYnk." + secret
	for _, tok := range []string{forged, "", "garbage", res.Token + "x", "YWxpY2U.", "YWxpY2U"} {
		if _, err := svc.Me(ctx, tok); account.CodeOf(err) != account.CodeUnauthenticated {
			t.Errorf("Me(%q) = %v, want unauthenticated", tok, err)
		}
	}
}

// Issue 10: a login that the hashing scheduler sheds is refused before its storage read (under
// a botnet's flood those reads took a third of the CPU the admitted hashes needed): with every
// slot taken and the database gone, it is busy, not storage_unavailable.
func TestAShedLoginCostsNoStorageRead(t *testing.T) {
	ctx := context.Background()
	st := migratedSQLite(t)
	h := account.NewHasher(fast, 1, 0)
	svc, err := account.NewService(ctx, account.Options{Store: st, Hasher: h, SessionTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	release, err := account.HoldSlot(h, account.HashTrusted)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Login(ctx, account.Attempt{Username: "alice", Password: "correct horse battery"}); account.CodeOf(err) != account.CodeBusy {
		t.Fatalf("a login with every hashing slot taken and the database gone = %v, want busy", err)
	}
}
