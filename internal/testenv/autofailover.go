package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// AutoFailoverPackages are the Debian packages with pg_autoctl and the monitor's extension.
const AutoFailoverPackages = "postgresql-15-auto-failover pg-auto-failover-cli"

// FormationOptions configures NewFormation.
type FormationOptions struct {
	// Tuned shortens the monitor's and the keepers' timeouts (see tunedMonitorSettings and
	// tunedKeeperSettings) so that a failover completes in 11-14 s here instead of about
	// 57 s with pg_auto_failover's defaults.
	Tuned bool
}

// The timeouts a Tuned formation uses, and what they trade. pg_auto_failover 2.0 fails a
// primary over when (1) its keeper has not reported to the monitor for
// node_considered_unhealthy_timeout AND the monitor's own health checks failed; then (2) the
// standby goes to prepare_promotion (a keeper loop: 1-2 s) and stop_replication (it promotes
// its Postgres, still refusing target_session_attrs=read-write: 2-6 s here), and (3) once the
// old primary had primary_demote_timeout to demote itself, the standby may take writes
// (wait_primary). Measured on the 2-core VM, kill to first write: defaults (20 s, 30 s)
// 57 s; Tuned 11-14 s (detection about 4 s, then the promotion outlasts the 5 s demote
// timeout). See bench/README.md, "Failover window".
//
// What it trades: a primary that merely stops answering for 3 s (a long stall of a loaded
// machine, a short network blip) is failed over, with a short outage and a lost standby to
// rebuild where the defaults would have waited. The demote timeout must stay longer than the
// keepers' network_partition_timeout, or a partitioned but alive primary could still be
// running as primary when the standby is promoted (it could not acknowledge commits anyway:
// replication is synchronous, but clients connected to it would see it as writable).
var tunedMonitorSettings = []string{
	"pgautofailover.health_check_period = 1000",               // ms between health checks (default 5000)
	"pgautofailover.health_check_timeout = 1000",              // ms to connect (default 5000): loopback
	"pgautofailover.health_check_max_retries = 1",             // default 2
	"pgautofailover.health_check_retry_delay = 500",           // ms (default 2000)
	"pgautofailover.node_considered_unhealthy_timeout = 3000", // ms without a keeper report (default 20000)
	"pgautofailover.primary_demote_timeout = 5000",            // ms (default 30000); > network_partition_timeout
	"pgautofailover.startup_grace_period = 2000",              // ms after the monitor starts (default 10000)
}

// tunedKeeperSettings are `pg_autoctl config set` on every data node of a Tuned formation.
// timeout.prepare_promotion_catchup and timeout.prepare_promotion_walreceiver are left alone:
// pg_autoctl 2.0 does not use them (fsm_prepare_standby_for_promotion is a no-op).
var tunedKeeperSettings = [][2]string{
	// A primary that reaches neither the monitor nor a standby for this long demotes itself
	// (default 20 s). Below primary_demote_timeout, so that it is down before the standby is up.
	{"timeout.network_partition_timeout", "4"},
	// How long a keeper tries to restart a Postgres that stopped before it reports it failed
	// (default 20 s). Not in play when the whole node is killed, as KillPrimary does.
	{"timeout.postgresql_restart_failure_timeout", "5"},
}

// nodeSettings are appended to the first data node's postgresql.conf after `pg_autoctl create
// postgres`: pg_autoctl puts its include of postgresql-auto-failover.conf at the top of
// postgresql.conf, so these win; pg_basebackup copies them to every standby. wal_level is
// logical (pg_autoctl sets replica) for logical replication slots; pg_autoctl itself sets
// max_wal_senders and max_replication_slots to 12. fsync is off for speed: the failure this
// harness makes is a node killed with SIGKILL and its data directory deleted, which fsync
// cannot help with (a standby "flushing" a commit means written to the OS, not to disk).
var nodeSettings = []string{
	"wal_level = 'logical'",
	"max_wal_senders = 16",
	"max_replication_slots = 16",
	"fsync = off",
	"max_connections = 300",
	"shared_buffers = '16MB'", // pg_autoctl sizes it from the machine's RAM (GBs)
	"unix_socket_directories = ''",
	"listen_addresses = '127.0.0.1'",
}

var monitorSettings = []string{
	"fsync = off",
	"shared_buffers = '16MB'",
	"unix_socket_directories = ''",
	"listen_addresses = '127.0.0.1'",
}

// Formation is a pg_auto_failover formation of one monitor and two data nodes, a primary and a
// synchronous standby (replication-quorum true, candidate-priority 50 each), every one a
// `pg_autoctl run` in the background on a free port of 127.0.0.1, with trust authentication on
// loopback for user postgres. It is one highly available PostgreSQL "shard".
//
// Data nodes are numbered 0 and 1 (their ports never change: see DSN); the monitor's names
// for them are node1, node2, node3... (a replacement from AddNode gets a new name).
//
// pg_auto_failover 2.0 refuses number-sync-standbys 1 with a single standby (it wants
// number_sync_standbys + 1 standbys), so the formation keeps number_sync_standbys 0: with a
// healthy standby of replication-quorum true, the primary still runs with
// synchronous_standby_names = 'ANY 1 (pgautofailover_standby_N)' and synchronous_commit on, so
// every acknowledged commit is on the standby; after a failover, the lone new primary
// (wait_primary) commits alone until a standby catches up.
//
// As root (CI) every pg_autoctl runs as the postgres system user, as PostgreSQL refuses root.
// Everything lives in one temporary directory, removed (after every process was killed and
// reaped) when the test ends. Formation calls only these methods of a testing.TB: Helper,
// Cleanup, Fatalf, Logf and Failed.
type Formation struct {
	dir         string
	env         []string
	cred        *syscall.Credential
	uid, gid    int
	tuned       bool
	monitorPort int
	ports       [2]int

	mu       sync.Mutex
	monitor  *autoctl
	nodes    [2]*formationNode
	seq      int       // the last node number given (node1, node2, ...)
	killedAt time.Time // the last KillPrimary
}

type formationNode struct {
	name   string // on the monitor: node1, node2, ...
	pgdata string
	proc   *autoctl // nil once killed
}

// autoctl is one `pg_autoctl run` (its own process group) and everything it started.
type autoctl struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once it has exited and been reaped
}

// NewFormation creates and starts a formation and waits until it has a primary and a
// synchronous secondary. A missing pg_autoctl fails the test with the packages to install.
func NewFormation(t testing.TB, opts FormationOptions) *Formation {
	t.Helper()
	if _, err := exec.LookPath("pg_autoctl"); err != nil {
		t.Fatalf("pg_autoctl not found in PATH: install it with `apt-get install -y %s` (Debian; scripts/test does)",
			AutoFailoverPackages)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(PostgresBin), "lib", "pgautofailover.so")); err != nil {
		t.Fatalf("the pg_auto_failover extension for %s is missing (%v): install it with `apt-get install -y %s`",
			filepath.Dir(PostgresBin), err, AutoFailoverPackages)
	}
	dir, err := os.MkdirTemp(os.TempDir(), "hello-af-")
	if err != nil {
		t.Fatalf("formation: %v", err)
	}
	f := &Formation{dir: dir, tuned: opts.Tuned, uid: -1, gid: -1}
	t.Cleanup(func() { f.close(t) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running pg_autoctl as root needs the postgres user: %v", err)
		}
		f.uid, _ = strconv.Atoi(u.Uid)
		f.gid, _ = strconv.Atoi(u.Gid)
		f.cred = &syscall.Credential{Uid: uint32(f.uid), Gid: uint32(f.gid)}
	}
	for _, d := range []string{dir, filepath.Join(dir, "run")} {
		if err := f.mkdir(d); err != nil {
			t.Fatalf("formation: %v", err)
		}
	}
	f.env = []string{
		"HOME=" + dir,
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"), // pg_autoctl.cfg of every node
		"XDG_DATA_HOME=" + filepath.Join(dir, "share"),    // its state files
		"XDG_RUNTIME_DIR=" + filepath.Join(dir, "run"),    // pid files (else under /tmp/pg_autoctl)
		"PATH=" + PostgresBin + ":/usr/local/bin:/usr/bin:/bin",
		"PGHOST=127.0.0.1", // pg_autoctl reaches its local Postgres over TCP (no Unix sockets)
		"LANG=C.UTF-8",     // initdb: UTF8 databases
	}
	for i := range 3 {
		port, err := freePort()
		if err != nil {
			t.Fatalf("formation: free port: %v", err)
		}
		if i == 0 {
			f.monitorPort = port
		} else {
			f.ports[i-1] = port
		}
	}

	// The monitor.
	mdata := filepath.Join(dir, "monitor")
	if err := f.pgAutoctl("create", "monitor", "--pgdata", mdata, "--pgport", strconv.Itoa(f.monitorPort),
		"--hostname", "127.0.0.1", "--auth", "trust", "--no-ssl",
		"--pgctl", filepath.Join(PostgresBin, "pg_ctl")); err != nil {
		t.Fatalf("formation: %v", err)
	}
	settings := monitorSettings
	if opts.Tuned {
		settings = append(slices.Clone(settings), tunedMonitorSettings...)
	}
	if err := appendConf(mdata, settings); err != nil {
		t.Fatalf("formation: %v", err)
	}
	if err := f.pgAutoctl("config", "set", "--pgdata", mdata, "postgresql.listen_addresses", "127.0.0.1"); err != nil {
		t.Fatalf("formation: %v", err)
	}
	if f.monitor, err = f.run("monitor", mdata); err != nil {
		t.Fatalf("formation: %v", err)
	}
	if err := f.await(2*time.Minute, "the monitor accepting connections", func(ctx context.Context) (bool, error) {
		_, err := f.states(ctx)
		return err == nil, err
	}); err != nil {
		t.Fatalf("formation: %v", err)
	}

	// The first node becomes the primary ("single" until a standby joins); the second one
	// is a pg_basebackup of it.
	if err := f.startNode(0, true); err != nil {
		t.Fatalf("formation: %v", err)
	}
	if err := f.await(2*time.Minute, "node1 single", func(ctx context.Context) (bool, error) {
		st, err := f.states(ctx)
		return len(st) == 1 && st[0].reported == "single" && st[0].goal == "single", err
	}); err != nil {
		t.Fatalf("formation: %v", err)
	}
	if err := f.startNode(1, false); err != nil {
		t.Fatalf("formation: %v", err)
	}
	if err := f.awaitReady(3 * time.Minute); err != nil {
		t.Fatalf("formation: %v", err)
	}
	if err := f.exec(context.Background(), "postgres",
		"CREATE TABLE testenv_failover_probe (at timestamptz NOT NULL DEFAULT now())"); err != nil {
		t.Fatalf("formation: probe table: %v", err)
	}
	return f
}

// DSN is the URL of database db on whichever node is the writable primary: both nodes'
// addresses, and pgx (like libpq) connects to the first that accepts writes. A killed node
// refuses at once; a standby, or a promoted node not yet allowed writes, is skipped.
func (f *Formation) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d,127.0.0.1:%d/%s?target_session_attrs=read-write&connect_timeout=2&sslmode=disable",
		f.ports[0], f.ports[1], db)
}

// NodeDSN is the URL of database db on node (0 or 1) alone, whatever its role.
func (f *Formation) NodeDSN(node int, db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?connect_timeout=2&sslmode=disable", f.ports[node], db)
}

// Port is the loopback port of node (0 or 1).
func (f *Formation) Port(node int) int { return f.ports[node] }

// MonitorURI is the monitor's URL for pg_autoctl (`--monitor`) and for reading the
// pgautofailover schema.
func (f *Formation) MonitorURI() string {
	return fmt.Sprintf("postgres://autoctl_node@127.0.0.1:%d/pg_auto_failover?sslmode=disable", f.monitorPort)
}

// CreateDB creates an empty database on the primary (the standby replays it) and returns its
// DSN. It goes when the formation goes.
func (f *Formation) CreateDB(t testing.TB) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:])
	if err := f.exec(context.Background(), "postgres", "CREATE DATABASE "+name); err != nil {
		t.Fatalf("formation: creating database: %v", err)
	}
	return f.DSN(name)
}

// Primary is the node (0 or 1) that the monitor reports as the primary, in its assigned state
// (primary, or wait_primary when it has no standby), or -1 if there is none right now (during
// a failover) or the monitor cannot be asked.
func (f *Formation) Primary() int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := f.states(ctx)
	if err != nil {
		return -1
	}
	return f.primaryIn(st)
}

// KillPrimary is the primary's machine gone: its pg_autoctl and Postgres (every process of
// the node) are stopped and killed with SIGKILL at once, and its data directory deleted. The
// standby and the monitor are left to notice. It returns when the node was stopped, the
// moment WaitPrimary measures from.
func (f *Formation) KillPrimary(t testing.TB) time.Time {
	t.Helper()
	p := f.Primary()
	if p < 0 {
		t.Fatalf("formation: KillPrimary: the monitor reports no primary")
	}
	f.mu.Lock()
	n := f.nodes[p]
	proc := n.proc
	n.proc = nil
	f.mu.Unlock()
	if proc == nil {
		t.Fatalf("formation: KillPrimary: node %d (%s) was already killed", p, n.name)
	}
	at := proc.kill()
	f.mu.Lock()
	f.killedAt = at
	f.mu.Unlock()
	if err := os.RemoveAll(n.pgdata); err != nil {
		t.Fatalf("formation: KillPrimary: %v", err)
	}
	t.Logf("formation: killed node %d (%s, port %d) and deleted its data", p, n.name, f.ports[p])
	return at
}

// WaitPrimary waits until the monitor reports the other node, the one still running, as the
// primary and an INSERT through DSN commits on it, and returns how long that took since the
// last KillPrimary (or since the call, without one).
func (f *Formation) WaitPrimary(t testing.TB, timeout time.Duration) time.Duration {
	t.Helper()
	f.mu.Lock()
	since := f.killedAt
	f.mu.Unlock()
	if since.IsZero() {
		since = time.Now()
	}
	var at time.Time
	err := f.await(timeout, "a new primary taking writes", func(ctx context.Context) (bool, error) {
		st, err := f.states(ctx)
		if err != nil {
			return false, err
		}
		p := f.primaryIn(st)
		if p < 0 || !f.alive(p) {
			return false, fmt.Errorf("monitor: no running primary yet: %s", describe(st))
		}
		port, err := f.probeWrite(ctx)
		if err != nil {
			return false, err
		}
		if port != f.ports[p] {
			return false, fmt.Errorf("the write went to port %d, the monitor's primary is on %d", port, f.ports[p])
		}
		at = time.Now()
		return true, nil
	})
	if err != nil {
		t.Fatalf("formation: %v\n%s", err, f.logTails(20))
	}
	return at.Sub(since)
}

// AddNode replaces the killed node: the dead one is dropped from the monitor and a new standby
// (a pg_basebackup of the current primary) takes its number and port. It returns once the
// formation again has a primary and a synchronous secondary, so it can fail over again.
func (f *Formation) AddNode(t testing.TB) {
	t.Helper()
	f.mu.Lock()
	slot := -1
	for i, n := range f.nodes {
		if n != nil && n.proc == nil {
			slot = i
		}
	}
	f.mu.Unlock()
	if slot < 0 {
		t.Fatalf("formation: AddNode: no killed node to replace")
	}
	old := f.nodes[slot].name
	if err := f.pgAutoctl("drop", "node", "--monitor", f.MonitorURI(), "--formation", "default",
		"--name", old, "--force"); err != nil {
		t.Fatalf("formation: AddNode: %v", err)
	}
	if err := f.await(time.Minute, old+" gone from the monitor", func(ctx context.Context) (bool, error) {
		st, err := f.states(ctx)
		return err == nil && len(st) == 1, err
	}); err != nil {
		t.Fatalf("formation: AddNode: %v", err)
	}
	if err := f.startNode(slot, false); err != nil {
		t.Fatalf("formation: AddNode: %v", err)
	}
	if err := f.awaitReady(3 * time.Minute); err != nil {
		t.Fatalf("formation: AddNode: %v", err)
	}
}

// startNode creates node number slot with `pg_autoctl create postgres` and runs it.
func (f *Formation) startNode(slot int, first bool) error {
	f.mu.Lock()
	f.seq++
	n := &formationNode{name: fmt.Sprintf("node%d", f.seq)}
	n.pgdata = filepath.Join(f.dir, n.name)
	f.mu.Unlock()
	if err := f.pgAutoctl("create", "postgres", "--pgdata", n.pgdata, "--pgport", strconv.Itoa(f.ports[slot]),
		"--pghost", "127.0.0.1", "--listen", "127.0.0.1", "--hostname", "127.0.0.1", "--name", n.name,
		"--formation", "default", "--monitor", f.MonitorURI(), "--auth", "trust", "--no-ssl",
		"--pgctl", filepath.Join(PostgresBin, "pg_ctl"), "--username", "postgres", "--dbname", "postgres",
		"--candidate-priority", "50", "--replication-quorum", "true"); err != nil {
		return err
	}
	if first { // standbys copy postgresql.conf from their primary
		if err := appendConf(n.pgdata, nodeSettings); err != nil {
			return err
		}
	}
	if f.tuned {
		for _, s := range tunedKeeperSettings {
			if err := f.pgAutoctl("config", "set", "--pgdata", n.pgdata, s[0], s[1]); err != nil {
				return err
			}
		}
	}
	proc, err := f.run(n.name, n.pgdata)
	if err != nil {
		return err
	}
	n.proc = proc
	f.mu.Lock()
	f.nodes[slot] = n
	f.mu.Unlock()
	return nil
}

// awaitReady waits for one primary and one secondary, both in their assigned state and
// running, and synchronous replication on the primary.
func (f *Formation) awaitReady(timeout time.Duration) error {
	return f.await(timeout, "a primary and a synchronous secondary", func(ctx context.Context) (bool, error) {
		st, err := f.states(ctx)
		if err != nil {
			return false, err
		}
		var primary, secondary int
		for _, s := range st {
			switch {
			case s.reported != s.goal || !s.running:
			case s.reported == "primary":
				primary++
			case s.reported == "secondary":
				secondary++
			}
		}
		if len(st) != 2 || primary != 1 || secondary != 1 {
			return false, fmt.Errorf("monitor: %s", describe(st))
		}
		var names string
		err = f.query(ctx, f.DSN("postgres"), "SELECT current_setting('synchronous_standby_names')", &names)
		if err == nil && names == "" {
			err = errors.New("the primary's synchronous_standby_names is empty")
		}
		return err == nil, err
	})
}

type nodeState struct {
	name           string
	port           int
	reported, goal string
	running        bool
	health         int
}

// states reads the monitor's pgautofailover.node table, which `pg_autoctl show state` prints.
func (f *Formation) states(ctx context.Context) ([]nodeState, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, f.MonitorURI()+"&connect_timeout=2")
	if err != nil {
		return nil, fmt.Errorf("monitor: %w", err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	rows, err := conn.Query(ctx, `SELECT nodename, nodeport, reportedstate::text, goalstate::text,
		coalesce(reportedpgisrunning, false), health
		FROM pgautofailover.node WHERE formationid = 'default' ORDER BY nodeid`)
	if err != nil {
		return nil, fmt.Errorf("monitor: %w", err)
	}
	var st []nodeState
	for rows.Next() {
		var s nodeState
		if err := rows.Scan(&s.name, &s.port, &s.reported, &s.goal, &s.running, &s.health); err != nil {
			return nil, fmt.Errorf("monitor: %w", err)
		}
		st = append(st, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("monitor: %w", err)
	}
	return st, nil
}

func describe(st []nodeState) string {
	var parts []string
	for _, s := range st {
		parts = append(parts, fmt.Sprintf("%s :%d %s→%s running=%t health=%d", s.name, s.port, s.reported, s.goal, s.running, s.health))
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

func (f *Formation) primaryIn(st []nodeState) int {
	for _, s := range st {
		if s.reported == s.goal && (s.reported == "primary" || s.reported == "wait_primary" || s.reported == "single") {
			return slices.Index(f.ports[:], s.port)
		}
	}
	return -1
}

func (f *Formation) alive(node int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.nodes[node] != nil && f.nodes[node].proc != nil
}

// probeWrite inserts a row through DSN and returns the port of the server that committed it.
func (f *Formation) probeWrite(ctx context.Context) (int, error) {
	var port int
	err := f.query(ctx, f.DSN("postgres"),
		"INSERT INTO testenv_failover_probe DEFAULT VALUES RETURNING inet_server_port()", &port)
	return port, err
}

func (f *Formation) query(ctx context.Context, dsn, sql string, dest ...any) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	return conn.QueryRow(ctx, sql).Scan(dest...)
}

func (f *Formation) exec(ctx context.Context, db, sql string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, f.DSN(db))
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	_, err = conn.Exec(ctx, sql)
	return err
}

// await polls cond every 100 ms until it holds or timeout passes; then the error names what
// it waited for and cond's last error.
func (f *Formation) await(timeout time.Duration, what string, cond func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		ok, err := cond(ctx)
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last == nil {
				return fmt.Errorf("waiting for %s: not within %s", what, timeout)
			}
			return fmt.Errorf("waiting for %s: not within %s: %w", what, timeout, last)
		case <-tick.C:
		}
	}
}

// command is pg_autoctl with args, as the postgres user when we are root.
func (f *Formation) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "pg_autoctl", args...)
	cmd.Dir = f.dir
	cmd.Env = f.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: f.cred}
	return cmd
}

// pgAutoctl runs a pg_autoctl command to its end.
func (f *Formation) pgAutoctl(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := f.command(ctx, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_autoctl %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// run starts `pg_autoctl run` for pgdata in its own process group, logging to name.log.
func (f *Formation) run(name, pgdata string) (*autoctl, error) {
	logPath := filepath.Join(f.dir, name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("pg_autoctl", "run", "--pgdata", pgdata)
	cmd.Dir = f.dir
	cmd.Env = f.env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Setpgid: KillPrimary stops the whole group at once. If the test binary dies, SIGTERM
	// makes pg_autoctl stop its Postgres and exit.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: f.cred, Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("pg_autoctl run --pgdata %s: %w", pgdata, err)
	}
	p := &autoctl{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		_ = logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// kill is a machine gone: it stops the process group (pg_autoctl's services and the
// postmaster, which then cannot start anything) and every process descending from pg_autoctl
// (Postgres' own processes each have their own process group), kills them all, and waits
// until pg_autoctl is reaped. It returns when everything was stopped: no write can complete
// after that.
func (p *autoctl) kill() time.Time {
	select {
	case <-p.done: // exited by itself: its pid may be another process's by now
		return time.Now()
	default:
	}
	pid := p.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGSTOP)
	procs := descendants(pid)
	for _, d := range procs {
		_ = syscall.Kill(d, syscall.SIGSTOP)
	}
	at := time.Now()
	for _, d := range procs {
		_ = syscall.Kill(d, syscall.SIGKILL)
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	<-p.done
	return at
}

// descendants lists the processes below root, from /proc.
func descendants(root int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		s := string(stat)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) < 2 {
			continue
		}
		ppid, err := strconv.Atoi(fields[1])
		if err != nil {
			continue
		}
		children[ppid] = append(children[ppid], pid)
	}
	var out []int
	for queue := []int{root}; len(queue) > 0; queue = queue[1:] {
		for _, c := range children[queue[0]] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// close kills every process of the formation and removes its directory; after a failed test
// it logs the end of every pg_autoctl log first.
func (f *Formation) close(t testing.TB) {
	if t.Failed() {
		t.Logf("formation logs (%s):\n%s", f.dir, f.logTails(40))
	}
	f.mu.Lock()
	procs := []*autoctl{}
	for _, n := range f.nodes {
		if n != nil && n.proc != nil {
			procs = append(procs, n.proc)
			n.proc = nil
		}
	}
	if f.monitor != nil {
		procs = append(procs, f.monitor)
		f.monitor = nil
	}
	f.mu.Unlock()
	for _, p := range procs {
		p.kill()
	}
	_ = os.RemoveAll(f.dir)
}

// logTails is the last n lines of every pg_autoctl log of the formation.
func (f *Formation) logTails(n int) string {
	logs, _ := filepath.Glob(filepath.Join(f.dir, "*.log"))
	var b strings.Builder
	for _, l := range logs {
		data, err := os.ReadFile(l)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		fmt.Fprintf(&b, "--- %s\n%s\n", filepath.Base(l), strings.Join(lines[max(0, len(lines)-n):], "\n"))
	}
	return b.String()
}

// mkdir makes dir (if need be) for pg_autoctl: owned by postgres when we are root.
func (f *Formation) mkdir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	if f.cred != nil {
		return os.Chown(dir, f.uid, f.gid)
	}
	return nil
}

// appendConf appends settings to pgdata's postgresql.conf.
func appendConf(pgdata string, settings []string) error {
	conf, err := os.OpenFile(filepath.Join(pgdata, "postgresql.conf"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(conf, "\n# hello testenv (after pg_auto_failover's include: these win)\n%s\n",
		strings.Join(settings, "\n"))
	if cerr := conf.Close(); err == nil {
		err = cerr
	}
	return err
}
