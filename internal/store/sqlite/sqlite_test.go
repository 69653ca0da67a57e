package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hellosvc/hello/internal/account"
	"github.com/hellosvc/hello/internal/account/storetest"
	"github.com/hellosvc/hello/internal/store/sqlite"
)

func open(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) account.Store {
		s := open(t, filepath.Join(t.TempDir(), "hello.db"))
		if _, err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestMigrateIsIdempotent(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "hello.db"))
	first, err := s.Migrate(ctx)
	if err != nil || first == 0 {
		t.Fatalf("first Migrate = %d, %v; want some migrations applied", first, err)
	}
	second, err := s.Migrate(ctx)
	if err != nil || second != 0 {
		t.Fatalf("second Migrate = %d, %v; want 0, nil", second, err)
	}
}

// A database that cannot serve (locked by another writer past the request's deadline, or
// closed) is ErrUnavailable, which the API answers 503 storage_unavailable; a conflict stays a
// conflict.
func TestFailuresOfTheDatabaseAreUnavailable(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hello.db")
	s := open(t, path)
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	alice := account.Account{Username: "alice", PasswordHash: "h", CreatedAt: time.Now()}
	if err := s.CreateAccount(ctx, alice); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAccount(ctx, alice); !errors.Is(err, account.ErrConflict) {
		t.Fatalf("a second alice = %v, want a conflict", err)
	}

	other, err := sql.Open("sqlite", "file:"+path+"?_txlock=immediate") // another process's writer
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = other.Close() }()
	tx, err := other.BeginTx(ctx, nil) // holds the write lock
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE accounts SET devices = 'x' WHERE username = 'alice'`); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := s.CreateAccount(short, account.Account{Username: "bob", PasswordHash: "h", CreatedAt: time.Now()}); !errors.Is(err, account.ErrUnavailable) {
		t.Fatalf("a write while another writer holds the lock = %v, want ErrUnavailable", err)
	}
	_ = tx.Rollback()

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetAccount(ctx, "alice"); !errors.Is(err, account.ErrUnavailable) {
		t.Fatalf("a read from a closed database = %v, want ErrUnavailable", err)
	}
}

// The WAL reaches the database file by the Store's checkpointer, never in a commit: SQLite's
// automatic checkpoint made the commit that filled 1,000 pages copy them and fsync the file
// before it returned, a slow login every few seconds.
func TestCommitsLeaveCheckpointsToTheStore(t *testing.T) {
	ctx := context.Background()
	size := func(p string) int64 {
		t.Helper()
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	create := func(s *sqlite.Store, n int) {
		t.Helper()
		for i := range n {
			a := account.Account{Username: fmt.Sprintf("user%04d", i), PasswordHash: strings.Repeat("h", 100), CreatedAt: time.Now()}
			if err := s.CreateAccount(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
	}

	path := filepath.Join(t.TempDir(), "hello.db")
	s, err := sqlite.OpenEvery(path, time.Hour) // no checkpoint in this test's time
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	before := size(path)
	create(s, 900)
	if wal := size(path + "-wal"); wal < 1000*(4096+24) { // frames of a page and a header
		t.Fatalf("the WAL holds %d bytes, fewer than the 1,000 pages after which SQLite would checkpoint", wal)
	}
	if after := size(path); after != before {
		t.Fatalf("the database file went from %d to %d bytes: a commit checkpointed", before, after)
	}

	path = filepath.Join(t.TempDir(), "hello.db")
	s2, err := sqlite.OpenEvery(path, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s2.Close() }()
	if _, err := s2.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	before = size(path)
	create(s2, 50)
	for deadline := time.Now().Add(10 * time.Second); size(path) == before; {
		if time.Now().After(deadline) {
			t.Fatal("the checkpointer did not copy the WAL into the database file in 10 s")
		}
		runtime.Gosched()
	}
}
