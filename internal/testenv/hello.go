// Package testenv starts real dependencies for tests: hello itself (in-process, through the
// same cli.Run as the binary), and — in later files — throwaway servers on free ports.
package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hellosvc/hello/internal/cli"
)

// FastHash are argon2id settings cheap enough for tests under -race. Production parameters
// are tested in the account package.
var FastHash = map[string]string{"HELLO_HASH_MEMORY": "64", "HELLO_HASH_TIME": "1"}

// Secret is the HELLO_SECRET of test services, so tests can solve their captchas.
const Secret = "test-secret-test-secret-test-secret-0123456789"

// Unguarded turns the brute-force defaults out of the way of tests about something else:
// captchas off, sender limits far above what a test sends. Guard tests set their own values.
var Unguarded = map[string]string{
	"HELLO_CAPTCHA": "off", "HELLO_SENDER_LIMIT": "1000000/1m", "HELLO_AUTH_SENDER_LIMIT": "1000000/1m",
	"HELLO_LOGIN_MAX_FAILURES": "1000",
}

// Hello is a running hello service.
type Hello struct {
	URL      string // http://127.0.0.1:port of the public listener
	AdminURL string // http://127.0.0.1:port of the admin listener
	Logs     *LogBuffer

	cancel context.CancelFunc
	done   chan error
}

// StartHello runs `hello serve` in-process on free ports with a fresh SQLite file, FastHash,
// Unguarded and Secret (env overrides any of them) and waits until it listens. It is stopped
// when the test ends.
func StartHello(t testing.TB, env map[string]string) *Hello {
	t.Helper()
	vars := map[string]string{
		"HELLO_ADDR":       "127.0.0.1:0",
		"HELLO_ADMIN_ADDR": "127.0.0.1:0",
		"HELLO_DB":         "sqlite:" + filepath.Join(t.TempDir(), "hello.db"),
		"HELLO_LOG_LEVEL":  "debug",
		"HELLO_SECRET":     Secret,
	}
	maps.Copy(vars, FastHash)
	maps.Copy(vars, Unguarded)
	maps.Copy(vars, env)
	var environ []string
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		environ = append(environ, k+"="+vars[k])
	}

	ctx, cancel := context.WithCancel(context.Background())
	h := &Hello{Logs: newLogBuffer(), cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- cli.Run(ctx, []string{"serve"}, environ, h.Logs) }()
	t.Cleanup(func() { _ = h.Stop() })

	wantAdmin := vars["HELLO_ADMIN_ADDR"] != ""
	deadline := time.After(60 * time.Second)
	for {
		select {
		case <-h.Logs.changed():
		case err := <-h.done:
			h.done <- err
			t.Fatalf("hello exited before listening: %v\nlogs:\n%s", err, h.Logs)
		case <-deadline:
			t.Fatalf("hello did not start listening within 60s\nlogs:\n%s", h.Logs)
		}
		if addr := h.Logs.listening("http"); addr != "" {
			h.URL = "http://" + addr
		}
		if addr := h.Logs.listening("admin"); addr != "" {
			h.AdminURL = "http://" + addr
		}
		if h.URL != "" && (h.AdminURL != "" || !wantAdmin) {
			return h
		}
	}
}

// Stop cancels the service (as SIGTERM does) and returns what Run returned. Safe to call twice.
func (h *Hello) Stop() error {
	h.cancel()
	err := <-h.done
	h.done <- err
	return err
}

// Signal asks the service to shut down (as SIGTERM does) without waiting for it.
func (h *Hello) Signal() { h.cancel() }

// Wait blocks until the service has stopped and returns what Run returned.
func (h *Hello) Wait() error {
	err := <-h.done
	h.done <- err
	return err
}

// LogBuffer collects the service's JSON log lines.
type LogBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	partial []byte
	records []map[string]any
	notify  chan struct{}
}

func newLogBuffer() *LogBuffer { return &LogBuffer{notify: make(chan struct{}, 1)} }

// Write implements io.Writer.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		var rec map[string]any
		if json.Unmarshal(l.partial[:i], &rec) == nil {
			l.records = append(l.records, rec)
		}
		l.partial = l.partial[i+1:]
	}
	select {
	case l.notify <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (l *LogBuffer) changed() <-chan struct{} { return l.notify }

func (l *LogBuffer) listening(name string) string {
	for _, r := range l.Records() {
		if r["msg"] == "listening" && r["listener"] == name {
			s, _ := r["addr"].(string)
			return s
		}
	}
	return ""
}

// Records returns a copy of the parsed log records so far.
func (l *LogBuffer) Records() []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.records)
}

// String returns everything logged so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Contains reports whether the raw log output contains s anywhere.
func (l *LogBuffer) Contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Contains(l.buf.Bytes(), []byte(s))
}

var _ io.Writer = (*LogBuffer)(nil)
