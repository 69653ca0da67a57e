// Command attack runs a load scenario against hello: real users log in at random moments
// through a baseline, an attack and a recovery phase while attackers of several kinds strike
// during the attack; it prints a Markdown table per phase, the acceptance checks of issue 10
// (PASS/FAIL lines; exit status 3 when one fails) and writes report.md and PNG plots to -out.
//
//	cd bench && go run ./cmd/attack                       # starts hello (SQLite), 5 s per phase
//	go run ./cmd/attack -db postgres -limiter redis -baseline 30s -attack 30s -recovery 30s -out results
//	go run ./cmd/attack -url http://127.0.0.1:8080 -secret "$HELLO_SECRET" -pid 1234 -metrics http://127.0.0.1:9090/metrics
//
// Started here, hello runs as a child process of this binary (cli.Run) on loopback ports, with
// the production defaults and HELLO_TRUSTED_PROXIES=127.0.0.1/32 so that the runner can play
// every sender with X-Forwarded-For. An external target needs that setting too. Every loop
// stops with its phase; traffic goes to the target only.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hellosvc/hello/bench/scenario"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == scenario.ServeArg {
		os.Exit(scenario.ServeHello(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == scenario.ArmyArg {
		os.Exit(scenario.RunArmy(os.Stdin, os.Stdout))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := config(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "attack:", err)
		os.Exit(2)
	}
	res, err := scenario.Run(ctx, c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "attack:", err)
		os.Exit(1)
	}
	fmt.Print(res.Report)
	fmt.Println("\nwritten:", strings.Join(res.Files, " "))
	if !res.Passed() {
		os.Exit(3)
	}
}

// settings collects repeated -set HELLO_NAME=value flags.
type settings []string

func (s *settings) String() string     { return strings.Join(*s, " ") }
func (s *settings) Set(v string) error { *s = append(*s, v); return nil }

func config(args []string) (scenario.Config, error) {
	fs := flag.NewFlagSet("attack", flag.ContinueOnError)
	c := scenario.Config{Attackers: map[scenario.Kind]scenario.Load{}}
	fs.StringVar(&c.URL, "url", "", "a running hello to test (default: start one here)")
	fs.StringVar(&c.Secret, "secret", os.Getenv("HELLO_SECRET"), "the target's HELLO_SECRET, to read its captchas as a person would (with -url)")
	fs.IntVar(&c.PID, "pid", 0, "the target's process id, for its CPU and memory (with -url)")
	fs.StringVar(&c.MetricsURL, "metrics", "", "the target's admin /metrics URL, for server-side refusals (with -url)")
	fs.StringVar(&c.Server.DB, "db", "sqlite", "storage of a hello started here: sqlite, postgres or shards")
	fs.IntVar(&c.Server.Shards, "shards", 2, "physical shards with -db shards")
	fs.StringVar(&c.Server.Limiter, "limiter", "memory", "limiter store of a hello started here: memory or redis")
	var set settings
	fs.Var(&set, "set", "a HELLO_NAME=value setting for a hello started here (repeatable)")

	fs.IntVar(&c.Users, "users", 60, "real users")
	fs.Float64Var(&c.NewDeviceShare, "new-device-share", 0.1, "share of the real users who log in from a new device each time (no cookie; they read captchas)")
	fs.DurationVar(&c.Think, "think", 3500*time.Millisecond, "mean time between one real user's logins (exponential gaps)")

	loads := map[scenario.Kind]*string{}
	defaults := map[scenario.Kind]string{scenario.Brute: "16", scenario.Stuffing: "16"}
	help := map[scenario.Kind]string{
		scenario.Brute:    "brute force on the real users' names from -brute-ips addresses",
		scenario.Botnet:   "brute force on the real users' names, a new address per guess",
		scenario.Stuffing: "credential stuffing from a botnet: leaked pairs, -stuffing-real share naming real users",
		scenario.Spray:    "password spraying: one password over 200 names per round, a new address each",
		scenario.Solver:   "the botnet brute force, answering -solve-fraction of its captchas right",
		scenario.Flood:    "requests to the cheapest endpoints (/api/hello, /healthz, /api/me)",
	}
	for _, k := range scenario.Kinds() {
		loads[k] = fs.String(string(k), cmp.Or(defaults[k], "0"), help[k]+`: "N" workers, "N/s" a rate, "0" off`)
	}
	fs.IntVar(&c.BruteIPs, "brute-ips", 4, "addresses of the brute-force attacker")
	fs.IntVar(&c.FloodIPs, "flood-ips", 4, "addresses of the flood (0: a new one per request)")
	fs.Float64Var(&c.SolveFraction, "solve-fraction", 0.5, "share of captchas the solver answers right")
	fs.Float64Var(&c.StuffingRealShare, "stuffing-real", 0.5, "share of stuffed credentials that name a real user")
	fs.IntVar(&c.DictSpread, "dict-spread", 5, "each victim's real password is one of guesses 4 … 3+N")

	fs.DurationVar(&c.Baseline, "baseline", 5*time.Second, "baseline phase (real users only)")
	fs.DurationVar(&c.Attack, "attack", 5*time.Second, "attack phase")
	fs.DurationVar(&c.Recovery, "recovery", 5*time.Second, "recovery phase (real users only)")
	fs.DurationVar(&c.Timeout, "timeout", 10*time.Second, "one request's deadline")
	fs.StringVar(&c.Out, "out", "", "directory for report.md and the PNG plots (default: a new temporary directory)")
	fs.Uint64Var(&c.Seed, "seed", 0, "random seed (0: a random one, printed)")
	fs.IntVar(&c.Army.Nice, "attackers-nice", 19, "niceness of the attackers' process (0 to 19; 0: the runner's priority): hello and the real users come first for the CPU, as they would with the attackers on their own machines")
	fs.BoolVar(&c.Army.ColdConnections, "cold-connections", false, "open the attackers' connections when the attack needs them, not before the run as the trusted proxy in front of hello holds its own")
	serverCPUs := fs.String("server-cpus", "", `CPUs (taskset list, e.g. "0") for a hello started here; this runner takes the others, so the load generator does not take the server's CPU (needs taskset)`)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for k, s := range loads {
		l, err := scenario.ParseLoad(*s)
		if err != nil {
			return c, fmt.Errorf("-%s: %w", k, err)
		}
		c.Attackers[k] = l
	}
	c.Server.Settings = set
	exe, err := os.Executable()
	if err != nil {
		return c, fmt.Errorf("finding this program to start hello and the attackers with: %w", err)
	}
	c.Army.Command = []string{exe, scenario.ArmyArg}
	if c.URL == "" {
		c.Server.Command = []string{exe, scenario.ServeArg}
		if *serverCPUs != "" {
			rest, err := pinElsewhere(*serverCPUs)
			if err != nil {
				return c, fmt.Errorf("-server-cpus: %w", err)
			}
			c.Server.Command = append([]string{"taskset", "-c", *serverCPUs}, c.Server.Command...)
			c.Pinning = fmt.Sprintf("hello pinned to CPU %s, this runner to CPU %s", *serverCPUs, rest)
		}
	}
	if c.URL != "" && c.Secret == "" {
		return c, errors.New("-secret (or HELLO_SECRET) is required with -url")
	}
	if c.Out == "" {
		dir, err := os.MkdirTemp("", "hello-scenario-")
		if err != nil {
			return c, err
		}
		c.Out = dir
	}
	c.Progress = os.Stderr
	c.CommandLine = "go run ./cmd/attack " + strings.Join(args, " ")
	return c, nil
}

// pinElsewhere pins every thread of this process to the CPUs not in server (a taskset list)
// and returns them as a list.
func pinElsewhere(server string) (string, error) {
	taken := map[int]bool{}
	for part := range strings.SplitSeq(server, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return "", fmt.Errorf("%q: want a CPU list such as 0 or 0-1", server)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return "", fmt.Errorf("%q: want a CPU list such as 0 or 0-1", server)
			}
		}
		for cpu := a; cpu <= b; cpu++ {
			taken[cpu] = true
		}
	}
	var rest []string
	for cpu := range runtime.NumCPU() {
		if !taken[cpu] {
			rest = append(rest, strconv.Itoa(cpu))
		}
	}
	if len(rest) == 0 {
		return "", errors.New("no CPU left for the runner")
	}
	list := strings.Join(rest, ",")
	if out, err := exec.Command("taskset", "-a", "-p", "-c", list, strconv.Itoa(os.Getpid())).CombinedOutput(); err != nil {
		return "", fmt.Errorf("pinning the runner: %w: %s", err, out)
	}
	return list, nil
}
