package scenario

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseLoad(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Load
		bad  bool
	}{
		{in: "16", want: Load{Workers: 16}},
		{in: "0", want: Load{}},
		{in: "300/s", want: Load{Rate: 300}},
		{in: "2.5/s", want: Load{Rate: 2.5}},
		{in: "-1", bad: true},
		{in: "0/s", bad: true},
		{in: "fast", bad: true},
		{in: "10/m", bad: true},
	} {
		got, err := ParseLoad(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("ParseLoad(%q) = %+v, %v; want %+v (error: %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

// Every victim's real password is in the dictionary exactly once, after the third guess and
// within the spread, so only a fourth evaluated guess can find it.
func TestDictionaryHoldsTheRealPasswordAfterTheThirdGuess(t *testing.T) {
	users := newUsers(200, 0.1, rand.New(rand.NewPCG(1, 2)))
	const spread = 5
	d := newDictionary(users, spread, rand.New(rand.NewPCG(3, 4)))
	positions := map[int]int{}
	for _, u := range users {
		var at []int
		for k := range 3 + spread + 20 {
			if d.guess(u.name, k) == u.password {
				at = append(at, k)
			}
		}
		if len(at) != 1 || at[0] < 3 || at[0] >= 3+spread {
			t.Fatalf("%s: real password at guesses %v, want one of 3…%d", u.name, at, 3+spread-1)
		}
		positions[at[0]]++
	}
	if len(positions) != spread {
		t.Errorf("positions used %v: want all %d", positions, spread)
	}
	if g := d.guess("someone-else", 3); g == "" || len(g) < 8 {
		t.Errorf("guess for an unknown name %q: want a password of 8+ characters", g)
	}
}

func TestNewUsers(t *testing.T) {
	for _, tc := range []struct {
		n          int
		share      float64
		wantFresh  int
		wantCookie int
	}{
		{60, 0.1, 6, 54},
		{10, 0, 0, 10},
		{4, 1, 4, 0},
		{7, 0.5, 4, 3},
	} {
		users := newUsers(tc.n, tc.share, rand.New(rand.NewPCG(1, 1)))
		fresh, ips := 0, map[string]bool{}
		for _, u := range users {
			if u.newDevice {
				fresh++
			}
			ips[u.ip] = true
		}
		if fresh != tc.wantFresh || len(users)-fresh != tc.wantCookie || len(ips) != tc.n {
			t.Errorf("newUsers(%d, %v): %d new, %d with cookies, %d addresses", tc.n, tc.share, fresh, len(users)-fresh, len(ips))
		}
	}
}

func TestReplyOutcome(t *testing.T) {
	for _, tc := range []struct {
		r    reply
		want string
	}{
		{reply{status: 200}, "200"},
		{reply{status: 201}, "200"},
		{reply{status: 401, code: "invalid_credentials"}, "401 invalid_credentials"},
		{reply{status: 403, code: "captcha_required", captchaID: "x"}, "403 captcha_required"},
		{reply{status: 503, code: "busy", retryAfter: true}, "503 busy"},
		{reply{status: 503, code: "busy"}, "503 busy (no Retry-After)"},
		{reply{status: 404}, "404"},
		{reply{err: errors.New("reset")}, "error"},
	} {
		if got := tc.r.outcome(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.r, got, tc.want)
		}
	}
}

func TestParseProcStat(t *testing.T) {
	line := "4242 (hello (x) y) S 1 2 3 0 -1 4194304 125 0 0 0 250 130 0 0 20 0 9 0 364789 3133440 381 18446744073709551615 0\n"
	cpu, rss, err := parseProcStat([]byte(line), 4096)
	if err != nil || cpu != 3.8 || rss != 381*4096 {
		t.Errorf("got cpu %v s, rss %d, %v; want 3.8 s, %d", cpu, rss, err, 381*4096)
	}
	if _, _, err := parseProcStat([]byte("4242 (short) S 1 2"), 4096); err == nil {
		t.Error("a truncated line was accepted")
	}
}

func TestParseMetrics(t *testing.T) {
	text := `# HELP hello_guard_decisions_total Guard decisions.
# TYPE hello_guard_decisions_total counter
hello_guard_decisions_total{policy="login",result="refused"} 12
hello_guard_decisions_total{policy="sender",result="refused"} 30
hello_guard_decisions_total{policy="sender",result="allowed"} 1e+06
hello_hash_queue_length{class="trusted"} 2
hello_hash_queue_length{class="odd \"one\", really"} 1
hello_hash_shed_total 7
go_goroutines 40
`
	refused, queue, shed := 0.0, map[string]float64{}, 0.0
	for _, m := range parseMetrics([]byte(text), "hello_guard_decisions_total", "hello_hash_queue_length", "hello_hash_shed_total") {
		switch {
		case m.name == "hello_guard_decisions_total" && m.labels["result"] == "refused":
			refused += m.value
		case m.name == "hello_hash_queue_length":
			queue[m.labels["class"]] = m.value
		case m.name == "hello_hash_shed_total":
			shed += m.value
		case m.name == "go_goroutines":
			t.Error("a family that was not asked for was returned")
		}
	}
	if refused != 42 || shed != 7 || queue["trusted"] != 2 || queue[`odd "one", really`] != 1 {
		t.Errorf("refused %v, shed %v, queue %v", refused, shed, queue)
	}
}

func TestRecorderBucketsBySecondOfStart(t *testing.T) {
	rec := newRecorder(3)
	t0 := time.Now()
	rec.start(t0)
	rec.add(classCookie, t0.Add(100*time.Millisecond), 5*time.Second, "200", false) // slow: still second 0
	rec.add(string(Brute), t0.Add(1500*time.Millisecond), time.Millisecond, "429 rate_limited", false)
	rec.add(string(Brute), t0.Add(2999*time.Millisecond), time.Millisecond, "200", true)
	rec.add(classNew, t0.Add(10*time.Second), time.Millisecond, "200 after captcha", false) // past the end: the last second
	s := rec.seconds()
	if s[0].outcomes[classCookie]["200"] != 1 || len(s[0].latency[classCookie]) != 1 {
		t.Errorf("second 0: %+v", s[0])
	}
	if s[1].outcomes[string(Brute)]["429 rate_limited"] != 1 || len(s[1].latency[string(Brute)]) != 0 {
		t.Errorf("second 1: %+v (attackers' latencies are not kept)", s[1])
	}
	if s[2].successes[string(Brute)] != 1 || s[2].outcomes[classNew]["200 after captcha"] != 1 {
		t.Errorf("second 2: %+v", s[2])
	}
}

// The acceptance checks of requirement 4, on recorded seconds.
func TestAcceptance(t *testing.T) {
	ms := time.Millisecond
	type phaseData struct {
		ok, captcha, busy int // cookie users' outcomes
		latency           time.Duration
		successes         int
		fresh             map[string]int
	}
	for _, tc := range []struct {
		name     string
		baseline phaseData
		attack   phaseData
		want     []bool
	}{
		{"all good", phaseData{ok: 1000, latency: 200 * ms}, phaseData{ok: 996, busy: 4, latency: 290 * ms, fresh: map[string]int{"200 after captcha": 5, "503 busy": 1}}, []bool{true, true, true, true}},
		{"too many refused", phaseData{ok: 1000, latency: 200 * ms}, phaseData{ok: 994, captcha: 6, latency: 200 * ms}, []bool{false, true, true}},
		{"too slow", phaseData{ok: 100, latency: 200 * ms}, phaseData{ok: 100, latency: 301 * ms}, []bool{true, false, true}},
		{"a success", phaseData{ok: 100, latency: 200 * ms}, phaseData{ok: 100, latency: 200 * ms, successes: 1}, []bool{true, true, false}},
		{"new device locked", phaseData{ok: 100, latency: 200 * ms}, phaseData{ok: 100, latency: 200 * ms, fresh: map[string]int{"429 too_many_attempts": 1, "200": 3}}, []bool{true, true, true, false}},
		{"no logins", phaseData{}, phaseData{}, []bool{false, false, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(3)
			t0 := time.Now()
			rec.start(t0)
			for i, p := range []phaseData{tc.baseline, tc.attack} {
				at := t0.Add(time.Duration(i) * time.Second)
				for range p.ok {
					rec.add(classCookie, at, p.latency, "200", false)
				}
				for range p.captcha {
					rec.add(classCookie, at, p.latency, "403 captcha_required", false)
				}
				for range p.busy {
					rec.add(classCookie, at, p.latency, "503 busy", false)
				}
				for range p.successes {
					rec.add(string(Solver), at, ms, "200", true)
				}
				for o, n := range p.fresh {
					for range n {
						rec.add(classNew, at, ms, o, false)
					}
				}
			}
			ph := newPhases(time.Second, time.Second, time.Second)
			r := buildReport(Config{}, ph, nil, rec, make([]sample, 4), &army{}, &target{})
			var got []bool
			for _, c := range r.checks {
				got = append(got, c.Pass)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("checks %v, want %v:\n%s", got, tc.want, r.markdown())
			}
		})
	}
}

func TestShares(t *testing.T) {
	got := shares(map[string]int{"200": 900, "503 busy": 60, "a": 10, "b": 10, "c": 10, "d": 10})
	want := "90.0% `200`, 6.00% `503 busy`, 1.00% `a`, 1.00% `b`, 2.00% other"
	if got != want {
		t.Errorf("shares: %q, want %q", got, want)
	}
	if shares(nil) != "–" {
		t.Error("no outcomes should print –")
	}
}

func TestWrongAnswerDiffers(t *testing.T) {
	for _, a := range []string{"000000", "912345", "9"} {
		if w := wrong(a); w == a || len(w) != len(a) || strings.Trim(w, "0123456789") != "" {
			t.Errorf("wrong(%q) = %q", a, w)
		}
	}
}

// A sample missing at a phase's edge (a scrape that timed out) narrows the span a rate is
// taken over instead of losing the phase's figure.
func TestPhaseRatesSkipMissingSamples(t *testing.T) {
	smp := make([]sample, 6)
	for k := range smp {
		smp[k] = sample{proc: true, cpu: 0.5 * float64(k), rss: int64(k) << 20, metrics: true, refused: 10 * float64(k)}
	}
	smp[3].metrics = false // the attack phase's last sample
	smp[1].proc = false    // its first
	secs := newRecorder(5).seconds()
	tgt := &target{metrics: "http://x/metrics"}
	ps := phaseOf(phase{"attack", 1, 3}, secs, smp, tgt)
	if !ps.haveProc || ps.cpuCores != 0.5 || ps.cpu != 1 || ps.rssMax != 3<<20 {
		t.Errorf("cpu %v s (%v cores), rss %d", ps.cpu, ps.cpuCores, ps.rssMax)
	}
	if ps.refusalsPerS != 10 {
		t.Errorf("refusals/s %v, want 10", ps.refusalsPerS)
	}
	smp[2].metrics = false // one sample left: no rate
	if ps := phaseOf(phase{"attack", 1, 3}, secs, smp, tgt); !math.IsNaN(ps.refusalsPerS) {
		t.Errorf("refusals/s %v from a single sample", ps.refusalsPerS)
	}
}

func TestAttackersConnectionsOpenedAheadAreReused(t *testing.T) {
	var conns, probes atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			probes.Add(1)
		}
		_, _ = io.WriteString(w, `{}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	cl := newClient(srv.URL, 5*time.Second, nil)
	if err := cl.warm(t.Context(), 4); err != nil {
		t.Fatal(err)
	}
	if conns.Load() != 4 || probes.Load() != 4 {
		t.Fatalf("warm(4): %d connections, %d probes; want 4 and 4", conns.Load(), probes.Load())
	}
	for range 10 {
		if r := cl.login(t.Context(), cl.attacker, loginRequest{name: "n", password: "p", ip: "192.0.2.1"}); !r.ok() {
			t.Fatalf("login: %v", r)
		}
	}
	if conns.Load() != 4 {
		t.Fatalf("10 requests after warm(4) opened %d more connections", conns.Load()-4)
	}

	// A connection idle for longer than hello keeps one is not used: a new one is dialled.
	tr := cl.attacker.Transport.(*connTransport)
	tr.mu.Lock()
	for _, rc := range tr.idle {
		rc.idle = time.Now().Add(-idleLimit)
	}
	tr.mu.Unlock()
	if r := cl.login(t.Context(), cl.attacker, loginRequest{name: "n", password: "p", ip: "192.0.2.1"}); !r.ok() {
		t.Fatalf("login: %v", r)
	}
	if conns.Load() != 5 {
		t.Fatalf("after the pool's connections went stale: %d connections, want 5", conns.Load())
	}
}

func TestParseMachineStat(t *testing.T) {
	busy, err := parseMachineStat([]byte("cpu  100 20 30 4000 50 6 7 8 0 0\ncpu0 50 10 15 2000 25 3 3 4 0 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := float64(100+20+30+6+7+8) / clockTicks; busy != want { // not idle (4000) or iowait (50)
		t.Fatalf("busy %v, want %v", busy, want)
	}
	if _, err := parseMachineStat([]byte("intr 1 2 3\n")); err == nil {
		t.Fatal("a file without the cpu line parsed")
	}
}
