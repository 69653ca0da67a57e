package scenario

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat: 100 on every Linux
// architecture Go supports (the kernel exports it as a constant to user space).
const clockTicks = 100

// sample is the server's state at the start of a second.
type sample struct {
	proc     bool    // cpu and rss were read
	cpu      float64 // CPU seconds used since the process started (user + system)
	rss      int64   // resident memory, bytes
	metrics  bool    // the metrics below were scraped
	refused  float64 // hello_guard_decisions_total{result="refused"}, all policies
	shed     float64 // hello_hash_shed_total, all classes (0 on a server without it)
	queue    map[string]float64
	logLines int64   // lines the server had logged (when started here)
	host     bool    // busy was read
	busy     float64 // CPU seconds the whole machine spent busy since boot, every process and the kernel
}

// sampler reads the server's /proc/PID/stat and /metrics at every whole second of the run.
type sampler struct {
	tgt  *target
	http *http.Client
	mu   sync.Mutex
	got  []sample // index: second; one more than the run's seconds (its end)
}

func newSampler(tgt *target, seconds int) *sampler {
	return &sampler{tgt: tgt, http: &http.Client{Timeout: 900 * time.Millisecond}, got: make([]sample, seconds+1)}
}

func (s *sampler) run(ctx context.Context, t0 time.Time) {
	for k := range s.got {
		if !sleepUntil(ctx, t0.Add(time.Duration(k)*time.Second)) {
			return
		}
		smp := s.take(ctx)
		s.mu.Lock()
		s.got[k] = smp
		s.mu.Unlock()
	}
}

func (s *sampler) samples() []sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got
}

func (s *sampler) take(ctx context.Context) sample {
	var smp sample
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		if busy, err := parseMachineStat(b); err == nil {
			smp.host, smp.busy = true, busy
		}
	}
	if s.tgt.pid > 0 {
		if cpu, rss, err := procStat(s.tgt.pid); err == nil {
			smp.proc, smp.cpu, smp.rss = true, cpu, rss
		}
	}
	if s.tgt.logLines != nil {
		smp.logLines = s.tgt.logLines.Load()
	}
	if s.tgt.metrics == "" {
		return smp
	}
	text, err := s.scrape(ctx)
	if err != nil {
		return smp
	}
	smp.metrics = true
	smp.queue = map[string]float64{}
	for _, m := range parseMetrics(text, "hello_guard_decisions_total", "hello_hash_shed_total", "hello_hash_queue_length") {
		switch {
		case m.name == "hello_guard_decisions_total" && m.labels["result"] == "refused":
			smp.refused += m.value
		case m.name == "hello_hash_shed_total":
			smp.shed += m.value
		case m.name == "hello_hash_queue_length":
			smp.queue[m.labels["class"]] += m.value
		}
	}
	return smp
}

func (s *sampler) scrape(ctx context.Context) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.tgt.metrics, nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", s.tgt.metrics, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

// procStat reads a process's CPU time (user + system) and resident memory from /proc.
func procStat(pid int) (cpu float64, rss int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	return parseProcStat(b, os.Getpagesize())
}

// parseProcStat reads utime, stime (fields 14, 15) and rss (field 24) of a /proc/PID/stat
// line; the command name (field 2) may hold spaces and parentheses, so fields are counted
// from its last ')'.
func parseProcStat(b []byte, pageSize int) (cpu float64, rss int64, err error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, errors.New("/proc stat: no command name")
	}
	f := strings.Fields(string(b[i+1:])) // f[0] is field 3
	if len(f) < 22 {
		return 0, 0, errors.New("/proc stat: too few fields")
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	pages, err3 := strconv.ParseInt(f[21], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return 0, 0, fmt.Errorf("/proc stat: %w", err)
	}
	return float64(ut+st) / clockTicks, pages * int64(pageSize), nil
}

type metric struct {
	name   string
	labels map[string]string
	value  float64
}

// parseMetrics returns the samples of the named families from Prometheus text format.
func parseMetrics(text []byte, names ...string) []metric {
	var out []metric
	for line := range strings.SplitSeq(string(text), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		end := strings.IndexAny(line, "{ ")
		if end < 0 {
			continue
		}
		m := metric{name: line[:end], labels: map[string]string{}}
		if !slices.Contains(names, m.name) {
			continue
		}
		rest := line[end:]
		if rest[0] == '{' {
			rb := strings.LastIndexByte(rest, '}')
			if rb < 0 {
				continue
			}
			m.labels = parseLabels(rest[1:rb])
			rest = rest[rb+1:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		m.value = v
		out = append(out, m)
	}
	return out
}

// parseLabels reads `a="x",b="y\"z"`.
func parseLabels(s string) map[string]string {
	labels := map[string]string{}
	for s != "" {
		eq := strings.IndexByte(s, '=')
		if eq < 0 || eq+1 >= len(s) || s[eq+1] != '"' {
			break
		}
		key := strings.TrimSpace(s[:eq])
		var val strings.Builder
		i := eq + 2
		for ; i < len(s) && s[i] != '"'; i++ {
			if s[i] == '\\' && i+1 < len(s) {
				i++
				switch s[i] {
				case 'n':
					val.WriteByte('\n')
					continue
				}
			}
			val.WriteByte(s[i])
		}
		labels[key] = val.String()
		s = strings.TrimLeft(s[min(i+1, len(s)):], ", ")
	}
	return labels
}

// parseMachineStat reads the machine's busy CPU time from the first line of /proc/stat: user,
// nice, system, irq, softirq and steal (guest time is counted in user); not idle or iowait.
func parseMachineStat(b []byte) (float64, error) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return 0, errors.New("/proc/stat: no cpu line")
	}
	var busy uint64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		v, err := strconv.ParseUint(f[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		busy += v
	}
	return float64(busy) / clockTicks, nil
}
