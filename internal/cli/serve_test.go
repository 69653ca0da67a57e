package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hellosvc/hello/internal/cli"
	"github.com/hellosvc/hello/internal/testenv"
)

func TestGracefulShutdownFinishesInFlightRequest(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "hello.db")
	h := testenv.StartHello(t, map[string]string{"HELLO_DB": db})
	addr := strings.TrimPrefix(h.URL, "http://")

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	body := `{"username":"inflight","password":"correct horse"}`
	fmt.Fprintf(conn, "POST /api/signup HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", addr, len(body))
	br := bufio.NewReader(conn)
	// The server sends 100 Continue once the handler starts reading the body: the request is in flight.
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("waiting for 100 Continue: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusContinue {
		t.Fatalf("got %s, want 100 Continue", resp.Status)
	}

	h.Signal()
	// Shutdown has begun once the listener refuses new connections.
	testenv.Eventually(t, 30*time.Second, "the listener refusing connections after the shutdown signal", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return true
		}
		_ = c.Close()
		return false
	})

	if _, err := conn.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the in-flight response: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("in-flight signup = %d, want 201", resp.StatusCode)
	}
	if err := h.Wait(); err != nil {
		t.Fatalf("serve returned %v after a graceful shutdown, want nil", err)
	}

	// The acknowledged account survived the shutdown.
	h2 := testenv.StartHello(t, map[string]string{"HELLO_DB": db})
	r := testenv.NewClient(t, h2.URL).PostJSON("/api/login", `{"username":"inflight","password":"correct horse"}`)
	if r.Status != http.StatusOK {
		t.Fatalf("login after restart = %d %s", r.Status, r.Body)
	}
}

func TestRestartKeepsAccounts(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "hello.db")
	h := testenv.StartHello(t, map[string]string{"HELLO_DB": db})
	c := testenv.NewClient(t, h.URL)
	for i := range 5 {
		if r := c.PostJSON("/api/signup", fmt.Sprintf(`{"username":"user%d","password":"correct horse"}`, i)); r.Status != http.StatusCreated {
			t.Fatalf("signup %d = %d %s", i, r.Status, r.Body)
		}
	}
	if err := h.Stop(); err != nil {
		t.Fatal(err)
	}
	h2 := testenv.StartHello(t, map[string]string{"HELLO_DB": db})
	c2 := testenv.NewClient(t, h2.URL)
	for i := range 5 {
		if r := c2.PostJSON("/api/login", fmt.Sprintf(`{"username":"user%d","password":"correct horse"}`, i)); r.Status != http.StatusOK {
			t.Fatalf("login %d after restart = %d %s", i, r.Status, r.Body)
		}
	}
}

func TestBadConfigurationExitsWithStatus2(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		environ []string
		want    string
	}{
		{"malformed duration", nil, []string{"HELLO_SESSION_TTL=forever"}, "HELLO_SESSION_TTL"},
		{"malformed flag", []string{"--shutdown-timeout", "soon"}, nil, "HELLO_SHUTDOWN_TIMEOUT"},
		{"unknown flag", []string{"--nope"}, nil, "nope"},
		{"bad database", nil, []string{"HELLO_DB=mysql://x"}, "HELLO_DB"},
		{"unknown command", []string{"frobnicate"}, nil, "frobnicate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := cli.Run(context.Background(), tt.args, tt.environ, &out)
			if cli.ExitCode(err) != 2 || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run = %v (exit %d), want exit 2 naming %s", err, cli.ExitCode(err), tt.want)
			}
		})
	}
}

// TestBinary runs hello built exactly as the Dockerfile builds it (the binary scripts/test builds
// once per run, or a fresh build; see testenv.Binary) and its sub-commands.
func TestBinary(t *testing.T) {
	dockerfile, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	build := `CGO_ENABLED=0 go build -trimpath -ldflags "` +
		strings.ReplaceAll(testenv.BinaryLDFlags, testenv.BinaryVersion, "${VERSION}") + `"`
	if !strings.Contains(regexp.MustCompile(`\s*\\\n\s*`).ReplaceAllString(string(dockerfile), " "), build) {
		t.Fatalf("the Dockerfile no longer runs %s: make testenv.Binary and scripts/test build as it does", build)
	}
	bin := testenv.Binary(t)
	// A binary handed over by $HELLO_TEST_BINARY must have been built that way too.
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if settings["CGO_ENABLED"] != "0" || settings["-trimpath"] != "true" {
		t.Fatalf("%s was built with CGO_ENABLED=%s -trimpath=%s, want 0 and true", bin, settings["CGO_ENABLED"], settings["-trimpath"])
	}
	exe, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = exe.Close() }()
	if _, err := exe.Symbols(); !errors.Is(err, elf.ErrNoSymbols) { // -s (which implies -w)
		t.Fatalf("%s has a symbol table: not linked with -s", bin)
	}

	out, err := exec.Command(bin, "version").Output()
	if err != nil || strings.TrimSpace(string(out)) != "hello "+testenv.BinaryVersion {
		t.Fatalf("hello version = %q, %v", out, err)
	}

	cmd := exec.Command(bin, "serve")
	cmd.Env = []string{"HELLO_SESSION_TTL=1x"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(stderr.String(), "HELLO_SESSION_TTL") {
		t.Fatalf("hello with a malformed setting: %v, stderr %q; want exit 2 naming the setting", err, stderr.String())
	}

	dir := t.TempDir()
	migrate := exec.Command(bin, "migrate")
	migrate.Env = []string{"HELLO_DB=sqlite:" + filepath.Join(dir, "m.db")}
	if out, err := migrate.CombinedOutput(); err != nil || !strings.Contains(string(out), `"applied":2`) {
		t.Fatalf("hello migrate = %v\n%s", err, out)
	}
	again := exec.Command(bin, "migrate")
	again.Env = migrate.Env
	if out, err := again.CombinedOutput(); err != nil || !strings.Contains(string(out), `"applied":0`) {
		t.Fatalf("second hello migrate = %v\n%s", err, out)
	}

	h := testenv.StartHello(t, nil)
	probe := exec.Command(bin, "healthcheck")
	probe.Env = []string{"HELLO_ADDR=" + strings.TrimPrefix(h.URL, "http://")}
	if out, err := probe.CombinedOutput(); err != nil {
		t.Fatalf("healthcheck against a running service: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	_ = ln.Close()
	probe = exec.Command(bin, "healthcheck")
	probe.Env = []string{"HELLO_ADDR=" + closed}
	if err := probe.Run(); err == nil {
		t.Fatal("healthcheck against nothing succeeded")
	}
}

// Issue 12: on SIGTERM /readyz turns 503 while requests are still served for HELLO_DRAIN_TIME,
// then the listener closes and Run returns.
func TestDrainingIsVisibleBeforeTheListenerCloses(t *testing.T) {
	h := testenv.StartHello(t, map[string]string{"HELLO_DRAIN_TIME": "3s"})
	c := testenv.NewClient(t, h.URL)
	if r := c.Get("/readyz"); r.Status != http.StatusOK {
		t.Fatalf("/readyz before SIGTERM = %d", r.Status)
	}
	h.Signal()
	testenv.Eventually(t, 3*time.Second, "/readyz answers 503 while draining", func() bool {
		return c.Get("/readyz").Status == http.StatusServiceUnavailable
	})
	if r := c.Get("/api/hello"); r.Status != http.StatusOK {
		t.Fatalf("a request while draining = %d, want it served", r.Status)
	}
	if err := h.Wait(); err != nil {
		t.Fatalf("Run after draining: %v", err)
	}
}
