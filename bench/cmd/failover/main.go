// Command failover measures the failover window of a pg_auto_failover formation (one
// PostgreSQL "shard": monitor, primary, synchronous standby, all on loopback, from
// internal/testenv): under a steady write load it kills the primary (every process, and its
// data directory) and reports how long writes failed, how many did, and whether every
// acknowledged write is on the new primary.
//
//	go run ./cmd/failover                 # pg_autoctl's default timeouts, then testenv's tuned ones
//	go run ./cmd/failover -tuned true -rate 100
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hellosvc/hello/internal/testenv"
)

func main() {
	tuned := flag.String("tuned", "both", "timeouts: false (pg_autoctl's defaults), true (testenv's tuned ones) or both, one after the other")
	rate := flag.Int("rate", 50, "writes per second, each a new row (open loop: a write that cannot start on its tick is counted as skipped)")
	workers := flag.Int("workers", 8, "concurrent writers sharing the load, each with its own connection")
	before := flag.Duration("before", 5*time.Second, "load before the kill")
	after := flag.Duration("after", 5*time.Second, "load after the new primary took its first write")
	timeout := flag.Duration("timeout", 3*time.Minute, "longest wait for the new primary")
	flag.Parse()

	var modes []bool
	switch *tuned {
	case "false":
		modes = []bool{false}
	case "true":
		modes = []bool{true}
	case "both":
		modes = []bool{false, true}
	default:
		fmt.Fprintln(os.Stderr, "-tuned: false, true or both")
		os.Exit(2)
	}
	var results []result
	for _, m := range modes {
		r, err := measure(runOptions{tuned: m, rate: *rate, workers: *workers, before: *before, after: *after, timeout: *timeout})
		if err != nil {
			slog.Error("failover run", "tuned", m, "err", err)
			os.Exit(1)
		}
		results = append(results, r)
		fmt.Printf("\ntimeline (tuned=%t), from the kill, as the monitor recorded it:\n%s", m, r.timeline)
	}
	fmt.Printf("\n| timeouts | kill → first acknowledged write | kill → WaitPrimary | failed writes | skipped ticks | acknowledged | acknowledged and present | present, not acknowledged |\n")
	fmt.Printf("|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		name := "pg_autoctl defaults"
		if r.tuned {
			name = "testenv tuned"
		}
		fmt.Printf("| %s | %.1f s | %.1f s | %d | %d | %d | %d | %d |\n", name, r.firstWrite.Seconds(), r.waitPrimary.Seconds(),
			r.failed, r.skipped, r.acked, r.ackedPresent, r.unackedPresent)
	}
	for _, r := range results {
		if r.ackedPresent != r.acked {
			fmt.Fprintf(os.Stderr, "LOST WRITES (tuned=%t): %d acknowledged, %d present\n", r.tuned, r.acked, r.ackedPresent)
			os.Exit(3)
		}
	}
}

type runOptions struct {
	tuned         bool
	rate, workers int
	before, after time.Duration
	timeout       time.Duration
}

type result struct {
	tuned                        bool
	firstWrite, waitPrimary      time.Duration
	failed, skipped, acked       int
	ackedPresent, unackedPresent int
	timeline                     string
}

type write struct {
	key       string
	start, at time.Time // when it was started; acknowledged or failed
	err       error
}

func measure(o runOptions) (r result, err error) {
	r.tuned = o.tuned
	h := &harness{}
	defer h.close()
	err = h.do(func() {
		start := time.Now()
		f := testenv.NewFormation(h, testenv.FormationOptions{Tuned: o.tuned})
		slog.Info("formation ready", "tuned", o.tuned, "took", time.Since(start).Round(time.Millisecond),
			"primary", f.Primary(), "ports", fmt.Sprint(f.Port(0), ",", f.Port(1)))
		dsn := f.CreateDB(h)
		ctx := context.Background()
		if err := execOnce(ctx, dsn, "CREATE TABLE writes (k text NOT NULL)"); err != nil {
			h.Fatalf("create table: %v", err)
		}

		// The load: a tick every 1/rate s hands a new key to an idle worker.
		var (
			mu     sync.Mutex
			writes []write
			wg     sync.WaitGroup
		)
		jobs := make(chan string)
		for range o.workers {
			wg.Go(func() {
				var conn *pgx.Conn
				defer func() {
					if conn != nil {
						_ = conn.Close(context.Background())
					}
				}()
				for key := range jobs {
					start := time.Now()
					err := insert(ctx, &conn, dsn, key)
					mu.Lock()
					writes = append(writes, write{key: key, start: start, at: time.Now(), err: err})
					mu.Unlock()
				}
			})
		}
		stop := make(chan struct{})
		var skipped int
		loadDone := make(chan struct{})
		go func() {
			defer close(loadDone)
			defer close(jobs)
			tick := time.NewTicker(time.Second / time.Duration(o.rate))
			defer tick.Stop()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				select {
				case jobs <- fmt.Sprintf("k%d", n):
				default:
					skipped++ // every worker is still busy (a connection attempt, a hung write)
				}
			}
		}()
		stopLoad := func() {
			select {
			case <-stop:
			default:
				close(stop)
				<-loadDone
				wg.Wait()
			}
		}
		defer stopLoad()

		time.Sleep(o.before) // the steady load before the kill is part of the measurement
		killed := f.KillPrimary(h)
		r.waitPrimary = f.WaitPrimary(h, o.timeout)
		time.Sleep(o.after)
		stopLoad()
		r.skipped = skipped

		for _, w := range writes {
			switch {
			case w.err == nil:
				r.acked++
				if w.start.After(killed) && (r.firstWrite == 0 || w.at.Sub(killed) < r.firstWrite) {
					r.firstWrite = w.at.Sub(killed)
				}
			case w.at.After(killed):
				r.failed++
			default:
				slog.Warn("write failed before the kill", "key", w.key, "err", w.err)
			}
		}
		present, err := keys(ctx, dsn)
		if err != nil {
			h.Fatalf("reading back: %v", err)
		}
		for _, w := range writes {
			switch n := present[w.key]; {
			case n > 1:
				h.Fatalf("key %s is present %d times", w.key, n)
			case n == 1 && w.err == nil:
				r.ackedPresent++
			case n == 1:
				r.unackedPresent++
			}
		}
		if r.timeline, err = timeline(ctx, f.MonitorURI(), killed); err != nil {
			h.Fatalf("monitor events: %v", err)
		}
	})
	return r, err
}

// insert writes one row through the formation's multi-host DSN, connecting first when the
// worker has no connection; any error drops the connection.
func insert(ctx context.Context, conn **pgx.Conn, dsn, key string) error {
	if *conn == nil {
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return fmt.Errorf("connect: %w", err)
		}
		*conn = c
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := (*conn).Exec(wctx, "INSERT INTO writes (k) VALUES ($1)", key)
	if err != nil {
		_ = (*conn).Close(context.Background())
		*conn = nil
	}
	return err
}

func execOnce(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	_, err = conn.Exec(ctx, sql)
	return err
}

func keys(ctx context.Context, dsn string) (map[string]int, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	rows, err := conn.Query(ctx, "SELECT k, count(*) FROM writes GROUP BY k")
	if err != nil {
		return nil, err
	}
	present := map[string]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		present[k] = n
	}
	return present, rows.Err()
}

// timeline is the monitor's events since the kill: who was assigned or reported what, when.
func timeline(ctx context.Context, monitor string, since time.Time) (string, error) {
	conn, err := pgx.Connect(ctx, monitor)
	if err != nil {
		return "", err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	rows, err := conn.Query(ctx, `SELECT eventtime, nodename, reportedstate::text, goalstate::text
		FROM pgautofailover.event WHERE eventtime >= $1 ORDER BY eventid`, since)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for rows.Next() {
		var at time.Time
		var node, reported, goal string
		if err := rows.Scan(&at, &node, &reported, &goal); err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "  %+6.1f s  %-6s reported %-17s assigned %s\n", at.Sub(since).Seconds(), node, reported, goal)
	}
	return b.String(), rows.Err()
}

// harness lets testenv run outside a test: a Fatalf inside do ends it with an error, and
// close runs the cleanups. Formation calls only the methods defined here.
type harness struct {
	testing.TB // nil: a call to any other method is a bug and panics

	mu       sync.Mutex
	failed   bool
	cleanups []func()
}

type harnessFailure string

func (h *harness) Helper() {}
func (h *harness) Cleanup(f func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cleanups = append(h.cleanups, f)
}
func (h *harness) Failed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.failed
}
func (h *harness) Logf(format string, args ...any) { slog.Info(fmt.Sprintf(format, args...)) }
func (h *harness) Fatalf(format string, args ...any) {
	h.mu.Lock()
	h.failed = true
	h.mu.Unlock()
	panic(harnessFailure(fmt.Sprintf(format, args...)))
}

func (h *harness) do(step func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(harnessFailure)
			if !ok {
				panic(r)
			}
			err = errors.New(string(f))
		}
	}()
	step()
	return nil
}

func (h *harness) close() {
	h.mu.Lock()
	cleanups := h.cleanups
	h.cleanups = nil
	h.mu.Unlock()
	for _, f := range slices.Backward(cleanups) {
		f()
	}
}
