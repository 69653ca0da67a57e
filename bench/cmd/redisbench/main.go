// Command redisbench measures decisions per second through the guard's Redis store with 1, 8
// and 64 concurrent callers, and what redis-benchmark reaches with the same GCRA script (EVAL,
// 50 clients) against the same server in the same run. It starts its own redis-server on a
// free loopback port (persistence off) and stops it at the end.
//
//	cd bench && go run ./cmd/redisbench [-n 200000] [-callers 1,8,64] [-max 15s]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hellosvc/hello/internal/guard"
	"github.com/hellosvc/hello/internal/guard/memory"
	"github.com/hellosvc/hello/internal/guard/redis"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "redisbench:", err)
		os.Exit(1)
	}
}

func run() error {
	n := flag.Int("n", 200_000, "decisions per measurement (redis-benchmark -n too)")
	callersFlag := flag.String("callers", "1,8,64", "concurrent callers to measure the store with")
	clients := flag.Int("c", 50, "redis-benchmark clients")
	maxDur := flag.Duration("max", 15*time.Second, "longest a single measurement may run")
	flag.Parse()
	var callers []int
	for f := range strings.SplitSeq(*callersFlag, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || c < 1 {
			return fmt.Errorf("-callers: %q", f)
		}
		callers = append(callers, c)
	}

	srv, err := startRedis()
	if err != nil {
		return err
	}
	defer srv.stop()

	// The same script, the same arguments (Redis' TIME, 1e9 per hour so all are allowed).
	r := guard.Rate{Count: 1_000_000_000, Period: time.Hour}
	t, burst := r.GCRA()
	tUS, burstUS := strconv.FormatInt(max(t.Microseconds(), 1), 10), strconv.FormatInt(burst.Microseconds(), 10)
	out, err := exec.Command("redis-benchmark", "-h", "127.0.0.1", "-p", strconv.Itoa(srv.port),
		"-n", strconv.Itoa(*n), "-c", strconv.Itoa(*clients), "-r", "100000", "-q",
		"EVAL", redis.GCRAScript, "1", "hello:{10.__rand_int__}:r", "", tUS, burstUS).CombinedOutput()
	if err != nil {
		return fmt.Errorf("redis-benchmark: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`([0-9.]+) requests per second`).FindSubmatch(out)
	if m == nil {
		return fmt.Errorf("redis-benchmark output not understood:\n%s", out)
	}
	ref, _ := strconv.ParseFloat(string(m[1]), 64)

	s, err := redis.New(redis.Options{
		URL:    "redis://" + srv.addr,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Local:  memory.New(memory.Options{}),
	})
	if err != nil {
		return err
	}
	defer func() { _ = s.Close() }()
	keys := make([]string, 100_000)
	for i := range keys {
		keys[i] = "10." + strconv.Itoa(i>>16&255) + "." + strconv.Itoa(i>>8&255) + "." + strconv.Itoa(i&255)
	}
	ctx := context.Background()
	if _, err := s.Allow(ctx, keys[0], r); err != nil || s.State() != redis.StateOK {
		return fmt.Errorf("warm-up: %v (state %s)", err, s.State())
	}

	fmt.Printf("redis-server %s on %s, %d decisions per row (at most %s each)\n\n", version(), srv.addr, *n, *maxDur)
	fmt.Println("| client | callers | decisions/s | vs redis-benchmark |")
	fmt.Println("|---|---:|---:|---:|")
	fmt.Printf("| redis-benchmark EVAL (same GCRA script) | %d | %.0f | 100%% |\n", *clients, ref)
	for _, c := range callers {
		rate, err := measure(ctx, s, keys, r, c, *n, *maxDur)
		if err != nil {
			return err
		}
		fmt.Printf("| guard/redis Store.Allow | %d | %.0f | %.0f%% |\n", c, rate, 100*rate/ref)
	}
	if s.State() != redis.StateOK {
		return errors.New("the store fell back to local during the run: figures are not Redis'")
	}
	return nil
}

// measure runs n decisions from c goroutines (or stops at maxDur) and returns decisions/s.
func measure(ctx context.Context, s *redis.Store, keys []string, r guard.Rate, c, n int, maxDur time.Duration) (float64, error) {
	var done, next atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(maxDur)
	start := time.Now()
	var wg sync.WaitGroup
	for range c {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(n) || time.Now().After(deadline) {
					return
				}
				res, err := s.Allow(ctx, keys[int(i)%len(keys)], r)
				if err != nil || !res.Allowed {
					firstErr.CompareAndSwap(nil, fmt.Errorf("decision %d: %+v, %v", i, res, err))
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return 0, err
	}
	return float64(done.Load()) / time.Since(start).Seconds(), nil
}

type server struct {
	cmd  *exec.Cmd
	port int
	addr string
	dir  string
}

func startRedis() (*server, error) {
	for _, bin := range []string{"redis-server", "redis-benchmark"} {
		if _, err := exec.LookPath(bin); err != nil {
			return nil, fmt.Errorf("%s not found: apt-get install -y redis-server redis-tools", bin)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	dir, err := os.MkdirTemp("", "redisbench")
	if err != nil {
		return nil, err
	}
	s := &server{port: port, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir}
	s.cmd = exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", "")
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	c := goredis.NewClient(&goredis.Options{Addr: s.addr})
	defer func() { _ = c.Close() }()
	deadline := time.Now().Add(20 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			s.stop()
			return nil, errors.New("redis-server did not answer PING within 20s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return s, nil
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	_ = s.cmd.Wait()
	_ = os.RemoveAll(s.dir)
}

func version() string {
	out, err := exec.Command("redis-server", "--version").Output()
	if err != nil {
		return "?"
	}
	if m := regexp.MustCompile(`v=(\S+)`).FindSubmatch(out); m != nil {
		return string(m[1])
	}
	return strings.TrimSpace(string(out))
}
