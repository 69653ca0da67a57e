// Command shardmove measures the write pause of moving one logical shard (shard.Admin.Move,
// on PostgreSQL logical replication) against the number of accounts it holds, under a steady
// open-loop signup load to that logical shard.
//
// It starts two throwaway clusters (internal/testenv.StartPostgres, wal_level=logical, on
// loopback; -clusters 1 puts both databases in one cluster), and for each size: creates a
// sharded set of two physical shards (s1, s2; logical_shards 4, round-robin: logical shard 0 on
// s1), bulk-loads that many accounts and one session each into logical shard 0 with COPY, runs
// -rate signups/s into logical shard 0 through a shard.Store (as a replica of the service
// would: its own pools, polling the map) and moves logical shard 0 -moves times back and forth
// between s1 and s2 through another shard.Store (as `hello shards move` would). It reports the
// pause (MoveResult.Pause) and the writers' latency, and where each move's time went (from the
// shard.AdminOptions.Step hooks), as markdown tables. The clusters are removed at the end.
//
//	go run ./cmd/shardmove                                # 10k, 100k, 1M accounts; 200 writes/s; 5 moves each
//	go run ./cmd/shardmove -sizes 10000,100000 -moves 3
package main

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hellosvc/hello/internal/account"
	"github.com/hellosvc/hello/internal/store/postgres"
	"github.com/hellosvc/hello/internal/store/shard"
	"github.com/hellosvc/hello/internal/store/shardkey"
	"github.com/hellosvc/hello/internal/testenv"
)

const (
	logicalShards = 4 // a quarter of candidate names fall in the moving logical shard
	moving        = 0 // round-robin over s1, s2: logical shard 0 starts on s1
	batch         = 50000
	// The hash every loaded and written account gets (the store's cost, not argon2id's).
	passwordHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
)

type options struct {
	sizes    []int
	rate     int
	moves    int
	clusters int
	conns    int
	timeout  time.Duration
	settle   time.Duration
	slow     time.Duration
	trace    string
	lease    time.Duration
	pause    time.Duration
}

func main() {
	sizes := flag.String("sizes", "10000,100000,1000000", "accounts (each with one session) in the moving logical shard, comma-separated")
	rate := flag.Int("rate", 200, "signups per second into the moving logical shard (open loop: each write starts on its tick, latency counts from the tick)")
	moves := flag.Int("moves", 5, "moves per size, back and forth between s1 and s2")
	clusters := flag.Int("clusters", 2, "PostgreSQL clusters: 2 (s1 and s2 on separate servers) or 1 (two databases of one)")
	conns := flag.Int("conns", 10, "pool size per database of the writers' store (the default is HELLO_DB_MAX_CONNS's)")
	timeout := flag.Duration("timeout", 2*time.Second, "deadline of one write, retries included (the default is HELLO_DB_TIMEOUT's)")
	settle := flag.Duration("settle", 2*time.Second, "load before the first move and between moves")
	slow := flag.Duration("slow", 200*time.Millisecond, "writes slower than this are listed by the step of the move they were due in")
	lease := flag.Duration("lease", 30*time.Second, "the mover's lease TTL (shard.AdminOptions.LeaseTTL; the default is hello shards' own)")
	pauseTimeout := flag.Duration("pause-timeout", 5*time.Second, "longest write pause before a move is abandoned (shard.AdminOptions.PauseTimeout; the default is hello shards' own)")
	trace := flag.String("trace", "", "also write every write and every step of every move to this CSV file (seconds since the size's first write)")
	flag.Parse()

	o := options{trace: *trace, lease: *lease, pause: *pauseTimeout, rate: *rate, moves: *moves, clusters: *clusters, conns: *conns, timeout: *timeout, settle: *settle, slow: *slow}
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "-sizes: %q is not a positive number\n", s)
			os.Exit(2)
		}
		o.sizes = append(o.sizes, n)
	}
	if o.rate < 1 || o.moves < 1 || (o.clusters != 1 && o.clusters != 2) {
		fmt.Fprintln(os.Stderr, "-rate and -moves must be positive, -clusters 1 or 2")
		os.Exit(2)
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o)
	stop()
	if err != nil {
		slog.Error("shardmove", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	var pgs []*testenv.Postgres
	defer func() {
		for _, p := range pgs {
			p.Remove()
		}
	}()
	for range o.clusters {
		start := time.Now()
		p, err := testenv.StartPostgres()
		if err != nil {
			return err
		}
		pgs = append(pgs, p)
		slog.Info("cluster started", "port", p.Port, "took", time.Since(start).Round(time.Millisecond))
	}
	home := []*testenv.Postgres{pgs[0], pgs[len(pgs)-1]} // s1's and s2's clusters

	var results []result
	var failed error
	for _, n := range o.sizes {
		r, err := measure(ctx, o, home, n)
		if err != nil {
			failed = fmt.Errorf("%d accounts: %w", n, err)
			break
		}
		results = append(results, r)
	}
	if len(results) == 0 {
		return failed
	}
	report(os.Stdout, o, results) // the sizes measured so far
	if failed != nil {
		return failed
	}
	if o.trace != "" {
		if err := writeTrace(o.trace, results); err != nil {
			return err
		}
	}
	for _, r := range results {
		if r.lost > 0 {
			return fmt.Errorf("LOST WRITES: %d acknowledged writes to %d accounts are missing from the final owner", r.lost, r.accounts)
		}
	}
	return nil
}

// result is one size's measurements.
type result struct {
	accounts int
	load     time.Duration
	moves    []move
	writes   []write
	lost     int // acknowledged writes missing from the final owner
	extra    int // failed writes present anyway (their commit raced the deadline)
}

type move struct {
	res   shard.MoveResult
	err   error
	start time.Time
	steps map[shard.Step]time.Time
}

type write struct {
	name  string
	sched time.Time
	took  time.Duration // from the tick to the answer
	err   error
}

func measure(ctx context.Context, o options, home []*testenv.Postgres, n int) (r result, err error) {
	r.accounts = n
	names := []string{"s1", "s2"}
	dsn := map[string]string{}
	for i, name := range names {
		db := fmt.Sprintf("%s_n%d", name, n)
		if err := home[i].Exec(ctx, "CREATE DATABASE "+db); err != nil {
			return r, fmt.Errorf("creating database: %w", err)
		}
		dsn[name] = home[i].DSN(db)
		defer func() {
			if err := dropDB(home[i], db); err != nil {
				slog.Warn("dropping database", "db", db, "err", err)
			}
		}()
	}
	var file strings.Builder
	fmt.Fprintf(&file, "logical_shards: %d\nshards:\n", logicalShards)
	for _, name := range names {
		fmt.Fprintf(&file, "  - {name: %s, dsn: %q}\n", name, dsn[name])
	}
	f, err := shard.ParseFile([]byte(file.String()))
	if err != nil {
		return r, err
	}
	log := slog.Default().With("accounts", n)
	// The mover's store, as `hello shards` opens it: no statement timeout, no polling.
	adminStore, err := shard.Open(ctx, shard.Options{File: f, Poll: -1, Log: log,
		DB: postgres.Options{MaxConns: 10, Timeout: o.timeout}})
	if err != nil {
		return r, err
	}
	defer func() { _ = adminStore.Close() }()
	if _, err := adminStore.MigrateAll(ctx); err != nil {
		return r, err
	}
	if owner := adminStore.Map().Owner(moving); owner != "s1" {
		return r, fmt.Errorf("logical shard %d starts on %s, not s1", moving, owner)
	}

	start := time.Now()
	if err := load(ctx, dsn["s1"], n); err != nil {
		return r, fmt.Errorf("loading: %w", err)
	}
	r.load = time.Since(start)
	log.Info("loaded", "took", r.load.Round(time.Millisecond))

	// The writers' store, as a replica of the service opens it.
	writerStore, err := shard.Open(ctx, shard.Options{File: f, Poll: time.Second, Log: log,
		DB: postgres.Options{MaxConns: o.conns, Timeout: o.timeout}})
	if err != nil {
		return r, err
	}
	defer func() { _ = writerStore.Close() }()

	var cur *move
	adm := shard.NewAdmin(adminStore, shard.AdminOptions{Holder: "shardmove", LeaseTTL: o.lease, PauseTimeout: o.pause, Step: func(_ context.Context, s shard.Step, _ []int) error {
		cur.steps[s] = time.Now() // the mover's goroutine only
		return nil
	}})

	w := startWriter(writerStore, o.rate, fmt.Sprintf("w%d-", n))
	stopped := false
	stopWriter := func() {
		if !stopped {
			stopped = true
			r.writes = w.stop()
		}
	}
	defer stopWriter()
	sleep(ctx, o.settle)
	for i := range o.moves {
		to := "s2"
		if adminStore.Map().Owner(moving) == "s2" {
			to = "s1"
		}
		cur = &move{start: time.Now(), steps: map[shard.Step]time.Time{}}
		res, err := adm.Move(ctx, moving, to)
		cur.res, cur.err = res, err
		if err != nil {
			cur.res.Total = time.Since(cur.start)
			if v, ok := cur.steps[shard.StepVerified]; ok && cur.steps[shard.StepSwitched].IsZero() {
				cur.res.Pause = time.Since(v) // writers were held (up to PauseTimeout) until the move gave up
			}
		}
		r.moves = append(r.moves, *cur)
		if err != nil {
			log.Warn("move failed", "n", i+1, "to", to, "after", cur.res.Total.Round(time.Millisecond), "err", err)
			if ctx.Err() != nil {
				return r, ctx.Err()
			}
			sleep(ctx, o.settle)
			continue
		}
		log.Info("moved", "n", i+1, "to", res.To, "total", res.Total.Round(time.Millisecond), "pause", res.Pause.Round(time.Microsecond),
			"accounts", res.Accounts, "sessions", res.Sessions, "copies", res.Copies,
			"copy+verify", since(cur.steps, shard.StepSubscribed, shard.StepVerified).Round(time.Millisecond),
			"verified→paused", since(cur.steps, shard.StepVerified, shard.StepPaused).Round(time.Microsecond),
			"paused→switched", since(cur.steps, shard.StepPaused, shard.StepSwitched).Round(time.Microsecond))
		if res.Accounts < int64(n) || res.Sessions != int64(n) {
			return r, fmt.Errorf("move %d: the target holds %d accounts and %d sessions, want at least %d and %d", i+1, res.Accounts, res.Sessions, n, n)
		}
		sleep(ctx, o.settle)
	}
	stopWriter()

	// Every acknowledged write must be on the logical shard's final owner.
	owner := adminStore.Map().Owner(moving)
	present, err := presentNames(ctx, dsn[owner], fmt.Sprintf("w%d-", n))
	if err != nil {
		return r, err
	}
	for _, wr := range r.writes {
		switch {
		case wr.err == nil && !present[wr.name]:
			r.lost++
		case wr.err != nil && present[wr.name]:
			r.extra++
		}
	}
	return r, nil
}

// dropDB drops database db of cluster p with what an abandoned move may have left in it: its
// subscriptions (detached from their slots first) and the replication slots on it.
func dropDB(p *testenv.Postgres, db string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if conn, err := pgx.Connect(ctx, p.DSN(db)); err == nil {
		rows, err := conn.Query(ctx, `SELECT subname FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`)
		if err == nil {
			subs, _ := pgx.CollectRows(rows, pgx.RowTo[string])
			for _, sub := range subs {
				id := pgx.Identifier{sub}.Sanitize()
				for _, q := range []string{"ALTER SUBSCRIPTION " + id + " DISABLE", "ALTER SUBSCRIPTION " + id + " SET (slot_name = NONE)", "DROP SUBSCRIPTION " + id} {
					if _, err := conn.Exec(ctx, q); err != nil {
						slog.Warn("dropping a subscription", "db", db, "sub", sub, "err", err)
					}
				}
			}
		}
		_ = conn.Close(ctx)
	}
	for {
		conn, err := pgx.Connect(ctx, p.DSN("postgres"))
		if err != nil {
			return err
		}
		var active int
		err = conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(active_pid)) FROM pg_replication_slots WHERE database = $1 AND active`, db).Scan(&active)
		if err == nil && active == 0 {
			_, err = conn.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1`, db)
			if err == nil {
				_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db}.Sanitize()+" WITH (FORCE)")
			}
		}
		_ = conn.Close(ctx)
		if err == nil && active == 0 {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// load COPYs n accounts of the moving logical shard, and a session each, into the database at
// dsn (its owner), batch by batch, then vacuums and analyses the tables as an established
// database would be.
func load(ctx context.Context, dsn string, n int) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	created := time.Now().UTC().Truncate(time.Microsecond)
	expires := created.Add(24 * time.Hour)
	names := make([]string, 0, batch)
	next := 0
	for done := 0; done < n; done += len(names) {
		names = names[:0]
		for len(names) < min(batch, n-done) {
			name := fmt.Sprintf("user-%d", next)
			next++
			if shardkey.Logical(name, logicalShards) == moving {
				names = append(names, name)
			}
		}
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{"accounts"}, []string{"username", "logical_shard", "password_hash", "created_at"},
			pgx.CopyFromSlice(len(names), func(i int) ([]any, error) {
				return []any{names[i], moving, passwordHash, created}, nil
			})); err != nil {
			return err
		}
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{"sessions"}, []string{"username", "token_hash", "logical_shard", "expires_at"},
			pgx.CopyFromSlice(len(names), func(i int) ([]any, error) {
				h := sha256.Sum256([]byte(names[i]))
				return []any{names[i], h[:], moving, expires}, nil
			})); err != nil {
			return err
		}
	}
	_, err = conn.Exec(ctx, "VACUUM ANALYZE accounts, sessions")
	return err
}

func presentNames(ctx context.Context, dsn, prefix string) (map[string]bool, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	rows, err := conn.Query(ctx, `SELECT username FROM accounts WHERE logical_shard = $1 AND starts_with(username, $2)`, moving, prefix)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	var u string
	_, err = pgx.ForEachRow(rows, []any{&u}, func() error { out[u] = true; return nil })
	return out, err
}

// writer is the open-loop load: write k is due at start + k/rate and starts then in its own
// goroutine, however many are still waiting, so a pause shows in the latencies and never slows
// the offered load.
type writer struct {
	done chan struct{}
	quit chan struct{}
	mu   sync.Mutex
	out  []write
	wg   sync.WaitGroup
}

func startWriter(st *shard.Store, rate int, prefix string) *writer {
	w := &writer{done: make(chan struct{}), quit: make(chan struct{})}
	go func() {
		defer close(w.done)
		start := time.Now()
		every := time.Second / time.Duration(rate)
		cand := 0
		for k := 0; ; k++ {
			due := start.Add(time.Duration(k) * every)
			if d := time.Until(due); d > 0 {
				select {
				case <-w.quit:
					return
				case <-time.After(d):
				}
			} else {
				select {
				case <-w.quit:
					return
				default:
				}
			}
			var name string
			for {
				name = fmt.Sprintf("%s%d", prefix, cand)
				cand++
				if shardkey.Logical(name, logicalShards) == moving {
					break
				}
			}
			w.wg.Go(func() {
				err := st.CreateAccount(context.Background(), account.Account{Username: name, PasswordHash: passwordHash, CreatedAt: time.Now()})
				took := time.Since(due)
				w.mu.Lock()
				w.out = append(w.out, write{name: name, sched: due, took: took, err: err})
				w.mu.Unlock()
			})
		}
	}()
	return w
}

// stop ends the load and returns every write, once all have answered.
func (w *writer) stop() []write {
	close(w.quit)
	<-w.done
	w.wg.Wait()
	return w.out
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// since is the time from step a to step b of a move (0 when either is missing).
func since(steps map[shard.Step]time.Time, a, b shard.Step) time.Duration {
	ta, okA := steps[a]
	tb, okB := steps[b]
	if !okA || !okB {
		return 0
	}
	return tb.Sub(ta)
}

// pct is the nearest-rank percentile p (0–100) of ds.
func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(ds))
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func ms(d time.Duration) string {
	switch {
	case d == 0:
		return "–"
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= 100*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000)
	default:
		return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
	}
}

func count(n int) string {
	switch {
	case n >= 1000000 && n%1000000 == 0:
		return fmt.Sprintf("%dM", n/1000000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return strconv.Itoa(n)
}

func report(out *os.File, o options, results []result) {
	where := "two clusters (s1 and s2 on separate servers)"
	if o.clusters == 1 {
		where = "two databases of one cluster"
	}
	fmt.Fprintf(out, "\nlogical shard %d of %d moved back and forth between s1 and s2 (%s), %d writes/s into it, %d moves per size\n\n",
		moving, logicalShards, where, o.rate, o.moves)
	fmt.Fprintln(out, "| accounts | load (COPY) | moves done | move total p50 / max | pause p50 | pause p99 | pause max | writes during moves | failed | write p50 | write p99 | write max | failed between moves |")
	fmt.Fprintln(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	p99 := map[int]time.Duration{}
	for _, r := range results {
		var totals, pauses, lat []time.Duration
		done := 0
		for _, m := range r.moves {
			if m.err == nil {
				done++
				totals = append(totals, m.res.Total)
			}
			if m.err == nil || m.res.Pause > 0 {
				pauses = append(pauses, m.res.Pause)
			}
		}
		failed, failedBetween := 0, 0
		for _, w := range r.writes {
			if phase(r.moves, w.sched) == "between moves" {
				if w.err != nil {
					failedBetween++
				}
				continue
			}
			lat = append(lat, w.took)
			if w.err != nil {
				failed++
			}
		}
		p99[r.accounts] = pct(pauses, 99)
		fmt.Fprintf(out, "| %s | %s | %d of %d | %s / %s | %s | %s | %s | %d | %d | %s | %s | %s | %d |\n",
			count(r.accounts), ms(r.load), done, len(r.moves), ms(pct(totals, 50)), ms(pct(totals, 100)),
			ms(pct(pauses, 50)), ms(p99[r.accounts]), ms(pct(pauses, 100)),
			len(lat), failed, ms(pct(lat, 50)), ms(pct(lat, 99)), ms(pct(lat, 100)), failedBetween)
	}
	if len(results) > 1 {
		lo, hi := results[0].accounts, results[len(results)-1].accounts
		if p99[lo] > 0 {
			fmt.Fprintf(out, "\npause p99 at %s / pause p99 at %s = %.2f\n", count(hi), count(lo), float64(p99[hi])/float64(p99[lo]))
		}
	}

	fmt.Fprintf(out, "\nwhere a move's time goes (p50 / max over the moves that completed; the pause is inside verified → switched):\n\n")
	fmt.Fprintln(out, "| accounts | start → published | published → verified (copy, catch-up, verify) | verified → paused (lock, catch-up, recheck) | paused → switched (switch commit) | switched → done (take-over, map, delete on the old owner) |")
	fmt.Fprintln(out, "|---:|---:|---:|---:|---:|---:|")
	for _, r := range results {
		var a, b, c, d, e []time.Duration
		for _, m := range r.moves {
			if m.err != nil {
				continue
			}
			a = append(a, m.steps[shard.StepPublished].Sub(m.start))
			b = append(b, since(m.steps, shard.StepPublished, shard.StepVerified))
			c = append(c, since(m.steps, shard.StepVerified, shard.StepPaused))
			d = append(d, since(m.steps, shard.StepPaused, shard.StepSwitched))
			e = append(e, m.start.Add(m.res.Total).Sub(m.steps[shard.StepSwitched]))
		}
		pair := func(ds []time.Duration) string { return ms(pct(ds, 50)) + " / " + ms(pct(ds, 100)) }
		fmt.Fprintf(out, "| %s | %s | %s | %s | %s | %s |\n", count(r.accounts), pair(a), pair(b), pair(c), pair(d), pair(e))
	}

	fmt.Fprintln(out)
	for _, r := range results {
		for i, m := range r.moves {
			if m.err != nil {
				fmt.Fprintf(out, "%s: move %d failed after %s (writers held %s): %v\n", count(r.accounts), i+1, ms(m.res.Total), ms(m.res.Pause), m.err)
			}
		}
		errs := map[string]int{}
		for _, w := range r.writes {
			if w.err != nil {
				errs[w.err.Error()]++
			}
		}
		for _, e := range slices.Sorted(maps.Keys(errs)) {
			fmt.Fprintf(out, "%s: %d writes failed: %s\n", count(r.accounts), errs[e], e)
		}
		slowWrites(out, o, r)
		if r.lost > 0 {
			fmt.Fprintf(out, "%s: LOST: %d acknowledged writes are missing from the final owner\n", count(r.accounts), r.lost)
		}
		if r.extra > 0 {
			fmt.Fprintf(out, "%s: %d failed writes are present anyway (committed as their deadline passed)\n", count(r.accounts), r.extra)
		}
	}
}

// stepOrder lists a move's step boundaries in order; "start" is Move's call.
var stepOrder = []shard.Step{"start", shard.StepPublished, shard.StepSubscribed, shard.StepVerified, shard.StepPaused,
	shard.StepSwitched, shard.StepTakenOver, shard.StepMapped, "done"}

// phase names where write w fell: the move and the step boundary it was due after.
func phase(moves []move, at time.Time) string {
	for i, m := range moves {
		end := m.start.Add(m.res.Total)
		if at.Before(m.start) || at.After(end) {
			continue
		}
		last := shard.Step("start")
		for _, s := range stepOrder[1 : len(stepOrder)-1] {
			if t, ok := m.steps[s]; ok && !at.Before(t) {
				last = s
			}
		}
		return fmt.Sprintf("move %d, after %s", i+1, last)
	}
	return "between moves"
}

// slowWrites lists the writes slower than o.slow, grouped by the step they were due in.
func slowWrites(out *os.File, o options, r result) {
	type agg struct {
		n, failed int
		worst     time.Duration
		first     time.Time
	}
	groups := map[string]*agg{}
	for _, w := range r.writes {
		if w.took < o.slow {
			continue
		}
		k := phase(r.moves, w.sched)
		g := groups[k]
		if g == nil {
			g = &agg{first: w.sched}
			groups[k] = g
		}
		g.n++
		if w.err != nil {
			g.failed++
		}
		g.worst = max(g.worst, w.took)
	}
	for _, k := range slices.SortedFunc(maps.Keys(groups), func(a, b string) int { return groups[a].first.Compare(groups[b].first) }) {
		g := groups[k]
		fmt.Fprintf(out, "%s: %d writes took ≥ %s (%d failed, slowest %s), due in %s\n", count(r.accounts), g.n, ms(o.slow), g.failed, ms(g.worst), k)
	}
}

// writeTrace writes one CSV line per write (kind "write": due time, latency, error) and per
// step of each move (kind "step"), times in seconds since each size's first write.
func writeTrace(path string, results []result) error {
	var b strings.Builder
	b.WriteString("accounts,kind,move,at_s,latency_ms,what\n")
	for _, r := range results {
		if len(r.writes) == 0 {
			continue
		}
		t0 := r.writes[0].sched
		for _, w := range r.writes {
			if w.sched.Before(t0) {
				t0 = w.sched
			}
		}
		for i, m := range r.moves {
			fmt.Fprintf(&b, "%d,step,%d,%.4f,,start\n", r.accounts, i+1, m.start.Sub(t0).Seconds())
			for _, s := range stepOrder[1 : len(stepOrder)-1] {
				if t, ok := m.steps[s]; ok {
					fmt.Fprintf(&b, "%d,step,%d,%.4f,,%s\n", r.accounts, i+1, t.Sub(t0).Seconds(), s)
				}
			}
			fmt.Fprintf(&b, "%d,step,%d,%.4f,,done\n", r.accounts, i+1, m.start.Add(m.res.Total).Sub(t0).Seconds())
		}
		for _, w := range r.writes {
			e := ""
			if w.err != nil {
				e = strconv.Quote(w.err.Error())
			}
			fmt.Fprintf(&b, "%d,write,,%.4f,%.3f,%s\n", r.accounts, w.sched.Sub(t0).Seconds(), float64(w.took.Microseconds())/1000, e)
		}
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
