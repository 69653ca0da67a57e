package shard_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hellosvc/hello/internal/account"
	"github.com/hellosvc/hello/internal/store/postgres"
	"github.com/hellosvc/hello/internal/store/shard"
	"github.com/hellosvc/hello/internal/testenv"
)

// TestChaos runs random moves, rebalances, movers crashing at random steps, crashes of a
// shard's server (stopped at once, then restarted: the crash of a primary that comes back) and
// replicas restarted with stale maps, while clients sign up, log in (create sessions) and log
// out. At the end the operator re-runs what is unfinished; then `shards check` passes, every
// acknowledged signup and session is stored exactly once and every acknowledged logout is
// gone. CI runs 30 s of it; HELLO_TEST_LONG=1 runs 10 minutes (HELLO_CHAOS_SEED replays a
// run). Failover (a primary lost with its disk) has its own test: failover_test.go.
func TestChaos(t *testing.T) {
	t.Parallel()
	duration := 30 * time.Second
	if os.Getenv("HELLO_TEST_LONG") == "1" {
		duration = 10 * time.Minute
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("HELLO_CHAOS_SEED"); s != "" {
		_, _ = fmt.Sscan(s, &seed)
	}
	t.Logf("seed %d (HELLO_CHAOS_SEED=%d replays the choices), %s", seed, seed, duration)
	rng := rand.New(rand.NewPCG(seed, 0))
	ctx := context.Background()

	const logical = 16
	crashable := testenv.NewPostgres(t) // s3's own server, which the chaos crashes
	set := newSet(t, logical, nil, nil, crashable)
	st := set.open(t, -1)
	admin := shard.NewAdmin(st, shard.AdminOptions{LeaseTTL: 2 * time.Second})

	// Clients: replicas that never poll the map (always stale after the first move).
	const replicas = 3
	var mu sync.Mutex
	stores := make([]*shard.Store, replicas)
	for i := range stores {
		stores[i] = set.open(t, -1)
	}
	replica := func(i int) *shard.Store {
		mu.Lock()
		defer mu.Unlock()
		return stores[i%replicas]
	}
	var (
		accounts, loggedIn, loggedOut sync.Map // name → true / "name tok" → true
		unavailable, opsDone          atomic.Int64
		stop                          = make(chan struct{})
		wg                            sync.WaitGroup
	)
	for c := range 4 {
		wg.Go(func() {
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			var mine []string
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				s := replica(c + i)
				cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				var err error
				switch {
				case i%3 == 0 || len(mine) == 0:
					n := fmt.Sprintf("chaos%d-%d", c, i)
					if err = s.CreateAccount(cctx, account.Account{Username: n, PasswordHash: "h", CreatedAt: time.Now()}); err == nil {
						accounts.Store(n, true)
						mine = append(mine, n)
					}
				case i%3 == 1:
					n := mine[i%len(mine)]
					tok := fmt.Sprintf("%032d", i)
					if _, err = s.GetAccount(cctx, n); err == nil {
						err = s.CreateSession(cctx, account.Session{Username: n, TokenHash: []byte(tok), ExpiresAt: time.Now().Add(time.Hour)})
						if err == nil {
							loggedIn.Store(n+" "+tok, true)
						}
					}
				default:
					var victim string
					loggedIn.Range(func(k, _ any) bool {
						if strings.HasPrefix(k.(string), fmt.Sprintf("chaos%d-", c)) {
							victim = k.(string)
							return false
						}
						return true
					})
					if victim != "" {
						n, tok, _ := strings.Cut(victim, " ")
						if err = s.DeleteSession(cctx, n, []byte(tok)); err == nil {
							loggedIn.Delete(victim)
							loggedOut.Store(victim, true)
						} else if !errors.Is(err, account.ErrNotFound) {
							loggedIn.Delete(victim) // unknown: maybe deleted
						}
					}
				}
				cancel()
				switch {
				case err == nil:
					opsDone.Add(1)
				case errors.Is(err, account.ErrUnavailable):
					unavailable.Add(1)
				default:
					t.Errorf("client %d: %v", c, err)
				}
			}
		})
	}

	// The chaos: one fault or operation at a time, chosen at random.
	counts := map[string]int{}
	deadline := time.Now().Add(duration)
	shards := []string{"s1", "s2", "s3"}
	for time.Now().Before(deadline) {
		switch k := rng.IntN(10); {
		case k < 4:
			l, to := rng.IntN(logical), shards[rng.IntN(3)]
			if _, err := admin.Move(ctx, l, to); err != nil {
				counts["move failed"]++
				t.Logf("move %d to %s: %v", l, to, err)
			} else {
				counts["move"]++
			}
		case k < 5:
			if _, err := admin.Rebalance(ctx, nil); err != nil {
				counts["rebalance failed"]++
				t.Logf("rebalance: %v", err)
			} else {
				counts["rebalance"]++
			}
		case k < 7:
			steps := []shard.Step{shard.StepPublished, shard.StepSubscribed, shard.StepVerified, shard.StepPaused,
				shard.StepSwitched, shard.StepTakenOver, shard.StepMapped}
			at := steps[rng.IntN(len(steps))]
			crashing := shard.NewAdmin(st, shard.AdminOptions{LeaseTTL: 2 * time.Second, Step: func(_ context.Context, s shard.Step, _ []int) error {
				if s == at {
					return errCrash
				}
				return nil
			}})
			l, to := rng.IntN(logical), shards[rng.IntN(3)]
			_, err := crashing.Move(ctx, l, to)
			if errors.Is(err, errCrash) {
				counts["mover crashed at "+string(at)]++
			} else {
				counts["mover did not reach "+string(at)]++
			}
			t.Logf("mover of %d to %s to crash at %s: %v", l, to, at, err)
		case k < 8:
			if err := crashable.Stop(); err != nil {
				t.Fatal(err)
			}
			if err := crashable.Start(); err != nil {
				t.Fatal(err)
			}
			counts["server of s3 crashed and restarted"]++
		default:
			i := rng.IntN(replicas)
			fresh := set.open(t, -1)
			mu.Lock()
			old := stores[i]
			stores[i] = fresh
			mu.Unlock()
			_ = old // closed by its cleanup; in-flight calls finish on it
			counts["replica restarted"]++
		}
	}
	close(stop)
	wg.Wait()

	// The operator re-runs what is unfinished, then rebalances (which also deletes leftovers).
	settle(t, admin, st, logical)
	if _, err := admin.Rebalance(ctx, nil); err != nil {
		t.Fatalf("final rebalance: %v", err)
	}
	mustCheck(t, admin)
	var acked []string
	accounts.Range(func(k, _ any) bool { acked = append(acked, k.(string)); return true })
	mustHaveOnce(t, set, st, acked)
	loggedIn.Range(func(k, _ any) bool {
		n, tok, _ := strings.Cut(k.(string), " ")
		if _, err := st.GetSession(ctx, n, []byte(tok)); err != nil {
			t.Errorf("acknowledged session of %s: %v", n, err)
		}
		return true
	})
	loggedOut.Range(func(k, _ any) bool {
		n, tok, _ := strings.Cut(k.(string), " ")
		if _, err := st.GetSession(ctx, n, []byte(tok)); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("acknowledged logout of %s: the session is still there (%v)", n, err)
		}
		return true
	})
	t.Logf("client operations acknowledged %d, answered 503 %d; signups %d; chaos: %v", opsDone.Load(), unavailable.Load(), len(acked), counts)
}

// settle finishes every unfinished move the way an operator would: a logical shard whose
// owner is not the map's gets the map published; one without an owner (switched, not taken
// over) gets its move re-run to the pointer's target.
func settle(t *testing.T, admin *shard.Admin, st *shard.Store, logical int) {
	t.Helper()
	ctx := context.Background()
	for l := range logical {
		holders, err := admin.Holders(ctx, l)
		if err != nil {
			t.Fatal(err)
		}
		m, _, err := admin.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		target := ""
		switch len(holders) {
		case 1:
			target = holders[0]
		case 0:
			src, err := st.DB(ctx, m.Owner(l))
			if err != nil {
				t.Fatal(err)
			}
			o, err := src.Ownership(ctx, l)
			if err != nil || o.State != postgres.Moved {
				t.Fatalf("logical shard %d has no owner, and its map owner %s says %+v (%v)", l, m.Owner(l), o, err)
			}
			target = o.Peer
		default:
			t.Fatalf("logical shard %d has owners %v", l, holders)
		}
		if _, err := admin.Move(ctx, l, target); err != nil {
			t.Fatalf("settling logical shard %d on %s: %v", l, target, err)
		}
	}
}
