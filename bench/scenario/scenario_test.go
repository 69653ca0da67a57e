package scenario

import (
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary be the hello and the attackers the runs start (see ServeArg
// and ArmyArg).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == ServeArg {
		os.Exit(ServeHello(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == ArmyArg {
		os.Exit(RunArmy(os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

// fastHash keeps the end-to-end runs short: the scenario's own logic is under test here, not
// the cost of argon2id.
var fastHash = []string{"HELLO_HASH_MEMORY=64", "HELLO_HASH_TIME=1"}

func shortRun(t *testing.T, settings []string, attackers map[Kind]Load) Config {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		Server:         ServerOptions{Command: []string{exe, ServeArg}, DB: "sqlite", Limiter: "memory", Settings: append(fastHash, settings...)},
		Army:           ArmyOptions{Command: []string{exe, ArmyArg}, Nice: 19},
		Users:          10,
		NewDeviceShare: 0.5,
		Think:          time.Second,
		Attackers:      attackers,
		BruteIPs:       2, FloodIPs: 2, SolveFraction: 1, StuffingRealShare: 0.5, DictSpread: 3,
		Baseline: 2 * time.Second, Attack: 3 * time.Second, Recovery: 2 * time.Second,
		Timeout: 10 * time.Second,
		Out:     t.TempDir(),
		Seed:    42,
	}
}

// With the protection switched off, the dictionaries hold every victim's password within
// reach: the attackers log in and the run fails its acceptance check. This is what makes a
// PASS mean something.
func TestAttackersSucceedWhenTheProtectionIsOff(t *testing.T) {
	c := shortRun(t, []string{
		"HELLO_CAPTCHA=off", "HELLO_LOGIN_MAX_FAILURES=1000",
		"HELLO_SENDER_LIMIT=1000000/1m", "HELLO_AUTH_SENDER_LIMIT=1000000/1m",
	}, map[Kind]Load{Brute: {Workers: 2}, Botnet: {Workers: 1}, Stuffing: {Workers: 1}})
	res, err := Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if res.Passed() || !strings.Contains(res.Report, "FAIL attacker successes: ") {
		t.Fatalf("the run passed with the protection off:\n%s", res.Report)
	}
	for _, k := range []Kind{Brute, Botnet, Stuffing} {
		if res.Successes[k] == 0 {
			t.Errorf("%s found no password with the protection off:\n%s", k, res.Report)
		}
	}
}

// Every attacker kind strikes in the attack phase only, the production protection stops them
// all, and the report, its checks and the three plots are written.
func TestEveryAttackerKindAgainstTheDefaults(t *testing.T) {
	c := shortRun(t, nil, map[Kind]Load{
		Brute: {Workers: 2}, Botnet: {Workers: 1}, Stuffing: {Rate: 20}, Spray: {Rate: 20},
		Solver: {Workers: 1}, Flood: {Rate: 50},
	})
	res, err := Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + res.Report)
	for _, want := range []string{
		"| baseline (2s) |", "| attack (3s) |", "| recovery (2s) |",
		"| brute | 2 workers |", "| botnet | 1 workers |", "| stuffing | 20/s |", "| spray | 20/s |",
		"| solver | 1 workers |", "| flood | 50/s |",
		"PASS attacker successes: 0 (want 0)",
		"real users with device cookies during the attack: ", "their p99 during the attack: ",
		"real users on new devices during the attack got only",
	} {
		if !strings.Contains(res.Report, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, line := range strings.Split(res.Report, "\n") {
		// Attackers strike in the attack phase only: the other phases show none of them.
		if (strings.HasPrefix(line, "| baseline") || strings.HasPrefix(line, "| recovery")) && !strings.Contains(line, "| 0 | – | 0 |") {
			t.Errorf("attacker requests outside the attack phase: %s", line)
		}
	}
	for k, n := range res.Successes {
		if n != 0 {
			t.Errorf("%s: %d successes against the production defaults", k, n)
		}
	}
	if len(res.Checks) != 4 {
		t.Errorf("%d checks, want 4", len(res.Checks))
	}
	for _, name := range []string{"report.md", "latency.png", "outcomes.png", "cpu.png"} {
		path := filepath.Join(c.Out, name)
		f, err := os.Open(path)
		if err != nil {
			t.Error(err)
			continue
		}
		if strings.HasSuffix(name, ".png") {
			img, err := png.Decode(f)
			if err != nil || img.Bounds().Dx() < 500 {
				t.Errorf("%s: not a plot (%v)", name, err)
			}
		}
		_ = f.Close()
	}
}
