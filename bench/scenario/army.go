package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/hellosvc/hello/internal/captcha"
	"github.com/hellosvc/hello/internal/guard/memory"
)

// ArmyArg is the first argument that makes the runner's binary play the attackers of a run
// (RunArmy). The runner starts them as a child process, by default at the lowest CPU priority
// (nice 19): on a small machine the load generator shares the CPUs with hello, while real
// attackers spend their own machines' CPU, not the server's. In the runner's process and at
// its priority the attackers' client took half a core at 2,950 requests/s, which the real
// users' password hashes then waited for. Requests the attackers could not send in time are
// reported per kind, so a starved generator shows (at nice 19, 1.6–6% of that rate here).
const ArmyArg = "attack-army"

// ArmyOptions describe the attackers' process.
type ArmyOptions struct {
	// Command starts the runner's binary in army mode: its path, then ArmyArg.
	Command []string
	// Nice is the attackers' niceness (0 to 19); 0 runs them at the runner's priority.
	Nice int
	// ColdConnections opens the attackers' connections when the attack needs them, not before
	// the run (see warmLead).
	ColdConnections bool
}

// warmLead is the time the attackers' process gets, before the run's first second, to open
// its keep-alive connections: as many as its kinds may have requests in flight (maxInFlight
// per kind at a rate, one per worker). Their requests come through the trusted proxy in front
// of hello (X-Forwarded-For), whose connections to hello exist before an attack does. Opened
// at the attack's start instead, they came as a surge no proxy makes: the attackers' process,
// at nice 19 on the CPUs hello uses, holds a connection until it gets a CPU to read the
// answer, so it dialled over 400 connections in the attack's first 100 ms at 2,950
// requests/s, 1,029 in 0.3 s, and the real users' logins that second took up to 270 ms
// (-cold-connections reproduces it; bench/README has the figures).
const warmLead = 3 * time.Second

// armySpec is what the attackers' process is told, on its standard input.
type armySpec struct {
	URL, Secret       string
	Timeout           time.Duration
	Attackers         map[Kind]Load
	BruteIPs          int
	FloodIPs          int
	SolveFraction     float64
	StuffingRealShare float64
	Victims           []victimSpec // in user order
	Seed              uint64
	T0, From, To      time.Time // the run's start (second 0 of the recorder) and the attack window
	Seconds           int
	Warm              int // connections to open before T0 (0: each when first needed)
}

type victimSpec struct {
	Name, Password string
	Pos            int
}

// armyResult is what it answers, on its standard output, once the attack is over.
type armyResult struct {
	Seconds []secondCounts
	Dropped map[Kind]int64
	Warmed  time.Duration // how long opening the spec's Warm connections took
}

// secondCounts is an attacker's share of a second: attackers have no latencies to report.
type secondCounts struct {
	Outcomes  map[string]map[string]int
	Successes map[string]int
}

// RunArmy plays the attackers a spec on standard input describes, writes what they got to
// standard output and returns the exit status; the runner's main calls it when its first
// argument is ArmyArg.
func RunArmy(stdin io.Reader, stdout io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runArmy(ctx, stdin, stdout); err != nil {
		fmt.Fprintln(os.Stderr, "attackers:", err)
		return 1
	}
	return 0
}

func runArmy(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	var spec armySpec
	if err := json.NewDecoder(stdin).Decode(&spec); err != nil {
		return fmt.Errorf("reading the spec: %w", err)
	}
	solver, err := captcha.New(captcha.Options{Secret: []byte(spec.Secret), Spent: memory.New(memory.Options{})})
	if err != nil {
		return err
	}
	dict := &dictionary{victims: make(map[string]victim, len(spec.Victims))}
	for _, v := range spec.Victims {
		dict.victims[v.Name] = victim{password: v.Password, pos: v.Pos}
		dict.names = append(dict.names, v.Name)
	}
	c := Config{Attackers: spec.Attackers, BruteIPs: spec.BruteIPs, FloodIPs: spec.FloodIPs,
		SolveFraction: spec.SolveFraction, StuffingRealShare: spec.StuffingRealShare}
	rec := newRecorder(spec.Seconds)
	rec.start(spec.T0)
	cl := newClient(spec.URL, spec.Timeout, solver)
	res := armyResult{Dropped: map[Kind]int64{}}
	if spec.Warm > 0 {
		t0 := time.Now()
		if err := cl.warm(ctx, spec.Warm); err != nil {
			return err
		}
		if res.Warmed = time.Since(t0); time.Now().After(spec.T0) {
			return fmt.Errorf("opening %d connections took %v, past the run's start", spec.Warm, res.Warmed.Round(time.Millisecond))
		}
	}
	a := newArmy(c, dict, cl, rec, spec.Seed)
	a.run(ctx, spec.From, spec.To)
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, s := range rec.seconds() {
		res.Seconds = append(res.Seconds, secondCounts{Outcomes: s.outcomes, Successes: s.successes})
	}
	for _, at := range a.attackers {
		res.Dropped[at.kind] = at.dropped.Load()
	}
	return json.NewEncoder(stdout).Encode(res)
}

// armyProcess is a started attackers' process.
type armyProcess struct {
	cmd    *exec.Cmd
	out    bytes.Buffer
	stderr bytes.Buffer
}

// startArmy starts the attackers' process and hands it its spec; it sleeps until the attack.
func startArmy(ctx context.Context, o ArmyOptions, spec armySpec) (*armyProcess, error) {
	if len(o.Command) == 0 {
		return nil, errors.New("no command to start the attackers with")
	}
	args := o.Command
	if o.Nice > 0 {
		args = append([]string{"nice", "-n", strconv.Itoa(o.Nice)}, args...)
	}
	in, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	p := &armyProcess{cmd: exec.CommandContext(ctx, args[0], args[1:]...)}
	p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = bytes.NewReader(in), &p.out, &p.stderr
	// One P: in this VM a context switch costs more than a request's own work, and a Go
	// program with two Ps wakes threads for every ready goroutine (at 2,950 requests/s, 6.4
	// CPU s in a 20 s attack with one P, 7.6 with two; at nice 19, 4.6 and 5.4).
	p.cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the attackers: %w", err)
	}
	return p, nil
}

// wait waits for the attackers' process, merges what they got into rec and the kinds'
// dropped counts into a, and returns the CPU time the process used and how long it took to
// open its connections before the run.
func (p *armyProcess) wait(rec *recorder, a *army) (cpu, warmed time.Duration, err error) {
	if err := p.cmd.Wait(); err != nil {
		return 0, 0, fmt.Errorf("the attackers' process: %w: %s", err, bytes.TrimSpace(p.stderr.Bytes()))
	}
	var res armyResult
	if err := json.Unmarshal(p.out.Bytes(), &res); err != nil {
		return 0, 0, fmt.Errorf("reading the attackers' results: %w", err)
	}
	rec.merge(res.Seconds)
	for _, at := range a.attackers {
		at.dropped.Store(res.Dropped[at.kind])
	}
	st := p.cmd.ProcessState
	return st.UserTime() + st.SystemTime(), res.Warmed, nil
}
