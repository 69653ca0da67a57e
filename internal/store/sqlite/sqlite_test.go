package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
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
