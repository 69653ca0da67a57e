package shard

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hellosvc/hello/internal/account"
	"github.com/hellosvc/hello/internal/store/shardkey"
)

func threeShards(n int) *Map {
	return RoundRobin(n, []MapShard{{Name: "s1"}, {Name: "s2"}, {Name: "s3"}})
}

// 10,000 usernames over 3 physical shards: the busiest holds at most 10% above the mean, and a
// name always lands on the same shard (also through a map decoded from its stored form).
func TestDistributionAndStability(t *testing.T) {
	m := threeShards(shardkey.DefaultLogicalShards)
	stored, err := decodeMap(m.Version, m.encode())
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	const users = 10000
	for i := range users {
		name, err := account.NormalizeUsername(fmt.Sprintf("User.%d", i))
		if err != nil {
			t.Fatal(err)
		}
		owner := m.Owner(shardkey.Logical(name, m.LogicalShards))
		if again := stored.Owner(shardkey.Logical(name, stored.LogicalShards)); again != owner {
			t.Fatalf("%s routes to %s, then to %s", name, owner, again)
		}
		count[owner]++
	}
	mean := float64(users) / 3
	for shard, n := range count {
		if float64(n) > 1.10*mean {
			t.Errorf("shard %s holds %d users, more than 10%% above the mean %.0f (%v)", shard, n, mean, count)
		}
	}
	t.Logf("users per shard: %v", count)
}

func TestPlanGivesEveryShardAnEvenShare(t *testing.T) {
	for _, tc := range []struct{ logical, before, after int }{{1024, 3, 4}, {64, 3, 4}, {10, 1, 3}, {7, 2, 5}} {
		var shards []MapShard
		for i := range tc.before {
			shards = append(shards, MapShard{Name: fmt.Sprintf("s%d", i+1)})
		}
		m := RoundRobin(tc.logical, shards)
		for i := tc.before; i < tc.after; i++ {
			m.Shards = append(m.Shards, MapShard{Name: fmt.Sprintf("s%d", i+1)})
		}
		moves := Plan(m)
		for _, mv := range moves {
			if m.Owner(mv.Logical) != mv.From || mv.From == mv.To {
				t.Fatalf("bad move %+v", mv)
			}
			m.Assign[mv.Logical] = m.Index(mv.To)
		}
		lo, hi := tc.logical, 0
		for _, ls := range m.Held() {
			lo, hi = min(lo, len(ls)), max(hi, len(ls))
		}
		if hi-lo > 1 {
			t.Errorf("%+v: after %d moves shards hold %d to %d logical shards", tc, len(moves), lo, hi)
		}
		if want := tc.logical - tc.logical/tc.after*tc.before - min(tc.logical%tc.after, tc.before); tc.before > 0 && len(moves) > want+tc.before {
			t.Errorf("%+v: %d moves, want about %d", tc, len(moves), want)
		}
		if len(Plan(m)) != 0 {
			t.Errorf("%+v: a balanced map still plans moves", tc)
		}
	}
}

func TestParseFile(t *testing.T) {
	f, err := ParseFile([]byte("logical_shards: 1024\nshards:\n  - {name: s1, dsn: \"postgres://hello:${HELLO_S1_PASSWORD}@db1:5432/hello?sslmode=require\"}\n  - name: s2\n    dsn: postgres://hello@db2/hello\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f.LogicalShards != 1024 || len(f.Shards) != 2 || f.Shards[1].Name != "s2" {
		t.Fatalf("parsed %+v", f)
	}
	dsn, err := Expand(f.Shards[0].DSN, func(k string) (string, bool) { return "p@ss:w/rd", k == "HELLO_S1_PASSWORD" })
	if err != nil || dsn != "postgres://hello:p%40ss%3Aw%2Frd@db1:5432/hello?sslmode=require" {
		t.Fatalf("Expand = %q, %v", dsn, err)
	}
	if _, err := Expand(f.Shards[0].DSN, func(string) (string, bool) { return "", false }); err == nil || !strings.Contains(err.Error(), "HELLO_S1_PASSWORD") {
		t.Fatalf("Expand with the variable unset = %v", err)
	}
	for _, bad := range []string{
		"logical_shards: 0\nshards: [{name: s1, dsn: x}]",
		"logical_shards: 8\nshards: []",
		"logical_shards: 8\nshards: [{name: s1, dsn: x}, {name: s1, dsn: y}]",
		"logical_shards: 8\nshards: [{name: S 1, dsn: x}]",
		"logical_shards: 8\nshards: [{name: s1, dsn: \"postgres://u:literal@h/d\"}]",
		// Issue 11 (5): a literal password in the query or in a key=value DSN is refused too.
		"logical_shards: 8\nshards: [{name: s1, dsn: \"postgres://u@h/d?password=literal\"}]",
		"logical_shards: 8\nshards: [{name: s1, dsn: \"host=h user=u password=literal\"}]",
		"logical_shards: 8\nshards: [{name: s1, dsn: \"host=h user=u password='${HELLO_X}x'\"}]",
		"logical_shards: 8\nshards: [{name: s1, dsn: x, colour: blue}]",
	} {
		if _, err := ParseFile([]byte(bad)); err == nil {
			t.Errorf("ParseFile(%q) accepted it", bad)
		}
	}
}
