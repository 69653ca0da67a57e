package httpapi

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/hellosvc/hello/internal/store/sqlite"
)

// MigratedSQLite is a migrated SQLite store in tb's temporary directory, closed at its end: the
// real storage under the handler tests and benchmarks.
func MigratedSQLite(tb testing.TB) *sqlite.Store {
	tb.Helper()
	st, err := sqlite.Open(filepath.Join(tb.TempDir(), "hello.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	if _, err := st.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return st
}
