package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hellosvc/hello/internal/account"
	"github.com/hellosvc/hello/internal/account/storetest"
	"github.com/hellosvc/hello/internal/store/postgres"
	"github.com/hellosvc/hello/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.RunWithPostgres(m)) }

func open(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.OpenStore(context.Background(), postgres.Options{DSN: dsn, Timeout: 5 * time.Second, MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	pg := testenv.SharedPostgres(t)
	storetest.Run(t, func(t *testing.T) account.Store {
		s := open(t, pg.CreateDB(t))
		if _, err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestMigrateIsIdempotent(t *testing.T) {
	ctx := context.Background()
	s := open(t, testenv.SharedPostgres(t).CreateDB(t))
	first, err := s.Migrate(ctx)
	if err != nil || first == 0 {
		t.Fatalf("first Migrate = %d, %v; want some migrations applied", first, err)
	}
	second, err := s.Migrate(ctx)
	if err != nil || second != 0 {
		t.Fatalf("second Migrate = %d, %v; want 0, nil", second, err)
	}
}

// A database that has become a shard of a sharded set must not be served alone: it would be a
// second owner of the logical shards that moved away from it.
func TestRefusesADatabaseThatIsAShard(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.SharedPostgres(t).CreateDB(t)
	s := open(t, dsn)
	if _, err := s.DB().Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.DB().WriteMap(ctx, 0, 1, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Migrate(ctx); !errors.Is(err, postgres.ErrShardMember) {
		t.Fatalf("Migrate on a shard = %v, want ErrShardMember", err)
	}
}

// A database that cannot be reached answers ErrUnavailable (503), within the timeout.
func TestUnreachableDatabaseIsUnavailable(t *testing.T) {
	pg := testenv.NewPostgres(t)
	s, err := postgres.OpenStore(context.Background(), postgres.Options{DSN: pg.DSN("postgres"), Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = s.GetAccount(context.Background(), "alice")
	if !errors.Is(err, account.ErrUnavailable) {
		t.Fatalf("GetAccount with the server down = %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 3*time.Second { // the 1 s timeout, with room for a loaded machine
		t.Fatalf("GetAccount took %s with a 1s timeout", d)
	}
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetAccount(context.Background(), "alice"); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("GetAccount after the server came back = %v, want ErrNotFound", err)
	}
}

// Issue 11: a statement that outlives HELLO_DB_TIMEOUT is cancelled on the server and its
// connection kept. Closing the connection instead (pgx's default) left the backend waiting on
// its lock with nobody to answer, and made the pool reconnect once per timed-out statement:
// under load a stalled database then never caught up.
func TestATimedOutStatementIsCancelledAndKeepsItsConnection(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.SharedPostgres(t).CreateDB(t)
	s, err := postgres.OpenStore(ctx, postgres.Options{DSN: dsn, Timeout: 300 * time.Millisecond, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = admin.Close(ctx) }()
	count := func(where string, args ...any) int {
		var n int
		q := `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'hello' AND ` + where
		if err := admin.QueryRow(ctx, q, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	burst := func() []error {
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Go(func() { _, errs[i] = s.GetAccount(ctx, fmt.Sprintf("user%d", i)) })
		}
		wg.Wait()
		return errs
	}
	testenv.Eventually(t, 10*time.Second, "the pool holding both its connections", func() bool {
		burst()
		return count("true") == 2
	})
	var stall time.Time
	if err := admin.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&stall); err != nil {
		t.Fatal(err)
	}

	// The stall: a lock every statement of the store waits for.
	tx, err := admin.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	for _, err := range burst() {
		if !errors.Is(err, account.ErrUnavailable) {
			t.Fatalf("a read during the stall = %v, want ErrUnavailable", err)
		}
	}
	if n := count(`wait_event_type = 'Lock'`); n != 0 {
		t.Errorf("%d statements of timed-out requests still wait on the server", n)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	for _, err := range burst() {
		if !errors.Is(err, account.ErrNotFound) {
			t.Fatalf("a read after the stall = %v", err)
		}
	}
	if n := count(`backend_start > $1`, stall); n != 0 {
		t.Errorf("%d connections were opened again after the stall, want 0: the pool keeps its connections", n)
	}
}

// Issue 11: a host of a multi-host DSN that takes connections and never answers (a black hole)
// costs one connect timeout, not the request's whole deadline: the next host serves it.
func TestABlackHoledHostCostsOneConnectTimeout(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.SharedPostgres(t).CreateDB(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	hole, err := net.Listen("tcp", "127.0.0.1:0") // the kernel completes handshakes; nobody speaks
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hole.Close() })
	u.Host = hole.Addr().String() + "," + u.Host
	q := u.Query()
	q.Set("target_session_attrs", "read-write")
	u.RawQuery = q.Encode()
	s, err := postgres.OpenStore(ctx, postgres.Options{DSN: u.String(), ConnectTimeout: 500 * time.Millisecond, Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate past a black-holed first host = %v", err)
	}
	if _, err := s.GetAccount(ctx, "alice"); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("a read past a black-holed first host = %v, want ErrNotFound", err)
	}
}
