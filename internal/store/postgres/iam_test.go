package postgres_test

import (
	"context"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hellosvc/hello/internal/account"
	"github.com/hellosvc/hello/internal/store/postgres"
	"github.com/hellosvc/hello/internal/testenv"
)

// Issue 13 (1): with a token source (RDS IAM auth) every new connection asks it for a fresh
// password and uses it; the application role that migrate creates has data rights only.
func TestTokenSourceAndApplicationRole(t *testing.T) {
	ctx := context.Background()
	pg := testenv.NewPostgres(t) // its own cluster: the test changes authentication
	dsn := pg.CreateDB(t)
	admin, err := postgres.OpenStore(ctx, postgres.Options{DSN: dsn, AppUser: "hello_iam", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = admin.Close() }()
	if _, err := admin.Migrate(ctx); err != nil {
		t.Fatalf("migrate with an application role: %v", err)
	}
	if _, err := admin.Migrate(ctx); err != nil {
		t.Fatalf("migrate twice: %v", err)
	}
	// The role's "token" is its password here; RDS checks an IAM signature instead.
	sql(t, dsn, `ALTER ROLE hello_iam PASSWORD 'token-1'`)
	pg.RequirePassword(t, "hello_iam")

	u, _ := url.Parse(dsn)
	u.User = url.User("hello_iam")
	var calls atomic.Int64
	var token atomic.Value
	token.Store("token-1")
	opts := postgres.Options{DSN: u.String(), Timeout: 5 * time.Second, MaxConns: 4,
		Token: func(_ context.Context, endpoint, user string) (string, error) {
			calls.Add(1)
			if user != "hello_iam" || endpoint != u.Host {
				t.Errorf("token asked for %s at %s", user, endpoint)
			}
			return token.Load().(string), nil
		}}
	app, err := postgres.OpenStore(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	a := account.Account{Username: "alice", PasswordHash: "h", CreatedAt: time.Now().UTC()}
	if err := app.CreateAccount(ctx, a); err != nil {
		t.Fatalf("the application role writing data: %v", err)
	}
	if calls.Load() < 1 {
		t.Fatal("the token source was not asked")
	}
	_ = app.Close()
	// New connections ask again: a token that changed works without a restart.
	before := calls.Load()
	token.Store("token-2")
	sql(t, dsn, `ALTER ROLE hello_iam PASSWORD 'token-2'`)
	app, err = postgres.OpenStore(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = app.Close() }()
	if _, err := app.GetAccount(ctx, "alice"); err != nil {
		t.Fatalf("after the token changed: %v", err)
	}
	if calls.Load() <= before {
		t.Fatal("a new connection did not ask for a new token")
	}
	// A wrong token is refused: the token really is the password.
	token.Store("stale")
	bad, err := postgres.OpenStore(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = bad.Close() }()
	if _, err := bad.GetAccount(ctx, "alice"); err == nil {
		t.Fatal("a stale token was accepted")
	}
	// No DDL for the application role.
	u.User = url.UserPassword("hello_iam", "token-2")
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	if _, err := conn.Exec(ctx, `CREATE TABLE evil (x int)`); err == nil {
		t.Fatal("the application role could create a table")
	}
}

func sql(t *testing.T, dsn, q string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(context.Background(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}
