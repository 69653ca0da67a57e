package shard_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hellosvc/hello/internal/account"
	"github.com/hellosvc/hello/internal/store/postgres"
	"github.com/hellosvc/hello/internal/store/shard"
	"github.com/hellosvc/hello/internal/testenv"
)

// failoverLogical is the logical shard count of the failover tests' set.
const failoverLogical = 8

// TestShardFailoverLosesNothing is "failover without loss, per shard", on one pg_auto_failover
// formation (its setup is the expensive part, so the phases share it and run in order):
//
//   - a signup burst into both physical shards while s1's primary is killed (SIGKILL, data
//     directory deleted): s2 never stops, s1 serves again by itself (the same store, its
//     multi-host DSN with target_session_attrs=read-write finding the promoted standby), and
//     every acknowledged account is present exactly once;
//   - with a standby again, a move of a logical shard from s1 to s2 whose source fails over
//     right after the target subscribed: the source's slot is lost with it, so the copy must
//     start again (by the move itself); nothing acknowledged is
//     lost or doubled and the logical shard ends on s2 alone;
//   - s1's primary turning read-only (as a demoted primary does): SQLSTATE 25006 is a 503 and
//     drops the pool's connections, so that new ones look for a writable node; s2 is not
//     affected, and s1 serves again once it takes writes.
//
// Durations are logged, never asserted.
func TestShardFailoverLosesNothing(t *testing.T) {
	t.Parallel()
	f := testenv.NewFormation(t, testenv.FormationOptions{Tuned: true})
	set := formationSet(t, f, failoverLogical)
	// The service: HELLO_DB_TIMEOUT=2s, a short per-host connect timeout, polling the map.
	st := openFailoverStore(t, set, 0, nil)
	if _, err := st.MigrateAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The operator's `hello shards` (its own pools, no polling), logging to the test.
	adminSt := openFailoverStore(t, set, -1, slog.New(slog.NewTextHandler(t.Output(), nil)))
	m := st.Map()
	if m == nil {
		t.Fatal("no shard map after MigrateAll")
	}
	on := func(name string) func(int) bool { return func(l int) bool { return m.Owner(l) == name } }
	var acked []string // every acknowledged signup of every phase

	if !t.Run("signup burst", func(t *testing.T) {
		s1 := startBurst(t, st, "fo1-", on("s1"))
		s2 := startBurst(t, st, "fo2-", on("s2"))
		testenv.Eventually(t, time.Minute, "50 acknowledged signups on each shard before the kill", func() bool {
			return s1.count() >= 50 && s2.count() >= 50
		})
		killed := f.KillPrimary(t)
		window := f.WaitPrimary(t, 2*time.Minute)
		testenv.Eventually(t, 2*time.Minute, "signups to s1 acknowledged again through the same store", func() bool {
			n, _ := s1.ackedSince(killed)
			return n >= 20
		})
		s1.halt()
		s2.halt()
		_, back := s1.ackedSince(killed)
		r1, e1, last1 := s1.failures()
		r2, e2, last2 := s2.failures()
		t.Logf("s1 failed over: kill → the new primary took a write (WaitPrimary) %s; kill → first signup through the store acknowledged by s1 %s; s1 refused %d signups with 503 meanwhile (last: %v)",
			window.Round(time.Millisecond), back.done.Sub(killed).Round(time.Millisecond), r1, last1)
		for _, err := range e1 {
			t.Errorf("s1: not a 503: %v", err)
		}
		// The other shard never stopped: no error at all, and signups acknowledged while s1
		// was down.
		if r2 > 0 || len(e2) > 0 {
			t.Errorf("s2 failed %d signups during s1's failover (503: %d; other errors: %v; last 503: %v)", r2+len(e2), r2, e2, last2)
		}
		during := s2.ackedBetween(killed, back.started)
		t.Logf("s2 acknowledged %d signups while s1 was failing over (%d in the phase)", during, s2.count())
		if during == 0 {
			t.Errorf("s2 acknowledged no signup between the kill of s1's primary and s1 serving again")
		}
		acked = append(acked, s1.names()...)
		acked = append(acked, s2.names()...)
		mustHaveOnce(t, set, st, acked)
		mustCheck(t, shard.NewAdmin(adminSt, shard.AdminOptions{}))
	}) {
		return
	}

	if !t.Run("move from a source that fails over", func(t *testing.T) {
		f.AddNode(t) // a standby again, so that the source can fail over once more
		const l = 0
		if owner := st.Map().Owner(l); owner != "s1" {
			t.Fatalf("logical shard %d is on %s, want s1", l, owner)
		}
		w := startBurst(t, st, "fo3-", func(x int) bool { return x == l })
		testenv.Eventually(t, time.Minute, "30 acknowledged signups in the logical shard before the move", func() bool {
			return w.count() >= 30
		})
		var killed time.Time
		admin := shard.NewAdmin(adminSt, shard.AdminOptions{Step: func(_ context.Context, s shard.Step, _ []int) error {
			// Once the target subscribed (the copy runs on the source's slot), the source's
			// primary goes, and its slot with it: slots are not replicated to the standby.
			if s == shard.StepSubscribed && killed.IsZero() {
				killed = f.KillPrimary(t)
			}
			return nil
		}})
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		r, err := admin.Move(ctx, l, "s2")
		if killed.IsZero() {
			t.Fatalf("the move never reached step %s: %v", shard.StepSubscribed, err)
		}
		if err != nil {
			t.Fatalf("the move interrupted by its source's failover = %v, want it to wait for the new primary and copy again", err)
		}
		t.Logf("the move survived its source's failover by itself: %d copies (move %d, %s, pause %s)", r.Copies, r.ID, r.Total.Round(time.Millisecond), r.Pause)
		if r.Copies < 2 {
			t.Errorf("the move's copy started %d times, want it restarted after the source lost its slot", r.Copies)
		}
		if n, first := w.ackedSince(killed); n > 0 {
			t.Logf("kill → first signup in logical shard %d acknowledged again %s", l, first.done.Sub(killed).Round(time.Millisecond))
		}
		if h, err := admin.Holders(ctx, l); err != nil || !slices.Equal(h, []string{"s2"}) {
			t.Fatalf("after the move, logical shard %d is served by %v (%v), want s2 alone", l, h, err)
		}
		moved := time.Now()
		testenv.Eventually(t, time.Minute, "signups to the moved logical shard acknowledged after the move", func() bool {
			n, _ := w.ackedSince(moved)
			return n >= 10
		})
		w.halt()
		refused, errs, last := w.failures()
		t.Logf("signups in logical shard %d: %d acknowledged, %d refused with 503 (last: %v)", l, w.count(), refused, last)
		for _, err := range errs {
			t.Errorf("signup in the moving logical shard: not a 503: %v", err)
		}
		acked = append(acked, w.names()...)
		mustHaveOnce(t, set, st, acked)
		mustCheck(t, admin)
		mustHaveNoReplication(t, set)
	}) {
		return
	}

	t.Run("a primary turned read-only", func(t *testing.T) {
		ctx := context.Background()
		cur := adminSt.Map() // logical shard 0 is on s2 now
		// The service's store learns the map by polling: until it has this version it still
		// sends logical shard 0 to s1, and the names picked below for s2 would go there.
		testenv.Eventually(t, time.Minute, "the service's store has the map after the move", func() bool {
			return st.Map().Version >= cur.Version
		})
		onS1 := func(l int) bool { return cur.Owner(l) == "s1" }
		var names []string // acknowledged in this phase
		signup := func(prefix string) error {
			n := nameOn(prefix, failoverLogical, onS1)
			err := st.CreateAccount(ctx, account.Account{Username: n, PasswordHash: "h", CreatedAt: time.Now()})
			if err == nil {
				names = append(names, n)
			}
			return err
		}
		for i := range 5 { // the store holds connections to s1's primary
			if err := signup(fmt.Sprintf("ro%d-", i)); err != nil {
				t.Fatalf("a signup on s1 before it turns read-only: %v", err)
			}
		}
		conn, err := pgx.Connect(ctx, set.dsn["s1"])
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.Close(ctx) }()
		readOnly := func(on bool) {
			t.Helper()
			q := `ALTER SYSTEM RESET default_transaction_read_only`
			if on {
				q = `ALTER SYSTEM SET default_transaction_read_only = on`
			}
			for _, q := range []string{`SET default_transaction_read_only = off`, q, `SELECT pg_reload_conf()`} {
				if _, err := conn.Exec(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
		}
		// The node stays up but refuses writes, as a demoted primary does: its open sessions
		// get SQLSTATE 25006 (read_only_sql_transaction).
		readOnly(true)
		var refused error
		testenv.Eventually(t, time.Minute, "a signup on s1 refused with SQLSTATE 25006", func() bool {
			err := signup("ro-")
			var pgErr *pgconn.PgError
			switch {
			case err == nil: // this session had not reloaded its configuration yet
				return false
			case errors.As(err, &pgErr) && pgErr.Code == "25006":
				refused = err
				return true
			}
			t.Fatalf("a signup on the read-only node: %v, want SQLSTATE 25006", err)
			return false
		})
		if !errors.Is(refused, account.ErrUnavailable) {
			t.Errorf("a signup refused with SQLSTATE 25006 = %v, want a 503 (account.ErrUnavailable)", refused)
		}
		// Every connection to the node was dropped: the next signup connects anew, and
		// target_session_attrs=read-write refuses the read-only node.
		err = signup("ro-")
		var pgErr *pgconn.PgError
		if !errors.Is(err, account.ErrUnavailable) || errors.As(err, &pgErr) {
			t.Errorf("the signup after a 25006 = %v, want a 503 from connecting anew (the pool dropped its connections)", err)
		}
		t.Logf("after SQLSTATE 25006, the next signup connects anew: %v", err)
		n := nameOn("ro-s2-", failoverLogical, func(l int) bool { return cur.Owner(l) == "s2" })
		if err := st.CreateAccount(ctx, account.Account{Username: n, PasswordHash: "h", CreatedAt: time.Now()}); err != nil {
			t.Errorf("a signup on s2 while s1 is read-only: %v", err)
		} else {
			names = append(names, n)
		}
		readOnly(false)
		testenv.Eventually(t, time.Minute, "signups to s1 acknowledged again once it takes writes", func() bool {
			return signup("rw-") == nil
		})
		mustHaveOnce(t, set, st, names)
	})
}

// formationSet is a set of two physical shards: s1 a database on the formation (its DSN the
// multi-host URL with target_session_attrs=read-write), s2 one on the shared cluster.
func formationSet(t *testing.T, f *testenv.Formation, logical int) *set {
	t.Helper()
	s := &set{path: filepath.Join(t.TempDir(), "shards.yaml"), logical: logical, dsn: map[string]string{
		"s1": f.CreateDB(t),
		"s2": testenv.SharedPostgres(t).CreateDB(t),
	}}
	body := fmt.Sprintf("logical_shards: %d\nshards:\n  - {name: s1, dsn: %q}\n  - {name: s2, dsn: %q}\n", logical, s.dsn["s1"], s.dsn["s2"])
	if err := os.WriteFile(s.path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

// openFailoverStore opens the set's store with the service's short deadlines
// (HELLO_DB_TIMEOUT=2s, 1s to connect to each host).
func openFailoverStore(t *testing.T, s *set, poll time.Duration, log *slog.Logger) *shard.Store {
	t.Helper()
	data, err := os.ReadFile(s.path)
	if err != nil {
		t.Fatal(err)
	}
	file, err := shard.ParseFile(data)
	if err != nil {
		t.Fatal(err)
	}
	st, err := shard.Open(context.Background(), shard.Options{File: file, Poll: poll, Log: log,
		DB: postgres.Options{Timeout: 2 * time.Second, ConnectTimeout: time.Second, MaxConns: 8}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// burst signs up accounts in the logical shards ok accepts through a store, about 100 a
// second, until halted, and records each attempt's outcome: acknowledged (with when it
// started and returned), refused with a 503 (account.ErrUnavailable: the next attempt takes a
// new name), or any other error.
type burst struct {
	mu      sync.Mutex
	acked   []signup
	refused int
	last    error // the last 503
	errs    []error
	stop    chan struct{}
	wg      sync.WaitGroup
}

type signup struct {
	name          string
	started, done time.Time
}

func startBurst(t *testing.T, st *shard.Store, prefix string, ok func(int) bool) *burst {
	b := &burst{stop: make(chan struct{})}
	b.wg.Go(func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-b.stop:
				return
			case <-tick.C:
			}
			n := nameOn(fmt.Sprintf("%s%d", prefix, i), failoverLogical, ok)
			started := time.Now()
			err := st.CreateAccount(context.Background(), account.Account{Username: n, PasswordHash: "h", CreatedAt: started})
			done := time.Now()
			b.mu.Lock()
			switch {
			case err == nil:
				b.acked = append(b.acked, signup{name: n, started: started, done: done})
			case errors.Is(err, account.ErrUnavailable):
				b.refused++
				b.last = err
			default:
				b.errs = append(b.errs, fmt.Errorf("signup of %s: %w", n, err))
			}
			b.mu.Unlock()
		}
	})
	t.Cleanup(b.halt)
	return b
}

func (b *burst) halt() {
	select {
	case <-b.stop:
	default:
		close(b.stop)
	}
	b.wg.Wait()
}

func (b *burst) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.acked)
}

func (b *burst) names() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]string, len(b.acked))
	for i, s := range b.acked {
		out[i] = s.name
	}
	return out
}

// ackedSince counts the acknowledged signups that started after at, and returns the first.
func (b *burst) ackedSince(at time.Time) (int, signup) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, first := 0, signup{}
	for _, s := range b.acked {
		if s.started.After(at) {
			if n == 0 {
				first = s
			}
			n++
		}
	}
	return n, first
}

// ackedBetween counts the signups that started after from and were acknowledged before to.
func (b *burst) ackedBetween(from, to time.Time) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, s := range b.acked {
		if s.started.After(from) && s.done.Before(to) {
			n++
		}
	}
	return n
}

func (b *burst) failures() (refused int, errs []error, last error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.refused, slices.Clone(b.errs), b.last
}

// mustHaveNoReplication fails if a move left a replication slot in a database of the set
// (it would hold WAL on the source for ever) or a subscription.
func mustHaveNoReplication(t *testing.T, s *set) {
	t.Helper()
	ctx := context.Background()
	for _, name := range []string{"s1", "s2"} {
		conn, err := pgx.Connect(ctx, s.dsn[name])
		if err != nil {
			t.Fatal(err)
		}
		var left []string
		rows, err := conn.Query(ctx, `SELECT 'slot ' || slot_name FROM pg_replication_slots WHERE database = current_database()
			UNION ALL SELECT 'subscription ' || subname FROM pg_subscription
			WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`)
		if err == nil {
			left, err = pgx.CollectRows(rows, pgx.RowTo[string])
		}
		_ = conn.Close(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(left) > 0 {
			t.Errorf("shard %s keeps replication objects after the move: %v", name, left)
		}
	}
}
