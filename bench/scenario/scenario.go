// Package scenario runs a load scenario against hello: real users log in at random moments
// through three phases (baseline, attack, recovery) while attackers of several kinds strike
// during the attack phase. Every second is recorded (outcomes, latencies, the server's CPU,
// memory and refusals); the run ends with a Markdown report, the acceptance checks of issue 10
// (requirement 4) and PNG plots.
//
// The target is a running hello (its URL and HELLO_SECRET, to read captchas as a person reads
// the image), or one started here as a child process of the runner's own binary, with SQLite,
// PostgreSQL or shards, and a memory or Redis limiter. The attackers play from another child
// process of that binary, at the lowest CPU priority (see ArmyArg). Traffic goes to the target
// only (the loopback address when started here); every loop stops with its phase.
package scenario

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/hellosvc/hello/internal/captcha"
	"github.com/hellosvc/hello/internal/guard/memory"
)

// Config describes one run.
type Config struct {
	// URL is a running hello to test; empty starts one with Server.
	URL string
	// Secret is the target's HELLO_SECRET (required with URL), used to read its captchas.
	Secret string
	// PID is the external target's process, for its CPU and memory (0: not measured).
	PID int
	// MetricsURL is the target's admin /metrics, for server-side refusals (empty: counted
	// from the responses).
	MetricsURL string
	Server     ServerOptions
	Army       ArmyOptions

	Users          int           // real users
	NewDeviceShare float64       // share of them that log in from a new device each time
	Think          time.Duration // mean time between one user's logins (exponential)

	Attackers         map[Kind]Load
	BruteIPs          int     // addresses the brute-force attacker uses
	FloodIPs          int     // addresses of the request flood; 0: a new one per request
	SolveFraction     float64 // share of captchas the solver kind answers right
	StuffingRealShare float64 // share of stuffed credentials that name a real user
	DictSpread        int     // the real password sits at guess 4 … 3+DictSpread

	Baseline, Attack, Recovery time.Duration
	Timeout                    time.Duration // one request's deadline
	Out                        string        // directory for report.md and the PNGs
	Seed                       uint64        // 0: a random seed
	Progress                   io.Writer     // progress lines (nil: discarded)
	CommandLine                string        // how the run was started, for the report
	Pinning                    string        // how server and runner share the CPUs, for the report ("": not pinned)
}

// Result is what a run measured.
type Result struct {
	Report    string  // the Markdown tables and checks
	Checks    []Check // the acceptance checks
	Successes map[Kind]int
	Files     []string
}

// Passed reports whether every acceptance check passed.
func (r *Result) Passed() bool {
	for _, c := range r.Checks {
		if !c.Pass {
			return false
		}
	}
	return true
}

func (c *Config) validate() error {
	switch {
	case c.URL != "" && c.Secret == "":
		return errors.New("-secret (the target's HELLO_SECRET) is required with -url: real users on new devices must read captchas")
	case c.Users < 1:
		return errors.New("-users must be at least 1")
	case c.NewDeviceShare < 0 || c.NewDeviceShare > 1, c.SolveFraction < 0 || c.SolveFraction > 1,
		c.StuffingRealShare < 0 || c.StuffingRealShare > 1:
		return errors.New("shares and fractions are between 0 and 1")
	case c.Think <= 0 || c.Timeout <= 0:
		return errors.New("-think and -timeout must be positive")
	case c.Baseline < time.Second || c.Attack < time.Second || c.Recovery < time.Second:
		return errors.New("each phase lasts at least 1s")
	case c.BruteIPs < 1 || c.FloodIPs < 0 || c.DictSpread < 1:
		return errors.New("-brute-ips and -dict-spread must be at least 1, -flood-ips at least 0")
	case c.Out == "":
		return errors.New("-out is required")
	case c.Army.Nice < 0 || c.Army.Nice > 19:
		return errors.New("-attackers-nice is between 0 and 19")
	}
	return nil
}

// Run runs the scenario and writes report.md and the plots to c.Out.
func Run(ctx context.Context, c Config) (*Result, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	progress := c.Progress
	if progress == nil {
		progress = io.Discard
	}
	seed := c.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	if err := os.MkdirAll(c.Out, 0o755); err != nil {
		return nil, err
	}

	tgt, err := c.target(progress)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tgt.stop() }()
	solver, err := captcha.New(captcha.Options{Secret: []byte(tgt.secret), Spent: memory.New(memory.Options{})})
	if err != nil {
		return nil, err
	}
	cl := newClient(tgt.url, c.Timeout, solver)

	rng := rand.New(rand.NewPCG(seed, 0))
	users := newUsers(c.Users, c.NewDeviceShare, rng)
	fmt.Fprintf(progress, "scenario: target %s; signing up %d real users (seed %d)\n", tgt.url, len(users), seed)
	if err := setUp(ctx, cl, users); err != nil {
		return nil, err
	}
	dict := newDictionary(users, c.DictSpread, rng)

	ph := newPhases(c.Baseline, c.Attack, c.Recovery)
	rec := newRecorder(ph.total())
	sampler := newSampler(tgt, ph.total())

	fmt.Fprintf(progress, "scenario: %s baseline, %s attack, %s recovery\n", c.Baseline, c.Attack, c.Recovery)
	load := loadAverage()
	army := newArmy(c, dict, cl, rec, seed)
	start := time.Now()
	warm := 0
	if _, lean := leanHost(tgt.url); lean && len(army.attackers) > 0 && !c.Army.ColdConnections {
		warm = army.connections()
		start = start.Add(warmLead) // the users and the sampler wait for it too
	}
	start = start.Truncate(time.Millisecond)
	rec.start(start)
	attackStart, attackEnd := start.Add(time.Duration(ph.attack.from)*time.Second), start.Add(time.Duration(ph.attack.to)*time.Second)
	var soldiers *armyProcess
	if len(army.attackers) > 0 {
		spec := c.armySpec(tgt, dict, seed, start, attackStart, attackEnd, ph.total())
		spec.Warm = warm
		soldiers, err = startArmy(ctx, c.Army, spec)
		if err != nil {
			return nil, err
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() { sampler.run(ctx, start) })
	end := start.Add(time.Duration(ph.total()) * time.Second)
	for i, u := range users {
		wg.Go(func() { u.run(ctx, cl, rec, start, end, c.Think, rand.New(rand.NewPCG(seed, uint64(i)+1))) })
	}
	wg.Wait()
	var armyCPU, warmed time.Duration
	if soldiers != nil {
		if armyCPU, warmed, err = soldiers.wait(rec, army); err != nil && ctx.Err() == nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	rep := buildReport(c, ph, users, rec, sampler.samples(), army, tgt)
	rep.machine = fmt.Sprintf("%d CPUs, load average %s at the start and %s at the end", runtime.NumCPU(), load, loadAverage())
	if soldiers != nil {
		rep.machine += fmt.Sprintf("; the attackers' process used %.1f CPU s at nice %d", armyCPU.Seconds(), c.Army.Nice)
		if warm > 0 {
			rep.machine += fmt.Sprintf(", and opened its %d keep-alive connections before the run (in %v), as the trusted proxy in front of hello holds its own", warm, warmed.Round(time.Millisecond))
		} else {
			rep.machine += ", opening its connections as the attack needed them"
		}
	}
	res := &Result{Report: rep.markdown(), Checks: rep.checks, Successes: map[Kind]int{}}
	for _, k := range rep.kinds {
		res.Successes[k.kind] = k.successes
	}
	md := filepath.Join(c.Out, "report.md")
	if err := os.WriteFile(md, []byte(res.Report), 0o644); err != nil {
		return nil, err
	}
	files, err := writePlots(c.Out, rep)
	if err != nil {
		return nil, err
	}
	res.Files = append([]string{md}, files...)
	return res, nil
}

// armySpec tells the attackers' process what to play.
func (c *Config) armySpec(tgt *target, dict *dictionary, seed uint64, t0, from, to time.Time, seconds int) armySpec {
	s := armySpec{URL: tgt.url, Secret: tgt.secret, Timeout: c.Timeout, Attackers: c.Attackers,
		BruteIPs: c.BruteIPs, FloodIPs: c.FloodIPs, SolveFraction: c.SolveFraction, StuffingRealShare: c.StuffingRealShare,
		Seed: seed, T0: t0, From: from, To: to, Seconds: seconds}
	for _, n := range dict.names {
		v := dict.victims[n]
		s.Victims = append(s.Victims, victimSpec{Name: n, Password: v.password, Pos: v.pos})
	}
	return s
}

// loadAverage is the 1-minute load average: other work on the machine shares its CPUs with
// the server and the load generator, which the figures should be read with.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "unknown"
}
