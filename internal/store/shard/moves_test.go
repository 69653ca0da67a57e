package shard_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

var errCrash = errors.New("injected crash")

// writer signs up accounts in the logical shards ok accepts through its own store (a replica
// whose map may be stale), about 200 per second, until stopped, and remembers the
// acknowledged ones.
type writer struct {
	mu    sync.Mutex
	acked []string
	stop  chan struct{}
	wg    sync.WaitGroup
}

func startWriter(t *testing.T, st *shard.Store, logical int, prefix string, ok func(int) bool) *writer {
	w := &writer{stop: make(chan struct{})}
	w.wg.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
			n := nameOn(fmt.Sprintf("%s%d", prefix, i), logical, ok)
			err := st.CreateAccount(context.Background(), account.Account{Username: n, PasswordHash: "h", CreatedAt: time.Now()})
			switch {
			case err == nil:
				w.mu.Lock()
				w.acked = append(w.acked, n)
				w.mu.Unlock()
			case errors.Is(err, account.ErrUnavailable):
				// 503: not acknowledged; the next attempt uses a new name.
			default:
				t.Errorf("signup of %s: %v", n, err)
				return
			}
		}
	})
	t.Cleanup(w.halt)
	return w
}

func (w *writer) halt() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	w.wg.Wait()
}

func (w *writer) names() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.acked...)
}

// mustHaveOnce fails unless every name is stored exactly once in the set and readable.
func mustHaveOnce(t *testing.T, set *set, st *shard.Store, names []string) {
	t.Helper()
	var dsns []string
	for _, d := range set.dsn {
		dsns = append(dsns, d)
	}
	counts := usernames(t, dsns...)
	bad := 0
	for _, n := range names {
		_, err := st.GetAccount(context.Background(), n)
		if counts[n] != 1 || err != nil {
			bad++
			if bad <= 5 {
				t.Errorf("acknowledged %s: stored %d times, GetAccount: %v", n, counts[n], err)
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d acknowledged accounts are lost or doubled", bad, len(names))
	}
}

// Reproduction 1: a single database becoming shards with logical_shards other than the 1024
// its rows were placed with is refused, not half-served (97 of 200 "not found", or a panic
// with 512); a row stored in the wrong logical shard is found by check and stops a move.
func TestLogicalShardsMustMatchTheRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pg := testenv.SharedPostgres(t)
	single := func() (string, *postgres.Store, []string) {
		dsn := pg.CreateDB(t)
		st, err := postgres.OpenStore(ctx, postgres.Options{DSN: dsn})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		if _, err := st.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		var names []string
		for i := range 200 {
			n := fmt.Sprintf("placed-%d", i)
			names = append(names, n)
			if err := st.CreateAccount(ctx, account.Account{Username: n, PasswordHash: "h", CreatedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
		}
		return dsn, st, names
	}
	file := func(logical int, dsn string) map[string]string {
		path := filepath.Join(t.TempDir(), "shards.yaml")
		if err := os.WriteFile(path, []byte(fmt.Sprintf("logical_shards: %d\nshards:\n  - {name: s1, dsn: %q}\n", logical, dsn)), 0o600); err != nil {
			t.Fatal(err)
		}
		return map[string]string{"HELLO_DB": "shards:" + path}
	}
	for _, logical := range []int{512, 1000, 2048} {
		dsn, st, names := single()
		out, err := hello(t, file(logical, dsn), "migrate")
		if err == nil || !strings.Contains(err.Error(), "placed with 1024 logical shards") {
			t.Fatalf("logical_shards: %d over a single database: migrate = %v\n%s", logical, err, out)
		}
		// Nothing was claimed: the database still serves alone, every account.
		if _, err := st.Migrate(ctx); err != nil {
			t.Fatalf("after the refused migrate, the single database: %v", err)
		}
		for _, n := range names[:10] {
			if _, err := st.GetAccount(ctx, n); err != nil {
				t.Fatalf("GetAccount(%s) after the refused migrate: %v", n, err)
			}
		}
	}

	dsn1, _, names := single()
	dsn2 := pg.CreateDB(t)
	env := file(1024, dsn1)
	for _, args := range [][]string{{"migrate"}, {"shards", "add", "--name", "s2", "--dsn", dsn2}, {"shards", "rebalance"}, {"shards", "check"}} {
		if out, err := hello(t, env, args...); err != nil {
			t.Fatalf("hello %v: %v\n%s", args, err, out)
		}
	}
	set := &set{path: strings.TrimPrefix(env["HELLO_DB"], "shards:"), logical: 1024, dsn: map[string]string{"s1": dsn1, "s2": dsn2}}
	st := set.open(t, -1)
	mustHaveOnce(t, set, st, names)
	if err := st.CreateAccount(ctx, account.Account{Username: names[0], PasswordHash: "h", CreatedAt: time.Now()}); !errors.Is(err, account.ErrConflict) {
		t.Fatalf("signing up %s a second time = %v, want a conflict", names[0], err)
	}

	// A row whose stored logical shard is not its hash: check names it, a move refuses.
	conn, err := pgx.Connect(ctx, dsn1)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	admin := shard.NewAdmin(st, shard.AdminOptions{})
	m := st.Map()
	l := -1
	for x := range 1024 {
		if m.Owner(x) == "s1" {
			l = x
			break
		}
	}
	stray := nameOn("stray", 1024, func(x int) bool { return x != l })
	if _, err := conn.Exec(ctx, `INSERT INTO accounts (username, logical_shard, password_hash, created_at) VALUES ($1, $2, 'h', now())`, stray, l); err != nil {
		t.Fatal(err)
	}
	out, err := hello(t, env, "shards", "check")
	if err == nil || !strings.Contains(out, stray) || !strings.Contains(out, fmt.Sprintf("stored in logical shard %d, its hash gives %d", l, shardkey.Logical(stray, 1024))) {
		t.Fatalf("shards check with a misplaced row = %v\n%s", err, out)
	}
	if _, err := admin.Move(ctx, l, "s2"); err == nil || !strings.Contains(err.Error(), "not in their hashed logical shard") {
		t.Fatalf("moving a logical shard with a misplaced row = %v", err)
	}
	if h, _ := admin.Holders(ctx, l); len(h) != 1 || h[0] != "s1" {
		t.Fatalf("after the refused move, logical shard %d is served by %v", l, h)
	}
}

// Reproduction 2: a forwarding pointer of an old move (read by a replica before the logical
// shard moved back, and then a third move started an empty copy on the same target) cannot
// promote that copy: promotion needs the pointer's own move id.
func TestAnOldPointerNeverPromotesAnotherMovesCopy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	set := newSet(t, 8, shared(2)...)
	st := set.open(t, -1)
	admin := shard.NewAdmin(st, shard.AdminOptions{})
	const l = 0 // s1's in the round-robin map
	names := []string{nameOn("kept", 8, func(x int) bool { return x == l })}
	if err := st.CreateAccount(ctx, account.Account{Username: names[0], PasswordHash: "h", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	first, err := admin.Move(ctx, l, "s2")
	if err != nil {
		t.Fatal(err)
	}
	s1, _ := st.DB(ctx, "s1")
	if o, _ := s1.Ownership(ctx, l); o.State != postgres.Moved || o.Peer != "s2" || o.MoveID != first.ID {
		t.Fatalf("s1 after the first move: %+v", o)
	}
	oldPointer := first.ID // what the slow replica read on s1
	if _, err := admin.Move(ctx, l, "s1"); err != nil {
		t.Fatal(err)
	}
	crashing := shard.NewAdmin(st, shard.AdminOptions{Step: func(_ context.Context, s shard.Step, _ []int) error {
		if s == shard.StepPublished {
			return errCrash // the copy on s2 is started (incoming) but holds nothing yet
		}
		return nil
	}})
	s2, _ := st.DB(ctx, "s2")
	if _, err := crashing.Move(ctx, l, "s2"); !errors.Is(err, errCrash) {
		t.Fatalf("crashing move = %v", err)
	}
	// Crash after the subscription is created: an incoming copy of the third move on s2.
	crashing = shard.NewAdmin(st, shard.AdminOptions{Step: func(_ context.Context, s shard.Step, _ []int) error {
		if s == shard.StepSubscribed {
			return errCrash
		}
		return nil
	}})
	if _, err := crashing.Move(ctx, l, "s2"); !errors.Is(err, errCrash) {
		t.Fatalf("crashing move = %v", err)
	}
	o, _ := s2.Ownership(ctx, l)
	if o.State != postgres.Incoming || o.Peer != "s1" || o.MoveID == oldPointer {
		t.Fatalf("s2 after the crashed third move: %+v", o)
	}
	if ok, err := s2.Promote(ctx, l, oldPointer); err != nil || ok {
		t.Fatalf("the old pointer (move %d) promoted the copy of move %d: %v, %v", oldPointer, o.MoveID, ok, err)
	}
	if h, _ := admin.Holders(ctx, l); len(h) != 1 || h[0] != "s1" {
		t.Fatalf("logical shard %d is served by %v, want s1 alone", l, h)
	}
	// The crashed move's subscription may still be copying into s2's incoming copy (not
	// served): the rows are counted once the operator's re-run has cleaned it up.
	if _, err := st.GetAccount(ctx, names[0]); err != nil {
		t.Fatalf("the account after the crashed move: %v", err)
	}
	if _, err := admin.Move(ctx, l, "s2"); err != nil { // the operator's re-run
		t.Fatal(err)
	}
	mustHaveOnce(t, set, st, names)
	mustCheck(t, admin)
}

// A crash at every step boundary of a move, with writes going on: before the switch the
// source keeps serving; after it, the service's next request (following the pointer of that
// very move) or the re-run finishes the move. Nothing acknowledged is lost or doubled.
func TestMoveSurvivesACrashAtEveryStep(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	set := newSet(t, 8, shared(3)...)
	st := set.open(t, -1)
	admin := shard.NewAdmin(st, shard.AdminOptions{})
	const l = 0
	w := startWriter(t, set.open(t, -1), 8, "crash", func(x int) bool { return x == l })
	to := []string{"s2", "s3", "s1"}
	for i, at := range []shard.Step{shard.StepPublished, shard.StepSubscribed, shard.StepVerified, shard.StepPaused,
		shard.StepSwitched, shard.StepTakenOver, shard.StepMapped} {
		crashing := shard.NewAdmin(st, shard.AdminOptions{Step: func(_ context.Context, s shard.Step, _ []int) error {
			if s == at {
				return errCrash
			}
			return nil
		}})
		target := to[i%3]
		t0 := time.Now()
		if _, err := crashing.Move(ctx, l, target); !errors.Is(err, errCrash) {
			t.Fatalf("crash at %s: move = %v", at, err)
		}
		holders, err := admin.Holders(ctx, l)
		if err != nil {
			t.Fatal(err)
		}
		if len(holders) > 1 {
			t.Fatalf("crash at %s: logical shard %d has owners %v", at, l, holders)
		}
		// The service keeps serving: a read after the switch follows the pointer and
		// completes the take-over of that move.
		fresh := set.open(t, -1)
		for _, n := range w.names() {
			if _, err := fresh.GetAccount(ctx, n); err != nil {
				t.Fatalf("crash at %s: GetAccount(%s): %v", at, n, err)
			}
			break
		}
		r, err := admin.Move(ctx, l, target)
		if err != nil {
			t.Fatalf("re-running the move crashed at %s: %v", at, err)
		}
		t.Logf("crash at %-10s re-run: %s (took %s, move %s)", at, r.Note, time.Since(t0), r.Total)
		if h, _ := admin.Holders(ctx, l); len(h) != 1 || h[0] != target {
			t.Fatalf("after the re-run of the move crashed at %s, logical shard %d is served by %v, want %s", at, l, h, target)
		}
	}
	w.halt()
	if len(w.names()) == 0 {
		t.Fatal("no signup was acknowledged during the moves")
	}
	mustHaveOnce(t, set, st, w.names())
	mustCheck(t, admin)
}

// Reproduction 4: concurrent first starts with shard files that list the same databases in
// different orders (different round-robin maps) leave exactly one owner per logical shard.
func TestConcurrentFirstStartsClaimOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pg := testenv.SharedPostgres(t)
	for run := range 5 {
		dsns := []string{pg.CreateDB(t), pg.CreateDB(t), pg.CreateDB(t)}
		files := make([]*shard.File, 2)
		for i, order := range [][]int{{0, 1, 2}, {2, 0, 1}} {
			var b strings.Builder
			b.WriteString("logical_shards: 64\nshards:\n")
			for _, j := range order {
				fmt.Fprintf(&b, "  - {name: s%d, dsn: %q}\n", j+1, dsns[j])
			}
			f, err := shard.ParseFile([]byte(b.String()))
			if err != nil {
				t.Fatal(err)
			}
			files[i] = f
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		stores := make([]*shard.Store, 2)
		for i := range 2 {
			st, err := shard.Open(ctx, shard.Options{File: files[i], Poll: -1, DB: postgres.Options{MaxConns: 4}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			stores[i] = st
		}
		for i := range 2 {
			wg.Go(func() { _, errs[i] = stores[i].MigrateAll(ctx) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Logf("run %d: start %d: %v", run, i, err)
			}
		}
		if errs[0] != nil && errs[1] != nil {
			t.Fatalf("run %d: both first starts failed", run)
		}
		ok := stores[0]
		if errs[0] != nil {
			ok = stores[1]
		}
		mustCheck(t, shard.NewAdmin(ok, shard.AdminOptions{}))
	}
}

// The write pause is a real, fair write block on every write path, and the request path
// writes nothing to the ownership rows (no per-statement row lock, so no MultiXact).
func TestThePauseBlocksEveryWriteAndNoWriterLocksRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	set := newSet(t, 4, shared(1)...)
	st := set.open(t, -1)
	const l = 0
	alice := nameOn("alice", 4, func(x int) bool { return x == l })
	if err := st.CreateAccount(ctx, account.Account{Username: alice, PasswordHash: "h", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	tok := []byte("0123456789abcdef0123456789abcdef")
	if err := st.CreateSession(ctx, account.Session{Username: alice, TokenHash: tok, ExpiresAt: time.Now().Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	s1, _ := st.DB(ctx, "s1")
	conn, err := pgx.Connect(ctx, set.dsn["s1"])
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	var xmax string
	if err := conn.QueryRow(ctx, `SELECT xmax::text FROM shard_owned WHERE logical_shard = $1`, l).Scan(&xmax); err != nil || xmax != "0" {
		t.Fatalf("after writes, the ownership row's xmax = %s (%v): a writer locked it", xmax, err)
	}

	// Eight writers keep writing to l; the pause still gets in within its lock timeout.
	var stop atomic.Bool
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := 0; !stop.Load(); j++ {
				n := nameOn(fmt.Sprintf("busy%d-%d", i, j), 4, func(x int) bool { return x == l })
				_ = st.CreateAccount(ctx, account.Account{Username: n, PasswordHash: "h", CreatedAt: time.Now()})
			}
		})
	}
	pause, err := s1.Pause(ctx, 1_000_000, []int{l}, 500*time.Millisecond)
	stop.Store(true)
	if err != nil {
		wg.Wait()
		t.Fatalf("the pause did not get past 8 busy writers within its lock timeout: %v", err)
	}
	wg.Wait() // every writer was either done or is queued behind the pause... and returned

	// Under the pause every write path waits; reads do not.
	bob := nameOn("bob", 4, func(x int) bool { return x == l })
	writes := map[string]func(context.Context) error{
		"signup": func(ctx context.Context) error {
			return st.CreateAccount(ctx, account.Account{Username: bob, PasswordHash: "h", CreatedAt: time.Now()})
		},
		"session": func(ctx context.Context) error {
			return st.CreateSession(ctx, account.Session{Username: alice, TokenHash: []byte("x"), ExpiresAt: time.Now().Add(time.Hour)})
		},
		"logout":        func(ctx context.Context) error { return st.DeleteSession(ctx, alice, tok) },
		"hash upgrade":  func(ctx context.Context) error { return st.UpdatePasswordHash(ctx, alice, "h2") },
		"device":        func(ctx context.Context) error { return st.AddDevice(ctx, alice, "d1") },
		"forget device": func(ctx context.Context) error { return st.ForgetDevices(ctx, alice, "") },
	}
	for name, write := range writes {
		wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		err := write(wctx)
		cancel()
		if !errors.Is(err, account.ErrUnavailable) {
			t.Errorf("%s under the pause = %v, want it held until its deadline (503)", name, err)
		}
	}
	if n, err := s1.DeleteExpiredSessions(ctx, time.Now()); err != nil || n != 0 {
		t.Errorf("the purge under the pause deleted %d sessions (%v), want it to skip the paused logical shard", n, err)
	}
	if _, err := st.GetAccount(ctx, alice); err != nil {
		t.Errorf("a read under the pause: %v", err)
	}
	pause.Release()
	for name, write := range writes {
		if err := write(ctx); err != nil {
			t.Errorf("%s after the pause: %v", name, err)
		}
	}
	if err := conn.QueryRow(ctx, `SELECT xmax::text FROM shard_owned WHERE logical_shard = $1`, l).Scan(&xmax); err != nil || xmax != "0" {
		t.Fatalf("after writes, the ownership row's xmax = %s (%v): a writer locked it", xmax, err)
	}
}

// stepGate stops a mover at one step boundary until released.
type stepGate struct {
	at       shard.Step
	reached  chan struct{}
	released chan struct{}
	once     sync.Once
}

func newGate(at shard.Step) *stepGate {
	return &stepGate{at: at, reached: make(chan struct{}), released: make(chan struct{})}
}

func (g *stepGate) hook(_ context.Context, s shard.Step, _ []int) error {
	if s == g.at {
		g.once.Do(func() { close(g.reached) })
		<-g.released
	}
	return nil
}

// lockWaiter reports whether a backend of the set waits for a lock (a mover blocked by
// another's pause).
func lockWaiter(t *testing.T, set *set) bool {
	for _, dsn := range set.dsn {
		conn, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		err = conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n)
		_ = conn.Close(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return true
		}
	}
	return false
}

// Reproduction 3 and every interleaving of two movers' step boundaries: mover A stalls at a
// step past its lease (its session died, its host froze), mover B takes the lease and moves
// the same logical shard elsewhere, stopping at its own step; then A resumes without knowing
// (no lease checks: only the databases' fencing can stop it), then B. A changes nothing
// after B started; after the operator's re-run there is one owner, the map agrees, and every
// acknowledged signup is stored once.
func TestTwoMoversInEveryInterleaving(t *testing.T) {
	steps := []shard.Step{shard.StepSubscribed, shard.StepPaused, shard.StepSwitched, shard.StepMapped}
	for _, x := range steps {
		for _, y := range steps {
			t.Run(fmt.Sprintf("A@%s/B@%s", x, y), func(t *testing.T) {
				t.Parallel()
				twoMovers(t, x, y)
			})
		}
	}
}

func twoMovers(t *testing.T, x, y shard.Step) {
	ctx := context.Background()
	// A cluster of its own: creating a logical slot waits for every transaction of the cluster
	// with an id, and a stalled mover's pause is one; other tests must not wait for it.
	pg := testenv.NewPostgres(t)
	set := newSet(t, 8, pg, pg, pg)
	st := set.open(t, -1)
	const l = 0 // on s1
	w := startWriter(t, set.open(t, -1), 8, "mv", func(i int) bool { return i == l })

	ga := newGate(x)
	a := shard.NewAdmin(st, shard.StaleLease(shard.AdminOptions{LeaseTTL: 500 * time.Millisecond, Step: ga.hook}))
	var aErr error
	aDone := make(chan struct{})
	go func() { defer close(aDone); _, aErr = a.Move(ctx, l, "s2") }()
	select {
	case <-ga.reached:
	case <-aDone:
		t.Fatalf("mover A ended before %s: %v", x, aErr)
	}

	// B is another process: its own pools. It waits for A's lease to expire.
	gb := newGate(y)
	b := shard.NewAdmin(set.open(t, -1), shard.AdminOptions{Step: gb.hook})
	var bErr error
	bDone := make(chan struct{})
	go func() {
		defer close(bDone)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			_, bErr = b.Move(ctx, l, "s3")
			if !errors.Is(bErr, postgres.ErrLeaseHeld) {
				return
			}
			<-tick.C
		}
	}()
	testenv.Eventually(t, 30*time.Second, "mover B at its step, done, or waiting for A's pause", func() bool {
		select {
		case <-gb.reached:
			return true
		case <-bDone:
			return true
		default:
			return lockWaiter(t, set)
		}
	})
	close(ga.released)
	<-aDone
	close(gb.released)
	<-bDone
	t.Logf("A (stopped at %s): %v; B (stopped at %s): %v", x, aErr, y, bErr)
	switch x {
	case shard.StepMapped:
		// A had published before B began: only its best-effort clean-up was left.
	default:
		if !errors.Is(aErr, postgres.ErrFenced) {
			t.Fatalf("mover A resumed after B took over and ended with %v, want it fenced", aErr)
		}
	}

	// The operator's re-run: finish whatever is unfinished where the logical shard is.
	admin := shard.NewAdmin(st, shard.AdminOptions{})
	holders, err := admin.Holders(ctx, l)
	if err != nil {
		t.Fatal(err)
	}
	if len(holders) > 1 {
		t.Fatalf("logical shard %d has owners %v", l, holders)
	}
	target := ""
	if len(holders) == 1 {
		target = holders[0]
	} else {
		m, _, _ := admin.Status(ctx)
		src, _ := st.DB(ctx, m.Owner(l))
		o, _ := src.Ownership(ctx, l)
		target = o.Peer
	}
	if _, err := admin.Move(ctx, l, target); err != nil {
		t.Fatalf("re-running the move to %s: %v", target, err)
	}
	w.halt()
	mustHaveOnce(t, set, st, w.names())
	mustCheck(t, admin)
}

// A verification scan longer than the lease's TTL keeps the lease: no second mover starts
// while it runs, and the first can go on when it ends.
func TestALongVerificationKeepsTheLease(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	set := newSet(t, 8, shared(2)...)
	st := set.open(t, -1)
	const ttl = 1500 * time.Millisecond
	first := shard.NewAdmin(st, shard.AdminOptions{Holder: "first", LeaseTTL: ttl})
	second := shard.NewAdmin(set.open(t, -1), shard.AdminOptions{Holder: "second"}) // its own move renews at its default TTL
	err := shard.DuringLease(ctx, first, func(ctx context.Context) error {
		scan := time.After(3 * ttl) // the scan outlasts the TTL
		for {
			select {
			case <-scan:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			default:
			}
			if _, err := second.Move(ctx, 0, "s2"); !errors.Is(err, postgres.ErrLeaseHeld) {
				return fmt.Errorf("a second mover during the first's scan = %w, want the lease held", err)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := second.Move(ctx, 0, "s2"); err != nil {
		t.Fatalf("a second mover after the first released its lease = %v", err)
	}
	mustCheck(t, second)
}
