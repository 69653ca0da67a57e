package scenario

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hellosvc/hello/internal/cli"
	"github.com/hellosvc/hello/internal/testenv"
)

// ServeArg is the first argument that makes the runner's binary run hello itself (cli.Run with
// the rest of the arguments): the scenario starts its server as a child process of its own
// binary, so /proc/PID of the server counts the server's CPU and memory alone, not the load
// generator's.
const ServeArg = "serve-hello"

// ServeHello runs hello (cli.Run) until SIGTERM or SIGINT and returns the exit status; the
// runner's main calls it when its first argument is ServeArg.
func ServeHello(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cli.Run(ctx, args, os.Environ(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "hello:", err)
		return cli.ExitCode(err)
	}
	return 0
}

// ServerOptions describe the hello a run starts when it is given no URL.
type ServerOptions struct {
	// Command starts the runner's binary in hello mode: its path, then ServeArg.
	Command  []string
	DB       string   // sqlite, postgres or shards
	Shards   int      // physical shards (databases) with DB=shards
	Limiter  string   // memory or redis
	Settings []string // more HELLO_*=value settings, applied last
}

// target is the service under test.
type target struct {
	url, metrics, secret string
	pid                  int
	logLines             *atomic.Int64 // lines the server logged; nil when not started here
	stop                 func() error
}

func (c *Config) target(progress io.Writer) (*target, error) {
	if c.URL != "" {
		return &target{url: strings.TrimRight(c.URL, "/"), metrics: c.MetricsURL, secret: c.Secret, pid: c.PID,
			stop: func() error { return nil }}, nil
	}
	return startServer(c.Server, progress)
}

// startServer starts the storage and limiter the options name (throwaway servers from
// testenv) and hello on loopback ports, with the production defaults apart from a trusted
// local proxy: the runner plays every sender through X-Forwarded-For.
func startServer(o ServerOptions, progress io.Writer) (_ *target, err error) {
	if len(o.Command) == 0 {
		return nil, errors.New("no command to start hello with")
	}
	h, err := newHarness()
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			h.close()
		}
	}()
	secret := randomHex(24)
	vars := []string{
		"HELLO_ADDR=127.0.0.1:0", "HELLO_ADMIN_ADDR=127.0.0.1:0", "HELLO_SECRET=" + secret,
		"HELLO_TRUSTED_PROXIES=127.0.0.1/32",
	}
	db, err := h.database(o.DB, o.Shards, progress)
	if err != nil {
		return nil, err
	}
	vars = append(vars, db...)
	switch o.Limiter {
	case "memory":
	case "redis":
		var url string
		if err := h.do(func() { url = testenv.StartRedis(h).URL() }); err != nil {
			return nil, err
		}
		vars = append(vars, "HELLO_REDIS_URL="+url)
	default:
		return nil, fmt.Errorf("-limiter %q: memory or redis", o.Limiter)
	}
	for _, s := range o.Settings {
		if !strings.HasPrefix(s, "HELLO_") || !strings.Contains(s, "=") {
			return nil, fmt.Errorf("-set %q: want HELLO_NAME=value", s)
		}
	}
	vars = append(vars, o.Settings...)

	cmd := exec.Command(o.Command[0], append(o.Command[1:], "serve")...)
	cmd.Env = append(withoutHello(os.Environ()), vars...)
	cmd.Stderr = progress
	// The server must not outlive the runner, even when the runner is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting hello: %w", err)
	}
	w := &logWatcher{listening: make(chan listener, 2)}
	read := make(chan struct{})
	go func() { w.read(out); close(read) }()
	exited := make(chan error, 1)
	go func() { <-read; exited <- cmd.Wait() }()
	stop := func() error {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		var err error
		select {
		case err = <-exited:
			exited <- err
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			err = errors.New("hello did not stop within 20s of SIGTERM")
		}
		h.close()
		return err
	}

	t := &target{secret: secret, pid: cmd.Process.Pid, logLines: &w.lines, stop: stop}
	deadline := time.After(2 * time.Minute) // PostgreSQL migrations included
	for t.url == "" || t.metrics == "" {
		select {
		case l := <-w.listening:
			switch l.Listener {
			case "http":
				t.url = "http://" + l.Addr
			case "admin":
				t.metrics = "http://" + l.Addr + "/metrics"
			}
		case err := <-exited:
			h.close()
			return nil, fmt.Errorf("hello exited before listening: %w", err)
		case <-deadline:
			_ = stop()
			return nil, errors.New("hello did not listen within 2 minutes")
		}
	}
	fmt.Fprintf(progress, "scenario: hello pid %d at %s (%s, %s limiter)\n", t.pid, t.url, o.DB, o.Limiter)
	return t, nil
}

// database starts the storage kind and returns its HELLO_DB settings.
func (h *harness) database(kind string, shards int, progress io.Writer) ([]string, error) {
	switch kind {
	case "sqlite":
		return []string{"HELLO_DB=sqlite:" + filepath.Join(h.dir, "hello.db")}, nil
	case "postgres", "shards":
	default:
		return nil, fmt.Errorf("-db %q: sqlite, postgres or shards", kind)
	}
	n := 1
	if kind == "shards" {
		if shards < 1 {
			return nil, errors.New("-shards must be at least 1")
		}
		n = shards
	}
	fmt.Fprintln(progress, "scenario: starting a PostgreSQL cluster")
	pg, err := testenv.StartPostgres()
	if err != nil {
		return nil, err
	}
	h.Cleanup(pg.Remove)
	dsns := make([]string, n)
	if err := h.do(func() {
		for i := range dsns {
			dsns[i] = pg.CreateDB(h)
		}
	}); err != nil {
		return nil, err
	}
	if kind == "postgres" {
		return []string{"HELLO_DB=" + dsns[0]}, nil
	}
	var y strings.Builder
	y.WriteString("logical_shards: 1024\nshards:\n")
	for i, d := range dsns {
		fmt.Fprintf(&y, "  - {name: s%d, dsn: %q}\n", i+1, d)
	}
	return []string{"HELLO_DB=shards:", "HELLO_SHARDS=" + y.String()}, nil
}

// withoutHello drops the runner's own HELLO_* variables: the server gets exactly the
// settings of the run.
func withoutHello(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "HELLO_") {
			out = append(out, kv)
		}
	}
	return out
}

type listener struct{ Msg, Listener, Addr string }

// logWatcher counts the server's log lines and reports its listening addresses.
type logWatcher struct {
	lines     atomic.Int64
	listening chan listener
}

func (w *logWatcher) read(r io.Reader) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			w.lines.Add(1)
		}
		if bytes.Contains(line, []byte(`"listening"`)) {
			var l listener
			if json.Unmarshal(line, &l) == nil && l.Msg == "listening" {
				select {
				case w.listening <- l:
				default:
				}
			}
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
