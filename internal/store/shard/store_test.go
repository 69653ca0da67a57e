package shard_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/hellosvc/hello/internal/account"
	"github.com/hellosvc/hello/internal/account/storetest"
	"github.com/hellosvc/hello/internal/store/postgres"
	"github.com/hellosvc/hello/internal/store/shard"
	"github.com/hellosvc/hello/internal/store/shardkey"
	"github.com/hellosvc/hello/internal/testenv"
)

// The account/session suite SQLite and single PostgreSQL pass, against 3 PostgreSQL shards.
func TestConformanceThreeShards(t *testing.T) {
	storetest.Run(t, func(t *testing.T) account.Store {
		return newSet(t, 64, shared(3)...).open(t, time.Second)
	})
}

func TestFirstMapIsRoundRobinAndOwnedByEveryShard(t *testing.T) {
	ctx := context.Background()
	st := newSet(t, 12, shared(3)...).open(t, -1)
	admin := shard.NewAdmin(st, shard.AdminOptions{})
	m, status, err := admin.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != 1 || m.Owner(0) != "s1" || m.Owner(1) != "s2" || m.Owner(5) != "s3" {
		t.Fatalf("first map %+v is not round-robin", m)
	}
	for _, s := range status {
		if !s.Reachable || s.Logical != 4 || s.Owned != 4 {
			t.Fatalf("status %+v, want reachable with 4 logical shards served", s)
		}
	}
	for l := range 12 {
		if h, err := admin.Holders(ctx, l); err != nil || len(h) != 1 || h[0] != m.Owner(l) {
			t.Fatalf("logical shard %d is served by %v (%v), want exactly %s", l, h, err, m.Owner(l))
		}
	}
}

// A replica with a stale map (it never polls) keeps working after a move: the former owner
// refuses and points at the new one, in the same statement that would have written.
func TestStaleReplicaFollowsTheMove(t *testing.T) {
	ctx := context.Background()
	set := newSet(t, 8, shared(2)...)
	st := set.open(t, -1)
	admin := shard.NewAdmin(st, shard.AdminOptions{})
	stale := set.open(t, -1)
	alice := nameOn("alice", 8, func(l int) bool { return st.Map().Owner(l) == "s1" })
	l := shardkey.Logical(alice, 8)
	now := time.Now().UTC().Truncate(time.Millisecond)
	if err := stale.CreateAccount(ctx, account.Account{Username: alice, PasswordHash: "h1", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	r, err := admin.Move(ctx, l, "s2")
	if err != nil {
		t.Fatal(err)
	}
	if r.Accounts != 1 || r.From != "s1" || r.To != "s2" {
		t.Fatalf("move result %+v", r)
	}
	if stale.Map().Owner(l) != "s1" {
		t.Fatal("the stale replica already knows the new map; the test proves nothing")
	}
	bob := nameOn("bob", 8, func(x int) bool { return x == l })
	if err := stale.CreateAccount(ctx, account.Account{Username: bob, PasswordHash: "h2", CreatedAt: now}); err != nil {
		t.Fatalf("signup through a stale replica: %v", err)
	}
	if err := stale.UpdatePasswordHash(ctx, alice, "h3"); err != nil {
		t.Fatalf("update through a stale replica: %v", err)
	}
	got := usernames(t, set.dsn["s1"])
	if got[alice]+got[bob] != 0 {
		t.Fatalf("the former owner still holds rows: %v", got)
	}
	got = usernames(t, set.dsn["s2"])
	if got[alice] != 1 || got[bob] != 1 {
		t.Fatalf("the new owner holds %v", got)
	}
	if a, err := st.GetAccount(ctx, alice); err != nil || a.PasswordHash != "h3" {
		t.Fatalf("GetAccount = %+v, %v", a, err)
	}
	mustCheck(t, admin)
}

// One PostgreSQL database (HELLO_DB=postgres://…) becomes the first shard of a set with the
// README's commands, keeping every account.
func TestSingleDatabaseBecomesShards(t *testing.T) {
	ctx := context.Background()
	pg := testenv.SharedPostgres(t)
	dsn1, dsn2 := pg.CreateDB(t), pg.CreateDB(t)
	single, err := postgres.OpenStore(ctx, postgres.Options{DSN: dsn1})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = single.Close() }()
	if _, err := single.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var names []string
	for i := range 50 {
		n := fmt.Sprintf("single-%d", i)
		names = append(names, n)
		if err := single.CreateAccount(ctx, account.Account{Username: n, PasswordHash: "h", CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "shards.yaml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf("logical_shards: 1024\nshards:\n  - {name: s1, dsn: %q}\n", dsn1)), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"HELLO_DB": "shards:" + path}
	for _, args := range [][]string{{"migrate"}, {"shards", "add", "--name", "s2", "--dsn", dsn2}, {"shards", "rebalance"}, {"shards", "status"}} {
		if out, err := hello(t, env, args...); err != nil {
			t.Fatalf("hello %v: %v\n%s", args, err, out)
		} else if args[0] == "shards" && args[1] == "status" && (!regexp.MustCompile(`s1\s+up\s+512\s`).MatchString(out) || !regexp.MustCompile(`s2\s+up\s+512\s`).MatchString(out)) {
			t.Fatalf("hello shards status:\n%s", out)
		}
	}
	if _, err := single.Migrate(ctx); !errors.Is(err, postgres.ErrShardMember) {
		t.Fatalf("the single-database mode still opens a shard: %v", err)
	}
	data, _ := os.ReadFile(path)
	f, _ := shard.ParseFile(data)
	st, err := shard.Open(ctx, shard.Options{File: f, Poll: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	counts := usernames(t, dsn1, dsn2)
	for _, n := range names {
		if _, err := st.GetAccount(ctx, n); err != nil || counts[n] != 1 {
			t.Errorf("%s: GetAccount %v, stored %d times", n, err, counts[n])
		}
	}
}
