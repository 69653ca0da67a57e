package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

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
