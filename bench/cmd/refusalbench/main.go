// Command refusalbench measures what a refusal costs end to end: hello refusing logins (one
// sender over its limit; a botnet of distinct senders, behind a trusted proxy, hammering a
// locked name) against minimal net/http servers answering the same 429, each server pinned to
// one CPU with the load generator (wrk, keep-alive) on the other.
//
//	cd bench && go run ./cmd/refusalbench -duration 5s -rounds 3
//
// Two references per scenario, both replaying the refusal hello gave in that scenario (captured
// from hello before the rounds, and compared with hello's answer after every run):
//
//   - "minimal": the same status and JSON body with only Content-Type and Retry-After (net/http
//     adds Date and Content-Length, as it does for hello);
//   - "minimal, same headers": the same status, body and every header hello sends with it
//     (security headers, Cache-Control, RateLimit-*, Retry-After, X-Request-Id), set from
//     pre-built values, so the reference does no per-request work hello must do.
//
// The minimal servers read the request body, as a handler that looks at the request would. The
// rounds are interleaved (both references and hello, each scenario, then again) so that load
// from other users of the machine hits every server alike; the result is the median of the
// per-round ratios. Each line also gives the server's CPU time per request (user + system, from
// /proc), which other load on the machine disturbs less than requests/s, and the share of its
// CPU the server used. A round in which a server used less than -min-share of it was disturbed
// (other work took the CPU, unevenly between the servers): the verdict counts only the rounds
// in which every server of the scenario had its CPU, when there are any. A last line per scenario
// compares the two references: how close to the minimal server hello's headers alone let a
// server come. -hello measures a given build of hello instead of ../cmd/hello.
//
// It needs wrk and taskset (Debian: apt-get install wrk util-linux), Linux and 2 CPUs.
package main

import (
	"bytes"
	"context"
	"encoding/json"
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
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) == 4 && os.Args[1] == "-minimal" {
		minimal(os.Args[2], os.Args[3])
		return
	}
	dur := flag.Duration("duration", 5*time.Second, "load per measurement (whole seconds)")
	rounds := flag.Int("rounds", 3, "interleaved rounds; the median ratio is reported")
	conns := flag.Int("connections", 32, "wrk keep-alive connections")
	serverCPU := flag.Int("server-cpu", 0, "CPU the server is pinned to")
	loadCPU := flag.Int("load-cpu", 1, "CPU wrk is pinned to")
	minShare := flag.Float64("min-share", 0.7, "share of its CPU below which a server's run counts as disturbed")
	helloBin := flag.String("hello", "", "a hello binary to measure (default: build ../cmd/hello), e.g. a variant to compare")
	flag.Parse()
	if err := run(*helloBin, *dur, *rounds, *conns, *serverCPU, *loadCPU, *minShare); err != nil {
		fmt.Fprintln(os.Stderr, "refusalbench:", err)
		os.Exit(1)
	}
}

// answer is a refusal as a server sends it: status, headers (without Date and Content-Length,
// which net/http adds) and body.
type answer struct {
	Status  int         `json:"status"`
	Headers [][2]string `json:"headers"`
	Body    string      `json:"body"`
}

// minimal is the reference: the smallest net/http server answering with a fixed refusal.
func minimal(addr, answerFile string) {
	b, err := os.ReadFile(answerFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var a answer
	if err := json.Unmarshal(b, &a); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	type kv struct {
		k string
		v []string
	}
	var hdr []kv
	for _, h := range a.Headers {
		hdr = append(hdr, kv{http.CanonicalHeaderKey(h[0]), []string{h[1]}})
	}
	body := []byte(a.Body)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		wh := w.Header()
		for _, h := range hdr {
			wh[h.k] = h.v
		}
		w.WriteHeader(a.Status)
		_, _ = w.Write(body)
	})
	fmt.Fprintln(os.Stderr, http.ListenAndServe(addr, h))
}

type scenario struct {
	name    string
	script  string             // wrk Lua script
	env     []string           // hello's settings
	prepare func(string) error // run against hello before the load: afterwards it refuses
	probe   func(string) (answer, error)
}

type server struct {
	name  string
	start func(addr string) (*exec.Cmd, error)
	isRef bool
}

type measurement struct {
	rps    float64
	cpuReq time.Duration // server CPU time per request
}

// share is the part of its CPU the server used.
func (m measurement) share() float64 { return m.rps * m.cpuReq.Seconds() }

func run(hello string, dur time.Duration, rounds, conns, serverCPU, loadCPU int, minShare float64) error {
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
	if hello != "" {
		if hello, err = filepath.Abs(hello); err != nil {
			return err
		}
	} else {
		hello = filepath.Join(dir, "hello")
		build := exec.Command("go", "build", "-o", hello, "./cmd/hello")
		build.Dir, build.Stdout, build.Stderr = "..", os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("building hello: %w", err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	write := func(name, content string) (string, error) {
		p := filepath.Join(dir, name)
		return p, os.WriteFile(p, []byte(content), 0o600)
	}
	loginLua, err := write("login.lua", luaLogin)
	if err != nil {
		return err
	}
	botnetLua, err := write("botnet.lua", luaLogin+luaBotnet)
	if err != nil {
		return err
	}

	n := 0
	startHello := func(extra []string) func(addr string) (*exec.Cmd, error) {
		return func(addr string) (*exec.Cmd, error) {
			n++
			env := append([]string{
				"HELLO_ADDR=" + addr, "HELLO_ADMIN_ADDR=", "HELLO_DB=sqlite:" + filepath.Join(dir, fmt.Sprintf("hello%d.db", n)),
				"HELLO_LOG_LEVEL=info", "HELLO_CAPTCHA=off", "HELLO_TRUSTED_PROXIES=127.0.0.1/32",
				"HELLO_SECRET=refusalbench-secret-0123456789abcdef0123456789",
			}, extra...)
			return startPinned(serverCPU, env, hello, "serve")
		}
	}
	scenarios := []scenario{
		{
			name: "one sender over its limit", script: loginLua,
			env: []string{"HELLO_AUTH_SENDER_LIMIT=1/1h"},
			prepare: func(base string) error { // the sender's one login (401): it is over its limit
				a, err := post(base, `{"username":"victim","password":"a guess of eight"}`, "")
				if err == nil && a.Status != http.StatusUnauthorized {
					err = fmt.Errorf("the allowed login: status %d %s", a.Status, a.Body)
				}
				return err
			},
			probe: func(base string) (answer, error) {
				return post(base, `{"username":"victim","password":"a guess of eight"}`, "")
			},
		},
		{
			name: "botnet (distinct senders) on a locked name", script: botnetLua,
			env: []string{"HELLO_SENDER_LIMIT=1000000/1m", "HELLO_AUTH_SENDER_LIMIT=1000000/1m", "HELLO_LIMITER_MAX_KEYS=100000"},
			prepare: func(base string) error { // 3 wrong passwords: the name is locked
				for i := range 3 {
					a, err := post(base, fmt.Sprintf(`{"username":"victim","password":"wrong password %d"}`, i), fmt.Sprintf("192.0.2.%d", i+1))
					if err != nil {
						return err
					}
					if a.Status != http.StatusUnauthorized {
						return fmt.Errorf("locking the name: status %d %s", a.Status, a.Body)
					}
				}
				return nil
			},
			probe: func(base string) (answer, error) {
				return post(base, `{"username":"victim","password":"a guess of eight"}`, "10.255.255.254")
			},
		},
	}

	// Capture hello's refusal in each scenario: the references replay it.
	type plan struct {
		scenario
		want    answer
		servers []server
	}
	var plans []plan
	for _, sc := range scenarios {
		var want answer
		err := withServer(startHello(sc.env), func(base string, _ int) error {
			if err := sc.prepare(base); err != nil {
				return err
			}
			a, err := sc.probe(base)
			if err == nil && a.Status != http.StatusTooManyRequests {
				err = fmt.Errorf("hello answered %d %s, not 429", a.Status, a.Body)
			}
			want = a
			return err
		})
		if err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
		bare := answer{Status: want.Status, Body: want.Body}
		for _, h := range want.Headers {
			if h[0] == "Content-Type" || h[0] == "Retry-After" {
				bare.Headers = append(bare.Headers, h)
			}
		}
		same := answer{Status: want.Status, Body: want.Body, Headers: want.Headers}
		var servers []server
		for i, ref := range []struct {
			name string
			a    answer
		}{{"minimal net/http server", bare}, {"minimal, same headers as hello", same}} {
			b, _ := json.Marshal(ref.a)
			file, err := write(fmt.Sprintf("answer-%d-%d.json", len(plans), i), string(b))
			if err != nil {
				return err
			}
			servers = append(servers, server{name: ref.name, isRef: true, start: func(addr string) (*exec.Cmd, error) {
				return startPinned(serverCPU, nil, self, "-minimal", addr, file)
			}})
			fmt.Printf("%s, %s: %d, %d headers + Date, Content-Length: %s\n", sc.name, ref.name, ref.a.Status, len(ref.a.Headers), headerNames(ref.a))
		}
		fmt.Printf("%s, hello: %d, %d headers + Date, Content-Length, body %q\n", sc.name, want.Status, len(want.Headers), strings.TrimSpace(want.Body))
		servers = append(servers, server{name: "hello", start: startHello(sc.env)})
		plans = append(plans, plan{sc, want, servers})
	}
	fmt.Printf("\nserver pinned to CPU %d, wrk to CPU %d, %d keep-alive connections, %s per run, %d rounds\n\n", serverCPU, loadCPU, conns, dur, rounds)

	results := make([][][]measurement, len(plans)) // [scenario][server][round]
	for i := range plans {
		results[i] = make([][]measurement, len(plans[i].servers))
	}
	for round := range rounds {
		for i, p := range plans {
			for j, srv := range p.servers {
				var m measurement
				err := withServer(srv.start, func(base string, pid int) error {
					if !srv.isRef {
						if err := p.prepare(base); err != nil {
							return err
						}
					}
					var err error
					m, err = wrk(loadCPU, conns, dur, p.script, base+"/api/login", pid)
					if err != nil {
						return err
					}
					if !srv.isRef { // the references replay hello's answer: check it is still that
						got, err := p.probe(base)
						if err != nil {
							return err
						}
						if got.Status != p.want.Status || got.Body != p.want.Body {
							return fmt.Errorf("answered %d %q after the load, the references %d %q", got.Status, got.Body, p.want.Status, p.want.Body)
						}
					}
					return nil
				})
				if err != nil {
					return fmt.Errorf("%s, %s: %w", p.name, srv.name, err)
				}
				results[i][j] = append(results[i][j], m)
				fmt.Printf("round %d  %-44s %-32s %8.0f requests/s  %5.1f µs CPU/request  %3.0f%% of its CPU\n",
					round+1, p.name, srv.name, m.rps, us(m.cpuReq), 100*m.share())
			}
		}
	}

	fmt.Printf("\nhello's requests/s over the reference's in the same round, median of the rounds in which every server of\n"+
		"the scenario used ≥ %.0f%% of its CPU (else of all rounds); and the reference's CPU per request over hello's:\n\n", 100*minShare)
	for i, p := range plans {
		hello := results[i][len(p.servers)-1]
		var clean []int // the undisturbed rounds
		for r := range rounds {
			ok := true
			for j := range p.servers {
				ok = ok && results[i][j][r].share() >= minShare
			}
			if ok {
				clean = append(clean, r)
			}
		}
		counted, note := clean, fmt.Sprintf("%d of %d rounds undisturbed", len(clean), rounds)
		if len(clean) == 0 {
			counted, note = nil, fmt.Sprintf("no round undisturbed: all %d counted, the machine is busy", rounds)
			for r := range rounds {
				counted = append(counted, r)
			}
		}
		for j, srv := range p.servers[:len(p.servers)-1] {
			var ratios, all, cpu []float64
			for r := range rounds {
				all = append(all, hello[r].rps/results[i][j][r].rps)
			}
			for _, r := range counted {
				ratios = append(ratios, hello[r].rps/results[i][j][r].rps)
				cpu = append(cpu, float64(results[i][j][r].cpuReq)/float64(hello[r].cpuReq))
			}
			verdict := "PASS"
			if median(ratios) < 0.75 {
				verdict = "FAIL"
			}
			fmt.Printf("%s: %-44s hello at %5.1f%% of the %s (target ≥75%%; %s; all rounds %s); by CPU per request %5.1f%%\n",
				verdict, p.name, 100*median(ratios), srv.name, note, percents(all), 100*median(cpu))
		}
		// The ceiling of the first ratio: what writing hello's response alone costs a server
		// (servers: minimal, minimal with the same headers, hello).
		var ceiling []float64
		for _, r := range counted {
			ceiling = append(ceiling, results[i][1][r].rps/results[i][0][r].rps)
		}
		fmt.Printf("note: %-44s the minimal server sending hello's headers is at %5.1f%% of the minimal one: hello's ceiling\n",
			p.name, 100*median(ceiling))
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

// withServer starts a server on a free port, waits until it answers, runs f and stops it.
func withServer(start func(addr string) (*exec.Cmd, error), f func(base string, pid int) error) error {
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
		return err
	}
	return f(base, cmd.Process.Pid)
}

func startPinned(cpu int, env []string, prog string, args ...string) (*exec.Cmd, error) {
	cmd := exec.Command("taskset", append([]string{"-c", strconv.Itoa(cpu), prog}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = io.Discard // the service's log: its volume is part of what is measured
	cmd.Stderr = os.Stderr
	return cmd, cmd.Start() // taskset execs prog: cmd.Process is the server
}

// post sends a login as wrk does (from sender behind the proxy unless empty) and returns the answer.
func post(base, body, sender string) (answer, error) {
	req, _ := http.NewRequest(http.MethodPost, base+"/api/login", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if sender != "" {
		req.Header.Set("X-Forwarded-For", sender)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	a := answer{Status: resp.StatusCode, Body: string(b)}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range resp.Header {
			if !yield(k) {
				return
			}
		}
	}) {
		if k == "Date" || k == "Content-Length" {
			continue
		}
		for _, v := range resp.Header[k] {
			a.Headers = append(a.Headers, [2]string{k, v})
		}
	}
	return a, nil
}

func headerNames(a answer) string {
	var names []string
	for _, h := range a.Headers {
		names = append(names, h[0])
	}
	return strings.Join(names, ", ")
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

var (
	rpsRE      = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	requestsRE = regexp.MustCompile(`(\d+) requests in`)
	non2xxRE   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

// wrk runs wrk pinned to cpu against the server (process pid) at url and returns requests/s
// and the server's CPU time per request. Every answer must be a refusal (non-2xx).
func wrk(cpu, conns int, dur time.Duration, script, url string, pid int) (measurement, error) {
	before, err := cpuTime(pid)
	if err != nil {
		return measurement{}, err
	}
	var out bytes.Buffer
	cmd := exec.Command("taskset", "-c", strconv.Itoa(cpu), "wrk", "-t1", "-c"+strconv.Itoa(conns),
		"-d"+strconv.Itoa(int(dur.Seconds()))+"s", "-s", script, url)
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Run(); err != nil {
		return measurement{}, fmt.Errorf("wrk: %w", err)
	}
	after, err := cpuTime(pid)
	if err != nil {
		return measurement{}, err
	}
	m := rpsRE.FindStringSubmatch(out.String())
	r := requestsRE.FindStringSubmatch(out.String())
	if m == nil || r == nil {
		return measurement{}, fmt.Errorf("wrk printed no Requests/sec:\n%s", out.String())
	}
	rps, _ := strconv.ParseFloat(m[1], 64)
	total, _ := strconv.Atoi(r[1])
	refused := 0
	if x := non2xxRE.FindStringSubmatch(out.String()); x != nil {
		refused, _ = strconv.Atoi(x[1])
	}
	if total == 0 || refused != total {
		return measurement{}, fmt.Errorf("%d of %d requests refused:\n%s", refused, total, out.String())
	}
	return measurement{rps: rps, cpuReq: (after - before) / time.Duration(total)}, nil
}

// cpuTime is a process's user + system CPU time, all its threads (Linux /proc; USER_HZ 100).
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // after "pid (comm) "
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

func median(x []float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func percents(x []float64) string {
	var p []string
	for _, v := range x {
		p = append(p, fmt.Sprintf("%.0f%%", 100*v))
	}
	return strings.Join(p, " ")
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
