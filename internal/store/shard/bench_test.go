package shard_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hellosvc/hello/internal/account"
	"github.com/hellosvc/hello/internal/store/postgres"
	"github.com/hellosvc/hello/internal/store/shard"
	"github.com/hellosvc/hello/internal/store/shardkey"
	"github.com/hellosvc/hello/internal/testenv"
)

// BenchmarkRoute is the routing cost of one lookup: hash the name, map the logical shard.
func BenchmarkRoute(b *testing.B) {
	m := shard.RoundRobin(shardkey.DefaultLogicalShards, []shard.MapShard{{Name: "s1"}, {Name: "s2"}, {Name: "s3"}})
	names := make([]string, 1024)
	for i := range names {
		names[i] = fmt.Sprintf("user.name-%d", i)
	}
	b.ReportAllocs()
	var sink int
	for i := 0; b.Loop(); i++ {
		sink += len(m.Owner(shardkey.Logical(names[i&1023], m.LogicalShards)))
	}
	_ = sink
}

// fastHasher is argon2id with the tests' cheap parameters (m=64 KiB, t=1): the store
// benchmarks measure storage, not password hashing. Production costs ~20 ms per hash and core.
func fastHasher() *account.Hasher {
	return account.NewHasher(account.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 64, time.Second)
}

func benchStores(b *testing.B) map[string]func(b *testing.B) account.Store {
	return map[string]func(b *testing.B) account.Store{
		"postgres": func(b *testing.B) account.Store {
			st, err := postgres.OpenStore(context.Background(), postgres.Options{DSN: testenv.SharedPostgres(b).CreateDB(b), MaxConns: 16})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = st.Close() })
			if _, err := st.Migrate(context.Background()); err != nil {
				b.Fatal(err)
			}
			return st
		},
		"shards=3": func(b *testing.B) account.Store {
			return newSet(b, shardkey.DefaultLogicalShards, shared(3)...).open(b, time.Second)
		},
	}
}

// BenchmarkSignup and BenchmarkLogin run account.Service (fast hash parameters, see
// fastHasher) on one PostgreSQL database and on 3 shards (three databases of one local
// cluster: this measures the routing and ownership checks, not extra hardware).
func BenchmarkSignup(b *testing.B) {
	for _, name := range []string{"postgres", "shards=3"} {
		b.Run(name, func(b *testing.B) {
			svc := service(b, benchStores(b)[name](b))
			var n atomic.Int64
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := svc.Signup(context.Background(), account.Attempt{Username: fmt.Sprintf("bench-%d", n.Add(1)), Password: "correct horse battery"}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "signups/s")
		})
	}
}

func BenchmarkLogin(b *testing.B) {
	for _, name := range []string{"postgres", "shards=3"} {
		b.Run(name, func(b *testing.B) {
			svc := service(b, benchStores(b)[name](b))
			const users = 200
			for i := range users {
				if _, err := svc.Signup(context.Background(), account.Attempt{Username: fmt.Sprintf("bench-%d", i), Password: "correct horse battery"}); err != nil {
					b.Fatal(err)
				}
			}
			var n atomic.Int64
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := svc.Login(context.Background(), account.Attempt{Username: fmt.Sprintf("bench-%d", n.Add(1)%users), Password: "correct horse battery"}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
		})
	}
}

func service(b *testing.B, st account.Store) *account.Service {
	svc, err := account.NewService(context.Background(), account.Options{Store: st, Hasher: fastHasher()})
	if err != nil {
		b.Fatal(err)
	}
	return svc
}

// BenchmarkMoveLogicalShard moves one logical shard holding 10,000 accounts (and a session
// each) back and forth between two databases of one local cluster, nothing else running;
// ns/op is the whole move, pause-ms the longest write pause seen.
func BenchmarkMoveLogicalShard(b *testing.B) {
	ctx := context.Background()
	const logical, accounts = 16, 10000
	set := newSet(b, logical, shared(2)...)
	st := set.open(b, -1)
	admin := shard.NewAdmin(st, shard.AdminOptions{})
	var names []string
	var hashes [][]byte
	for i := 0; len(names) < accounts; i++ {
		n := fmt.Sprintf("moved-%d", i)
		if shardkey.Logical(n, logical) == 0 { // round-robin: logical shard 0 is on s1
			names = append(names, n)
			hashes = append(hashes, []byte(fmt.Sprintf("%032d", i)))
		}
	}
	conn, err := pgx.Connect(ctx, set.dsn["s1"])
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	if _, err := conn.Exec(ctx, `INSERT INTO accounts (username, logical_shard, password_hash, created_at)
		SELECT u, 0, '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g', now()
		FROM unnest($1::text[]) u`, names); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO sessions (username, token_hash, logical_shard, expires_at)
		SELECT u, h, 0, now() + interval '1 hour' FROM unnest($1::text[], $2::bytea[]) AS t(u, h)`, names, hashes); err != nil {
		b.Fatal(err)
	}
	var longest time.Duration
	to := []string{"s2", "s1"}
	i := 0
	for b.Loop() {
		r, err := admin.Move(ctx, 0, to[i%2])
		if err != nil {
			b.Fatal(err)
		}
		if r.Accounts != accounts {
			b.Fatalf("moved %d accounts, want %d", r.Accounts, accounts)
		}
		longest = max(longest, r.Pause)
		i++
	}
	b.ReportMetric(float64(longest.Microseconds())/1000, "pause-ms")
	b.ReportMetric(accounts, "accounts")
}
