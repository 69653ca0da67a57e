package shard_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
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
	m, status, err := st.Status(ctx)
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
		if h, err := st.Holders(ctx, l); err != nil || len(h) != 1 || h[0] != m.Owner(l) {
			t.Fatalf("logical shard %d is served by %v (%v), want exactly %s", l, h, err, m.Owner(l))
		}
	}
}

// A replica with a stale map (it never polls) keeps working after a move: the former owner
// refuses and points at the new one, in the same statement that would have written.
func TestStaleReplicaFollowsTheMove(t *testing.T) {
	ctx := context.Background()
	set := newSet(t, 8, shared(2)...)
	admin := set.open(t, -1)
	stale := set.open(t, -1)
	alice := nameOn("alice", 8, func(l int) bool { return admin.Map().Owner(l) == "s1" })
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
	if a, err := admin.GetAccount(ctx, alice); err != nil || a.PasswordHash != "h3" {
		t.Fatalf("GetAccount = %+v, %v", a, err)
	}
}

// A move that crashed right after its switch is finished by the service's next request for the
// logical shard, and running it again publishes the map and cleans up; one that crashed before
// (a partial copy on the target) leaves the source serving, and its copy is cleaned.
func TestMoveIsSafeToRerunAfterACrash(t *testing.T) {
	ctx := context.Background()
	set := newSet(t, 8, shared(3)...)
	st := set.open(t, -1)
	var names []string
	for i := range 20 {
		n := nameOn(fmt.Sprintf("u%d", i), 8, func(l int) bool { return l == 0 })
		names = append(names, n)
		if err := st.CreateAccount(ctx, account.Account{Username: n, PasswordHash: "h", CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	s1, _ := st.DB(ctx, "s1")
	s2, _ := st.DB(ctx, "s2")
	s3, _ := st.DB(ctx, "s3")

	// Crash before the switch: a partial copy on s2.
	if err := s2.PrepareIncoming(ctx, 0, "s1"); err != nil {
		t.Fatal(err)
	}
	rows, err := s1.LogicalRows(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	rows.Accounts = rows.Accounts[:5]
	if _, err := s2.SyncFrom(ctx, 0, rows); err != nil {
		t.Fatal(err)
	}
	if h, _ := st.Holders(ctx, 0); len(h) != 1 || h[0] != "s1" {
		t.Fatalf("after a crash before the switch, logical shard 0 is served by %v, want s1", h)
	}
	for _, n := range names {
		if _, err := st.GetAccount(ctx, n); err != nil {
			t.Fatalf("GetAccount(%s) after a crashed copy: %v", n, err)
		}
	}

	// Crash right after the switch: the source says moved, the target is still incoming.
	if err := s3.PrepareIncoming(ctx, 0, "s1"); err != nil {
		t.Fatal(err)
	}
	rows, _ = s1.LogicalRows(ctx, 0)
	if _, err := s3.SyncFrom(ctx, 0, rows); err != nil {
		t.Fatal(err)
	}
	fence, err := s1.Fence(ctx, 0, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := fence.Switch(ctx, "s3"); err != nil {
		t.Fatal(err)
	}
	if h, _ := st.Holders(ctx, 0); len(h) != 0 {
		t.Fatalf("mid-switch holders %v", h)
	}
	// The service does not wait for the re-run: the first request for the logical shard follows
	// the source's forwarding pointer and finishes the takeover the mover had verified.
	if _, err := st.GetAccount(ctx, names[0]); err != nil {
		t.Fatalf("GetAccount after a crash right after the switch: %v", err)
	}
	if h, _ := st.Holders(ctx, 0); len(h) != 1 || h[0] != "s3" {
		t.Fatalf("after that request, logical shard 0 is served by %v, want s3", h)
	}
	// Re-running the move to s2 is refused (the switch went to s3); re-running it to s3 finishes it.
	if _, err := st.Move(ctx, 0, "s2"); err == nil {
		t.Fatal("a move to another shard than the interrupted one's was accepted")
	}
	r, err := st.Move(ctx, 0, "s3")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.Note, "resumed") {
		t.Fatalf("move result %+v, want a resumed move", r)
	}
	if h, _ := st.Holders(ctx, 0); len(h) != 1 || h[0] != "s3" {
		t.Fatalf("after the re-run, logical shard 0 is served by %v, want s3", h)
	}
	counts := usernames(t, set.dsn["s1"], set.dsn["s2"], set.dsn["s3"])
	for _, n := range names {
		if counts[n] != 1 {
			t.Errorf("%s stored %d times", n, counts[n])
		}
		if _, err := st.GetAccount(ctx, n); err != nil {
			t.Errorf("GetAccount(%s) after the resumed move: %v", n, err)
		}
	}
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
