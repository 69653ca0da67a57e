package testenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Redis is a throwaway redis-server (the Debian package) on a free loopback port, persistence
// off, in a temporary directory. It is stopped when the test ends.
type Redis struct {
	Addr string // 127.0.0.1:port

	t    testing.TB
	dir  string
	port int

	mu   sync.Mutex
	proc *redisProc
}

type redisProc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited and been reaped
}

// RedisServerPath finds redis-server or explains how to install it.
func RedisServerPath() (string, error) {
	p, err := exec.LookPath("redis-server")
	if err != nil {
		return "", errors.New("redis-server not found in PATH: install it with `apt-get install -y redis-server` (Debian/Ubuntu)")
	}
	return p, nil
}

// StartRedis starts redis-server on a free port of 127.0.0.1 and waits until it answers PING.
// A missing redis-server fails the test (CI installs it) with the apt-get line to run.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	if _, err := RedisServerPath(); err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	r := &Redis{t: t, dir: t.TempDir(), port: port, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	t.Cleanup(r.Kill)
	if err := r.start(); err != nil {
		t.Fatal(err)
	}
	return r
}

// URL is the redis:// URL of the server.
func (r *Redis) URL() string { return "redis://" + r.Addr + "/0" }

// Restart starts the server again on the same port (killing it first if it still runs). The
// data is gone: persistence is off.
func (r *Redis) Restart() {
	r.t.Helper()
	r.Kill()
	if err := r.start(); err != nil {
		r.t.Fatal(err)
	}
}

// Do runs one command over a fresh connection and returns the raw first reply line (enough for
// tests that want to FLUSHALL or check a simple value without a client library).
func (r *Redis) Do(args ...string) (string, error) { return doRedis(r.Addr, time.Second, args...) }

func (r *Redis) start() error {
	path, err := RedisServerPath()
	if err != nil {
		return err
	}
	cmd := exec.Command(path,
		"--port", strconv.Itoa(r.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", r.dir,
		"--daemonize", "no",
		"--protected-mode", "yes",
		"--logfile", filepath.Join(r.dir, "redis.log"),
	)
	cmd.Dir = r.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	r.mu.Lock()
	r.proc = &redisProc{cmd: cmd, done: done}
	r.mu.Unlock()

	deadline := time.Now().Add(20 * time.Second)
	for PingRedis(r.Addr, 200*time.Millisecond) != nil {
		select {
		case <-done:
			log, _ := os.ReadFile(filepath.Join(r.dir, "redis.log"))
			return fmt.Errorf("redis-server exited at start (%v):\n%s", cmd.ProcessState, log)
		case <-time.After(5 * time.Millisecond): // poll interval of the readiness loop
		}
		if time.Now().After(deadline) {
			r.Kill()
			return fmt.Errorf("redis-server on %s did not answer PING within 20s", r.Addr)
		}
	}
	return nil
}

// Kill stops the server with SIGKILL (a crash: clients see connection errors at once) and
// waits until the process is gone.
func (r *Redis) Kill() {
	r.mu.Lock()
	p := r.proc
	r.proc = nil
	r.mu.Unlock()
	if p == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// PingRedis dials addr, sends PING and expects +PONG, all within timeout.
func PingRedis(addr string, timeout time.Duration) error {
	reply, err := doRedis(addr, timeout, "PING")
	if err != nil {
		return err
	}
	if reply != "+PONG" {
		return fmt.Errorf("PING: unexpected reply %q", reply)
	}
	return nil
}

func doRedis(addr string, timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(timeout))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}
