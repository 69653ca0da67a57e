package shard_test

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hellosvc/hello/internal/store/shard"
	"github.com/hellosvc/hello/internal/store/shardkey"
	"github.com/hellosvc/hello/internal/testenv"
)

// A physical shard that stops affects only its users: they get 503 storage_unavailable within
// HELLO_DB_TIMEOUT, the others log in, /readyz stays 200 naming the shard; when it is back,
// everyone recovers without a restart.
func TestShardDownAffectsOnlyItsUsers(t *testing.T) {
	own := testenv.NewPostgres(t) // s3 lives alone so it can be stopped
	set := newSet(t, 64, nil, nil, own)
	h := testenv.StartHello(t, set.env("HELLO_DB_TIMEOUT", "1s"))
	c := testenv.NewClient(t, h.URL)
	m := shard.RoundRobin(64, []shard.MapShard{{Name: "s1"}, {Name: "s2"}, {Name: "s3"}})
	users := map[string][]string{}
	for _, s := range []string{"s1", "s2", "s3"} {
		for i := range 3 {
			n := nameOn(fmt.Sprintf("%s-user%d", s, i), 64, func(l int) bool { return m.Owner(l) == s })
			if r := c.PostJSON("/api/signup", creds(n)); r.Status != http.StatusCreated {
				t.Fatalf("signup %s = %d %s", n, r.Status, r.Body)
			}
			users[s] = append(users[s], n)
		}
	}
	if err := own.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, n := range users["s3"] {
		start := time.Now()
		r := c.PostJSON("/api/login", creds(n))
		if r.Status != http.StatusServiceUnavailable || r.Code() != "storage_unavailable" || r.Header.Get("Retry-After") == "" {
			t.Fatalf("login of %s with its shard down = %d %s, want 503 storage_unavailable with Retry-After", n, r.Status, r.Body)
		}
		// Bounded by HELLO_DB_TIMEOUT=1s rather than the 5 s connect timeout; the margin
		// absorbs a loaded CI machine.
		if took := time.Since(start); took > 3*time.Second {
			t.Fatalf("login of %s took %s with HELLO_DB_TIMEOUT=1s", n, took)
		}
	}
	for _, s := range []string{"s1", "s2"} {
		for _, n := range users[s] {
			if r := c.PostJSON("/api/login", creds(n)); r.Status != http.StatusOK {
				t.Fatalf("login of %s (on %s, up) = %d %s", n, s, r.Status, r.Body)
			}
		}
	}
	r := c.Get("/readyz")
	body := r.JSON(t)
	checks, _ := body["checks"].(map[string]any)
	if r.Status != http.StatusOK || body["status"] != "degraded" || checks["shard:s3"] != "unavailable" || checks["shard:s1"] != "ok" {
		t.Fatalf("/readyz with s3 down = %d %s", r.Status, r.Body)
	}

	if err := own.Start(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "s3's users log in again", func() bool {
		return c.PostJSON("/api/login", creds(users["s3"][0])).Status == http.StatusOK
	})
	for _, n := range users["s3"] {
		if r := c.PostJSON("/api/login", creds(n)); r.Status != http.StatusOK {
			t.Fatalf("login of %s after its shard came back = %d %s", n, r.Status, r.Body)
		}
	}
	if r := c.Get("/readyz"); r.Status != http.StatusOK || r.JSON(t)["status"] != "ok" {
		t.Fatalf("/readyz after recovery = %d %s", r.Status, r.Body)
	}
}

// load signs up and logs in continuously through several replicas and records what happened.
type load struct {
	mu       sync.Mutex
	acked    map[string]bool // signups answered 201
	failures []string        // anything but success or a retryable 503 storage_unavailable
	retried  atomic.Int64    // 503 storage_unavailable answers
	ops      atomic.Int64
	stop     chan struct{}
	wg       sync.WaitGroup
}

func startLoad(t *testing.T, urls []string, workers int, pick func(i int) string) *load {
	ld := &load{acked: map[string]bool{}, stop: make(chan struct{})}
	for w := range workers {
		base := urls[w%len(urls)]
		ld.wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-ld.stop:
					return
				default:
				}
				name := pick(w*1_000_000 + i)
				ld.step(base, "/api/signup", name, http.StatusCreated, func() {
					ld.mu.Lock()
					ld.acked[name] = true
					ld.mu.Unlock()
				})
				// Log in as a random earlier account, then use the session.
				ld.mu.Lock()
				var other string
				for n := range ld.acked {
					other = n
					break
				}
				ld.mu.Unlock()
				if other != "" {
					r := ld.step(base, "/api/login", other, http.StatusOK, nil)
					if r.status == http.StatusOK {
						me, err := get(base, "/api/me", "Authorization", "Bearer "+r.token)
						ld.check("me "+other, me, err, http.StatusOK)
					}
				}
			}
		})
	}
	return ld
}

func (ld *load) step(base, path, name string, want int, ok func()) reply {
	r, err := post(base, path, creds(name))
	if ld.check(path+" "+name, r, err, want) && ok != nil {
		ok()
	}
	return r
}

func (ld *load) check(what string, r reply, err error, want int) bool {
	ld.ops.Add(1)
	switch {
	case err == nil && r.status == want:
		return true
	case err == nil && r.status == http.StatusServiceUnavailable && r.code == "storage_unavailable":
		ld.retried.Add(1)
		return false
	}
	ld.mu.Lock()
	defer ld.mu.Unlock()
	ld.failures = append(ld.failures, fmt.Sprintf("%s: status %d %s %v", what, r.status, r.code, err))
	return false
}

func (ld *load) finish() {
	close(ld.stop)
	ld.wg.Wait()
}

// `shards move` and `shards add` + `rebalance`, run while two replicas serve signups and
// logins: no request fails (except, at most, a retryable 503 during a fence), and afterwards
// every acknowledged account exists exactly once and can log in.
func TestMoveAndRebalanceUnderLoad(t *testing.T) {
	const logical = 64
	set := newSet(t, logical, shared(3)...)
	env := set.env()
	replicas := []*testenv.Hello{testenv.StartHello(t, env), testenv.StartHello(t, env)}
	urls := []string{replicas[0].URL, replicas[1].URL}
	const moving = 0 // on s1 in the round-robin map
	ld := startLoad(t, urls, 6, func(i int) string {
		if i%2 == 0 { // half the signups go to the logical shard being moved
			return nameOn(fmt.Sprintf("mv%d", i), logical, func(l int) bool { return l == moving })
		}
		return fmt.Sprintf("any%d-%d", i, rand.IntN(1e9))
	})
	stopped := false
	defer func() {
		if !stopped {
			ld.finish()
		}
	}()
	testenv.Eventually(t, 60*time.Second, "load is running", func() bool { return ld.ops.Load() > 50 })

	if out, err := hello(t, env, "shards", "move", "--logical", fmt.Sprint(moving), "--to", "s2"); err != nil {
		t.Fatalf("shards move: %v\n%s", err, out)
	}
	before := ld.ops.Load()
	testenv.Eventually(t, 60*time.Second, "load continues after the move", func() bool { return ld.ops.Load() > before+50 })

	s4 := testenv.SharedPostgres(t).CreateDB(t)
	set.dsn["s4"] = s4
	if out, err := hello(t, env, "shards", "add", "--name", "s4", "--dsn", s4); err != nil {
		t.Fatalf("shards add: %v\n%s", err, out)
	}
	out, err := hello(t, env, "shards", "rebalance")
	if err != nil {
		t.Fatalf("shards rebalance: %v\n%s", err, out)
	}
	before = ld.ops.Load()
	testenv.Eventually(t, 60*time.Second, "load continues after the rebalance", func() bool { return ld.ops.Load() > before+50 })
	ld.finish()
	stopped = true

	if len(ld.failures) > 0 {
		t.Fatalf("%d requests failed (of %d); first: %v", len(ld.failures), ld.ops.Load(), ld.failures[:min(5, len(ld.failures))])
	}
	t.Logf("%d requests, %d acknowledged signups, %d retryable 503s", ld.ops.Load(), len(ld.acked), ld.retried.Load())

	status, err := hello(t, env, "shards", "status")
	if err != nil {
		t.Fatalf("shards status: %v\n%s", err, status)
	}
	for _, s := range []string{"s1", "s2", "s3", "s4"} {
		if !strings.Contains(status, s+"  ") || strings.Count(status, " up ") != 4 || !strings.Contains(status, " 16 ") {
			t.Fatalf("after rebalance every shard should serve 16 logical shards:\n%s", status)
		}
	}
	counts := usernames(t, set.dsn["s1"], set.dsn["s2"], set.dsn["s3"], set.dsn["s4"])
	for n := range counts {
		if counts[n] != 1 {
			t.Errorf("%s is stored %d times", n, counts[n])
		}
	}
	c := testenv.NewClient(t, urls[1])
	movedAcked := 0
	for n := range ld.acked {
		if counts[n] != 1 {
			t.Errorf("acknowledged account %s is stored %d times", n, counts[n])
		}
		if shardkey.Logical(n, logical) == moving {
			movedAcked++
		}
		if r := c.PostJSON("/api/login", creds(n)); r.Status != http.StatusOK {
			t.Errorf("login of acknowledged %s = %d %s", n, r.Status, r.Body)
		}
	}
	if movedAcked == 0 {
		t.Fatal("no signup landed in the moved logical shard; the test proves nothing")
	}
}

// hello, built as the Dockerfile builds it and killed with SIGKILL in a signup burst, loses no
// account whose signup was answered 201.
func TestKilledDuringSignupBurstLosesNoAcknowledgedAccount(t *testing.T) {
	set := newSet(t, 64, shared(3)...)
	bin := testenv.Binary(t)
	env := set.env()
	if out, err := hello(t, env, "migrate"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	addr := freeAddr(t)
	cmd := exec.Command(bin, "serve")
	cmd.Env = []string{"HELLO_DB=" + env["HELLO_DB"], "HELLO_ADDR=" + addr, "HELLO_ADMIN_ADDR=",
		"HELLO_LOG_LEVEL=warn", "HELLO_SECRET=" + testenv.Secret}
	for _, vars := range []map[string]string{testenv.FastHash, testenv.Unguarded} {
		for k, v := range vars {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	defer func() { _ = cmd.Process.Kill(); <-exited }()
	base := "http://" + addr
	testenv.Eventually(t, 30*time.Second, "the binary serves", func() bool {
		r, err := get(base, "/healthz")
		return err == nil && r.status == http.StatusOK
	})

	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				name := fmt.Sprintf("burst%d-%d", w, i)
				r, err := post(base, "/api/signup", creds(name))
				if err != nil {
					return // killed
				}
				if r.status == http.StatusCreated {
					mu.Lock()
					acked = append(acked, name)
					mu.Unlock()
				}
			}
		})
	}
	testenv.Eventually(t, 60*time.Second, "200 signups acknowledged", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 200
	})
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
	wg.Wait()

	h := testenv.StartHello(t, env)
	c := testenv.NewClient(t, h.URL)
	for _, n := range acked {
		if r := c.PostJSON("/api/login", creds(n)); r.Status != http.StatusOK {
			t.Errorf("acknowledged %s after the crash: login = %d %s", n, r.Status, r.Body)
		}
	}
	t.Logf("%d acknowledged signups all present after SIGKILL", len(acked))
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String()
}
