package postgres_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

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
