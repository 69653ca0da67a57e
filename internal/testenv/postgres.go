package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresBin is where the test clusters' binaries (initdb, pg_ctl) are installed.
var PostgresBin = "/usr/lib/postgresql/15/bin"

// Postgres is a throwaway PostgreSQL cluster: its own data directory under os.TempDir(), a
// free port on 127.0.0.1, trust authentication. As root (CI) the server runs as the postgres
// system user, since initdb refuses root. fsync is off: the tests kill hello, never the
// server, and a cluster lives only as long as its tests.
type Postgres struct {
	Port int

	dir  string
	cred *syscall.Credential
	mu   sync.Mutex
	up   bool
}

// StartPostgres initialises and starts a new cluster. Callers must Remove it.
func StartPostgres() (*Postgres, error) {
	dir, err := os.MkdirTemp(os.TempDir(), "hello-pg-")
	if err != nil {
		return nil, err
	}
	p := &Postgres{dir: dir}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("running PostgreSQL as root needs the postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chmod(dir, 0o755); err != nil {
			return nil, err
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	if out, err := p.run(filepath.Join(PostgresBin, "initdb"), "-D", p.data(), "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		p.Remove()
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	var startErr error
	for range 3 { // a free port can be taken between finding and binding it
		if p.Port, startErr = freePort(); startErr != nil {
			break
		}
		if startErr = p.Start(); startErr == nil {
			return p, nil
		}
	}
	p.Remove()
	return nil, startErr
}

func (p *Postgres) data() string { return filepath.Join(p.dir, "data") }

func (p *Postgres) run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = p.dir
	if p.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	}
	return cmd.CombinedOutput()
}

// Start starts (or restarts) the server on its port and waits until it accepts connections.
func (p *Postgres) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off "+
		"-c max_connections=300 -c shared_buffers=16MB "+
		// Shard moves run on logical replication: publications, slots and subscriptions, up
		// to one per concurrent move and test database on this cluster.
		"-c wal_level=logical -c max_replication_slots=64 -c max_wal_senders=64 -c max_worker_processes=64 "+
		"-c max_logical_replication_workers=32 -c wal_retrieve_retry_interval=200ms", p.Port, p.dir)
	if out, err := p.run(filepath.Join(PostgresBin, "pg_ctl"), "start", "-D", p.data(), "-w", "-t", "60",
		"-l", filepath.Join(p.dir, "server.log"), "-o", opts); err != nil {
		log, _ := os.ReadFile(filepath.Join(p.dir, "server.log"))
		return fmt.Errorf("pg_ctl start: %w\n%s\n%s", err, out, log)
	}
	p.up = true
	return nil
}

// Stop stops the server at once (in-flight connections are cut); Start brings it back.
func (p *Postgres) Stop() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.up {
		return nil
	}
	if out, err := p.run(filepath.Join(PostgresBin, "pg_ctl"), "stop", "-D", p.data(), "-m", "immediate", "-w"); err != nil {
		return fmt.Errorf("pg_ctl stop: %w\n%s", err, out)
	}
	p.up = false
	return nil
}

// Remove stops the server and deletes the cluster.
func (p *Postgres) Remove() {
	_ = p.Stop()
	_ = os.RemoveAll(p.dir)
}

// DSN is the URL of database db.
func (p *Postgres) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.Port, db)
}

// CreateDB creates an empty database, dropped when the test ends, and returns its DSN.
func (p *Postgres) CreateDB(t testing.TB) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:])
	if err := p.Exec(context.Background(), "CREATE DATABASE "+name); err != nil {
		t.Fatalf("creating database: %v", err)
	}
	t.Cleanup(func() {
		p.mu.Lock()
		up := p.up
		p.mu.Unlock()
		if up {
			_ = p.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		}
	})
	return p.DSN(name)
}

// Exec runs one statement on the cluster's postgres database (CREATE DATABASE and the like).
func (p *Postgres) Exec(ctx context.Context, sql string) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.DSN("postgres"))
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	_, err = conn.Exec(ctx, sql)
	return err
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// NewPostgres starts a dedicated cluster, removed when the test ends: for tests that stop it.
func NewPostgres(t testing.TB) *Postgres {
	t.Helper()
	p, err := StartPostgres()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Remove)
	return p
}

var shared struct {
	mu  sync.Mutex
	pg  *Postgres
	err error
}

// SharedPostgres returns the test package's cluster, started on first use; the package's
// TestMain must run its tests through RunWithPostgres, which removes it. Tests create their
// own databases in it with CreateDB (initdb is the slow part).
func SharedPostgres(t testing.TB) *Postgres {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.pg == nil && shared.err == nil {
		shared.pg, shared.err = StartPostgres()
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.pg
}

// RunWithPostgres runs the package's tests (from TestMain) and then removes the shared cluster.
func RunWithPostgres(m *testing.M) int {
	code := m.Run()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.pg != nil {
		shared.pg.Remove()
		shared.pg = nil
	}
	if shared.err != nil && !errors.Is(shared.err, os.ErrNotExist) {
		fmt.Fprintln(os.Stderr, "testenv:", shared.err)
	}
	return code
}

// RequirePassword makes the cluster ask role for its password (scram-sha-256) on TCP while
// every other role keeps trust authentication: for tests of how the service authenticates.
func (p *Postgres) RequirePassword(t testing.TB, role string) {
	t.Helper()
	hba := fmt.Sprintf("host all %s 127.0.0.1/32 scram-sha-256\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\nlocal all all trust\n", role)
	if err := os.WriteFile(filepath.Join(p.data(), "pg_hba.conf"), []byte(hba), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := p.Exec(context.Background(), "SELECT pg_reload_conf()"); err != nil {
		t.Fatal(err)
	}
}
