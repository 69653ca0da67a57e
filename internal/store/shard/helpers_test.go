package shard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hellosvc/hello/internal/cli"
	"github.com/hellosvc/hello/internal/store/postgres"
	"github.com/hellosvc/hello/internal/store/shard"
	"github.com/hellosvc/hello/internal/store/shardkey"
	"github.com/hellosvc/hello/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.RunWithPostgres(m)) }

// set is a sharded set of databases and its shards file.
type set struct {
	path    string
	logical int
	dsn     map[string]string
}

// newSet creates one database per physical shard, s1…sN, on the given clusters (the shared one
// when nil) and writes the shards file.
func newSet(t testing.TB, logical int, clusters ...*testenv.Postgres) *set {
	t.Helper()
	s := &set{path: filepath.Join(t.TempDir(), "shards.yaml"), logical: logical, dsn: map[string]string{}}
	var b strings.Builder
	fmt.Fprintf(&b, "logical_shards: %d\nshards:\n", logical)
	for i, pg := range clusters {
		if pg == nil {
			pg = testenv.SharedPostgres(t)
		}
		name := fmt.Sprintf("s%d", i+1)
		s.dsn[name] = pg.CreateDB(t)
		fmt.Fprintf(&b, "  - {name: %s, dsn: %q}\n", name, s.dsn[name])
	}
	if err := os.WriteFile(s.path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

func shared(n int) []*testenv.Postgres { return make([]*testenv.Postgres, n) }

func (s *set) env(extra ...string) map[string]string {
	env := map[string]string{"HELLO_DB": "shards:" + s.path, "HELLO_DB_TIMEOUT": "2s"}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return env
}

// open opens and migrates the set's store.
func (s *set) open(t testing.TB, poll time.Duration) *shard.Store {
	t.Helper()
	ctx := context.Background()
	data, err := os.ReadFile(s.path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := shard.ParseFile(data)
	if err != nil {
		t.Fatal(err)
	}
	st, err := shard.Open(ctx, shard.Options{File: f, Poll: poll, DB: postgres.Options{Timeout: 5 * time.Second, MaxConns: 8}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if _, err := st.MigrateAll(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

// nameOn returns a fresh username whose logical shard satisfies ok.
func nameOn(prefix string, logical int, ok func(l int) bool) string {
	for i := 0; ; i++ {
		name := fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano()%1e6, i)
		if ok(shardkey.Logical(name, logical)) {
			return name
		}
	}
}

// hello runs `hello ARGS` in-process with env and returns its output.
func hello(t testing.TB, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var environ []string
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	var out bytes.Buffer
	err := cli.Run(context.Background(), args, environ, &out)
	return out.String(), err
}

// api is a goroutine-safe JSON client for load generators (testenv.Client fails the test from
// the calling goroutine, so it only suits the test goroutine).
var api = &http.Client{Timeout: 20 * time.Second}

type reply struct {
	status int
	code   string
	token  string
	took   time.Duration
}

func post(base, path, body string, header ...string) (reply, error) {
	start := time.Now()
	req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return do(req, start)
}

func get(base, path string, header ...string) (reply, error) {
	start := time.Now()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		return reply{}, err
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return do(req, start)
}

func do(req *http.Request, start time.Time) (reply, error) {
	resp, err := api.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	var m struct {
		Error string `json:"error"`
		Token string `json:"token"`
	}
	_ = json.Unmarshal(b, &m)
	return reply{status: resp.StatusCode, code: m.Error, token: m.Token, took: time.Since(start)}, nil
}

func creds(name string) string {
	return fmt.Sprintf(`{"username":%q,"password":"correct horse battery"}`, name)
}

// usernames counts every account row in every database of the set, by username.
func usernames(t testing.TB, dsns ...string) map[string]int {
	t.Helper()
	ctx := context.Background()
	out := map[string]int{}
	for _, dsn := range dsns {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := conn.Query(ctx, `SELECT username FROM accounts`)
		if err != nil {
			t.Fatal(err)
		}
		var u string
		if _, err := pgx.ForEachRow(rows, []any{&u}, func() error { out[u]++; return nil }); err != nil {
			t.Fatal(err)
		}
		_ = conn.Close(ctx)
	}
	return out
}

// mustCheck runs `hello shards check`'s verification and fails the test on any problem.
func mustCheck(t testing.TB, admin *shard.Admin) {
	t.Helper()
	rep, err := admin.Check(context.Background())
	if err != nil {
		t.Fatalf("shards check: %v", err)
	}
	if !rep.OK() {
		t.Fatalf("shards check found problems:\n%s", strings.Join(rep.Problems, "\n"))
	}
}
