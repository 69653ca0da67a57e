// Command refusalbench measures what a refusal costs end to end: hello refusing logins (one
// sender over its limit; a botnet of distinct senders hammering a locked name) against a
// minimal net/http server answering the same 429 JSON, each pinned to one CPU with the load
// generator (wrk, keep-alive) on the other, in the same run.
//
//	cd bench && go run ./cmd/refusalbench -duration 8s
//
// It needs wrk and taskset (Debian: apt-get install wrk util-linux) and at least 2 CPUs.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

const refusalBody = `{"error":"rate_limited","message":"too many requests, slow down"}` + "\n"

func main() {
	if len(os.Args) == 3 && os.Args[1] == "-minimal" {
		minimal(os.Args[2])
		return
	}
	dur := flag.Duration("duration", 8*time.Second, "load per measurement")
	conns := flag.Int("connections", 32, "wrk keep-alive connections")
	serverCPU := flag.Int("server-cpu", 0, "CPU the server is pinned to")
	loadCPU := flag.Int("load-cpu", 1, "CPU wrk is pinned to")
	flag.Parse()
	if err := run(*dur, *conns, *serverCPU, *loadCPU); err != nil {
		fmt.Fprintln(os.Stderr, "refusalbench:", err)
		os.Exit(1)
	}
}

// minimal is the reference: the smallest net/http server answering the refusal.
func minimal(addr string) {
	body := []byte(refusalBody)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "3")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write(body)
	})
	fmt.Fprintln(os.Stderr, http.ListenAndServe(addr, h))
}

func run(dur time.Duration, conns, serverCPU, loadCPU int) error {
	for _, tool := range []string{"wrk", "taskset"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found: apt-get install wrk util-linux", tool)
		}
	}
	dir, err := os.MkdirTemp("", "refusalbench")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	hello := filepath.Join(dir, "hello")
	build := exec.Command("go", "build", "-o", hello, "./cmd/hello")
	build.Dir, build.Stdout, build.Stderr = "..", os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building hello: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	login := filepath.Join(dir, "login.lua")
	botnet := filepath.Join(dir, "botnet.lua")
	if err := os.WriteFile(login, []byte(luaLogin), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(botnet, []byte(luaLogin+luaBotnet), 0o600); err != nil {
		return err
	}

	type result struct {
		name string
		rps  float64
	}
	var results []result
	measure := func(name, script string, start func(addr string) (*exec.Cmd, error), prepare func(base string) error) error {
		addr, err := freeAddr()
		if err != nil {
			return err
		}
		cmd, err := start(addr)
		if err != nil {
			return err
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		base := "http://" + addr
		if err := waitUp(base); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if prepare != nil {
			if err := prepare(base); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		rps, codes, err := wrk(loadCPU, conns, dur, script, base+"/api/login")
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		fmt.Printf("%-44s %9.0f requests/s  (%s)\n", name, rps, codes)
		results = append(results, result{name, rps})
		return nil
	}
	startMinimal := func(addr string) (*exec.Cmd, error) {
		return startPinned(serverCPU, nil, self, "-minimal", addr)
	}
	startHello := func(extra ...string) func(addr string) (*exec.Cmd, error) {
		return func(addr string) (*exec.Cmd, error) {
			env := append([]string{
				"HELLO_ADDR=" + addr, "HELLO_ADMIN_ADDR=", "HELLO_DB=sqlite:" + filepath.Join(dir, addr+".db"),
				"HELLO_LOG_LEVEL=info", "HELLO_CAPTCHA=off", "HELLO_TRUSTED_PROXIES=127.0.0.1/32",
				"HELLO_SECRET=refusalbench-secret-0123456789abcdef0123456789",
			}, extra...)
			return startPinned(serverCPU, env, hello, "serve")
		}
	}
	fmt.Printf("server pinned to CPU %d, wrk to CPU %d, %d keep-alive connections, %s each\n\n", serverCPU, loadCPU, conns, dur)
	if err := measure("minimal net/http server, same 429 JSON", login, startMinimal, nil); err != nil {
		return err
	}
	if err := measure("hello, one sender over its limit", login, startHello("HELLO_AUTH_SENDER_LIMIT=1/1h"), nil); err != nil {
		return err
	}
	lockVictim := func(base string) error { // 3 wrong passwords: the name is locked
		for i := range 3 {
			body := fmt.Sprintf(`{"username":"victim","password":"wrong password %d"}`, i)
			req, _ := http.NewRequest(http.MethodPost, base+"/api/login", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i+1))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			_ = resp.Body.Close()
		}
		return nil
	}
	if err := measure("hello, botnet (distinct senders) on a locked name", botnet,
		startHello("HELLO_SENDER_LIMIT=1000000/1m", "HELLO_AUTH_SENDER_LIMIT=1000000/1m", "HELLO_LIMITER_MAX_KEYS=100000"), lockVictim); err != nil {
		return err
	}
	ref := results[0].rps
	fmt.Println()
	for _, r := range results[1:] {
		verdict := "PASS"
		if r.rps < 0.75*ref {
			verdict = "FAIL"
		}
		fmt.Printf("%s: %-44s %5.1f%% of the minimal server (target ≥75%%)\n", verdict, r.name, 100*r.rps/ref)
	}
	return nil
}

const luaLogin = `
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"username":"victim","password":"a guess of eight"}'
`

// Each request from another address of 10.0.0.0/8 (behind the trusted local proxy).
const luaBotnet = `
local n = 0
request = function()
  n = n + 1
  wrk.headers["X-Forwarded-For"] = string.format("10.%d.%d.%d", math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
  return wrk.format()
end
`

func startPinned(cpu int, env []string, prog string, args ...string) (*exec.Cmd, error) {
	cmd := exec.Command("taskset", append([]string{"-c", strconv.Itoa(cpu), prog}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = io.Discard // the service's log: its volume is part of what is measured
	cmd.Stderr = os.Stderr
	return cmd, cmd.Start()
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String(), nil
}

func waitUp(base string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_ = resp.Body.Close()
			return nil
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	return errors.New("server did not start")
}

var rpsRE = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)

// wrk runs wrk pinned to cpu and returns requests/s and the statuses seen (non-2xx/3xx count).
func wrk(cpu, conns int, dur time.Duration, script, url string) (float64, string, error) {
	var out bytes.Buffer
	cmd := exec.Command("taskset", "-c", strconv.Itoa(cpu), "wrk", "-t1", "-c"+strconv.Itoa(conns),
		"-d"+strconv.Itoa(int(dur.Seconds()))+"s", "-s", script, url)
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Run(); err != nil {
		return 0, "", fmt.Errorf("wrk: %w", err)
	}
	m := rpsRE.FindStringSubmatch(out.String())
	if m == nil {
		return 0, "", fmt.Errorf("wrk printed no Requests/sec:\n%s", out.String())
	}
	rps, _ := strconv.ParseFloat(m[1], 64)
	codes := "all refused"
	if i := strings.Index(out.String(), "Non-2xx or 3xx responses:"); i < 0 {
		codes = "no refusals: the server answered 2xx/3xx"
	}
	return rps, codes, nil
}
