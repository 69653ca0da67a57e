package scenario

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// The acceptance numbers of issue 10, requirement 4.
const (
	minCookieOK    = 99.5 // % of logins with a device cookie that succeed during the attack
	maxP99Increase = 1.5  // attack p99 of those logins over the baseline p99, at most
)

// Check is one acceptance check.
type Check struct {
	Pass bool
	Text string
}

func (c Check) String() string {
	if c.Pass {
		return "PASS " + c.Text
	}
	return "FAIL " + c.Text
}

// report is what a run measured, ready to print and plot.
type report struct {
	cfg      Config
	target   string
	phases   phases
	stats    []phaseStats // one per phase
	kinds    []kindStats  // attack phase, per attacker kind
	checks   []Check
	series   series
	refusals string // where refusals/s come from

	cookieUsers, freshUsers int
	machine                 string
}

type phaseStats struct {
	phase
	cookie, fresh        userStats
	attackReqs           int
	attackOutcomes       map[string]int
	successes            int
	cpu, cpuCores        float64 // CPU seconds in the phase, and per second of it
	machineCores         float64 // every process's CPU per second of the phase; NaN when not read
	rssMax               int64
	haveProc, haveLog    bool
	refusalsPerS, logPer float64
}

type userStats struct {
	outcomes map[string]int
	latency  []time.Duration // sorted
}

func (u userStats) total() int { return sum(u.outcomes) }

// okShare is the % of logins that succeeded, with or without a captcha.
func (u userStats) okShare() float64 {
	return pct(u.outcomes["200"]+u.outcomes["200"+afterCaptcha], u.total())
}

type kindStats struct {
	kind      Kind
	load      Load
	outcomes  map[string]int
	successes int
	dropped   int64
}

// series are the per-second values the plots draw.
type series struct {
	p50, p90, p99, newP50 []float64 // ms, NaN for a second without logins
	real, attackers       []map[string]int
	cpu, rssMiB           []float64 // NaN when not measured
	machine               []float64 // every process's CPU, cores; NaN when not measured
	queue                 []map[string]float64
}

func buildReport(c Config, ph phases, users []*user, rec *recorder, smp []sample, a *army, tgt *target) *report {
	secs := rec.seconds()
	r := &report{cfg: c, target: tgt.url, phases: ph, refusals: "server: hello_guard_decisions_total{result=\"refused\"}"}
	for _, u := range users {
		if u.newDevice {
			r.freshUsers++
		} else {
			r.cookieUsers++
		}
	}
	if tgt.metrics == "" {
		r.refusals = "client: responses 429, 403 and 503"
	}
	for _, p := range ph.all() {
		r.stats = append(r.stats, phaseOf(p, secs, smp, tgt))
	}
	for _, at := range a.attackers {
		ks := kindStats{kind: at.kind, load: at.load, outcomes: map[string]int{}, dropped: at.dropped.Load()}
		for _, s := range secs[ph.attack.from:ph.attack.to] {
			addAll(ks.outcomes, s.outcomes[string(at.kind)])
			ks.successes += s.successes[string(at.kind)]
		}
		// A request that started after the attack window (none should) still counts.
		for _, s := range secs[ph.attack.to:] {
			ks.successes += s.successes[string(at.kind)]
		}
		r.kinds = append(r.kinds, ks)
	}
	r.series = seriesOf(secs, smp)
	r.checks = r.acceptance()
	return r
}

func phaseOf(p phase, secs []second, smp []sample, tgt *target) phaseStats {
	ps := phaseStats{phase: p, attackOutcomes: map[string]int{},
		cookie: userStats{outcomes: map[string]int{}}, fresh: userStats{outcomes: map[string]int{}}}
	refused := 0
	for _, s := range secs[p.from:p.to] {
		addAll(ps.cookie.outcomes, s.outcomes[classCookie])
		addAll(ps.fresh.outcomes, s.outcomes[classNew])
		ps.cookie.latency = append(ps.cookie.latency, s.latency[classCookie]...)
		ps.fresh.latency = append(ps.fresh.latency, s.latency[classNew]...)
		for class, o := range s.outcomes {
			for out, n := range o {
				if isRefusal(out) {
					refused += n
				}
			}
			if class == classCookie || class == classNew {
				continue
			}
			addAll(ps.attackOutcomes, o)
			ps.attackReqs += sum(o)
			ps.successes += s.successes[class]
		}
	}
	slices.Sort(ps.cookie.latency)
	slices.Sort(ps.fresh.latency)
	n := float64(p.to - p.from)
	// A sample can be missing (a scrape that timed out under load): rates are taken between
	// the first and the last sample of the phase that have the value.
	if i, j, ok := bracket(smp, p, func(s sample) bool { return s.proc }); ok {
		ps.haveProc = true
		ps.cpuCores = (smp[j].cpu - smp[i].cpu) / float64(j-i)
		ps.cpu = ps.cpuCores * n
		for _, s := range smp[p.from : p.to+1] {
			ps.rssMax = max(ps.rssMax, s.rss)
		}
	}
	ps.machineCores = math.NaN()
	if i, j, ok := bracket(smp, p, func(s sample) bool { return s.host }); ok {
		ps.machineCores = (smp[j].busy - smp[i].busy) / float64(j-i)
	}
	ps.refusalsPerS = math.NaN()
	if tgt.metrics == "" {
		ps.refusalsPerS = float64(refused) / n
	} else if i, j, ok := bracket(smp, p, func(s sample) bool { return s.metrics }); ok {
		ps.refusalsPerS = (smp[j].refused - smp[i].refused) / float64(j-i)
	}
	from, to := smp[p.from], smp[p.to]
	if tgt.logLines != nil {
		ps.haveLog = true
		ps.logPer = float64(to.logLines-from.logLines) / n
	}
	return ps
}

// bracket finds the first and the last sample of phase p (its start and end included) for
// which has holds.
func bracket(smp []sample, p phase, has func(sample) bool) (first, last int, ok bool) {
	first, last = -1, -1
	for i := p.from; i <= p.to; i++ {
		if has(smp[i]) {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	return first, last, first >= 0 && last > first
}

// isRefusal: an outcome the protection chose (not a verdict on a password).
func isRefusal(outcome string) bool {
	outcome = strings.TrimPrefix(outcome, floodPrefix)
	return strings.HasPrefix(outcome, "429 ") || strings.HasPrefix(outcome, "403 ") || strings.HasPrefix(outcome, "503 ")
}

func seriesOf(secs []second, smp []sample) series {
	var s series
	for i, sec := range secs {
		lat := slices.Clone(sec.latency[classCookie])
		slices.Sort(lat)
		s.p50 = append(s.p50, ms(percentile(lat, 50)))
		s.p90 = append(s.p90, ms(percentile(lat, 90)))
		s.p99 = append(s.p99, ms(percentile(lat, 99)))
		fresh := slices.Clone(sec.latency[classNew])
		slices.Sort(fresh)
		s.newP50 = append(s.newP50, ms(percentile(fresh, 50)))
		real, att := map[string]int{}, map[string]int{}
		for class, o := range sec.outcomes {
			if class == classCookie || class == classNew {
				addAll(real, o)
			} else {
				addAll(att, o)
			}
		}
		s.real, s.attackers = append(s.real, real), append(s.attackers, att)
		cpu, rss := math.NaN(), math.NaN()
		if smp[i].proc && smp[i+1].proc {
			cpu, rss = smp[i+1].cpu-smp[i].cpu, float64(smp[i+1].rss)/(1<<20)
		}
		s.cpu, s.rssMiB = append(s.cpu, cpu), append(s.rssMiB, rss)
		busy := math.NaN()
		if smp[i].host && smp[i+1].host {
			busy = smp[i+1].busy - smp[i].busy
		}
		s.machine = append(s.machine, busy)
		s.queue = append(s.queue, smp[i+1].queue)
	}
	return s
}

func (r *report) acceptance() []Check {
	base, att := r.stats[0], r.stats[1]
	var checks []Check
	ok := att.cookie.okShare()
	checks = append(checks, Check{
		Pass: att.cookie.total() > 0 && ok >= minCookieOK,
		Text: fmt.Sprintf("real users with device cookies during the attack: %.2f%% of %d logins OK (want ≥ %.1f%%)", ok, att.cookie.total(), minCookieOK),
	})
	bp99, ap99 := percentile(base.cookie.latency, 99), percentile(att.cookie.latency, 99)
	limit := time.Duration(float64(bp99) * maxP99Increase)
	checks = append(checks, Check{
		Pass: len(att.cookie.latency) > 0 && len(base.cookie.latency) > 0 && ap99 <= limit,
		Text: fmt.Sprintf("their p99 during the attack: %s (want ≤ %.1f × baseline p99 %s = %s)", dur(ap99), maxP99Increase, dur(bp99), dur(limit)),
	})
	succ := 0
	for _, p := range r.stats {
		succ += p.successes
	}
	checks = append(checks, Check{Pass: succ == 0, Text: fmt.Sprintf("attacker successes: %d (want 0)", succ)})
	if att.fresh.total() > 0 {
		var other []string
		for _, o := range sortedOutcomes(att.fresh.outcomes) {
			switch o {
			case "200", "200" + afterCaptcha, "503 busy", "503 busy" + afterCaptcha:
			default:
				other = append(other, fmt.Sprintf("%d× %s", att.fresh.outcomes[o], o))
			}
		}
		text := "real users on new devices during the attack got only 200 (after a captcha or not) or 503 busy + Retry-After"
		if len(other) > 0 {
			text += "; also: " + strings.Join(other, ", ")
		}
		checks = append(checks, Check{Pass: len(other) == 0, Text: text})
	}
	return checks
}

func (r *report) markdown() string {
	var b strings.Builder
	c := r.cfg
	if c.CommandLine != "" {
		fmt.Fprintf(&b, "`%s`\n\n", c.CommandLine)
	}
	fmt.Fprintf(&b, "Target %s. %d real users with device cookies and %d on new devices, one login each every %s on average (exponential gaps); attackers:", r.target, r.cookieUsers, r.freshUsers, c.Think)
	for _, k := range r.kinds {
		fmt.Fprintf(&b, " %s %s;", k.kind, k.load)
	}
	if len(r.kinds) == 0 {
		b.WriteString(" none;")
	}
	fmt.Fprintf(&b, " phases %s / %s / %s. Machine: %s", c.Baseline, c.Attack, c.Recovery, r.machine)
	if c.Pinning != "" {
		fmt.Fprintf(&b, "; %s", c.Pinning)
	}
	b.WriteString(".\n\n")

	b.WriteString("| phase | real logins OK (device cookie) | p50 | p99 | what they got | new-device logins OK | what they got | attacker requests/s | attacker outcomes | attacker successes | server CPU s (cores) | machine CPU, every process (cores) | RSS max | refusals/s | server log lines/s |\n")
	b.WriteString("|---|---:|---:|---:|---|---:|---|---:|---|---:|---:|---:|---:|---:|---:|\n")
	for _, p := range r.stats {
		n := float64(p.to - p.from)
		cpu, rss, logs := "–", "–", "–"
		if p.haveProc {
			cpu, rss = fmt.Sprintf("%.1f (%.2f)", p.cpu, p.cpuCores), fmt.Sprintf("%.0f MiB", float64(p.rssMax)/(1<<20))
		}
		if p.haveLog {
			logs = fmt.Sprintf("%.0f", p.logPer)
		}
		machine := "–"
		if !math.IsNaN(p.machineCores) {
			machine = fmt.Sprintf("%.2f", p.machineCores)
		}
		fmt.Fprintf(&b, "| %s (%ds) | %s of %d | %s | %s | %s | %s | %s | %.0f | %s | %d | %s | %s | %s | %s | %s |\n",
			p.name, p.to-p.from, pctText(p.cookie.okShare()), p.cookie.total(),
			dur(percentile(p.cookie.latency, 50)), dur(percentile(p.cookie.latency, 99)), shares(p.cookie.outcomes),
			countOf(p.fresh.okShare(), p.fresh.total()), shares(p.fresh.outcomes),
			float64(p.attackReqs)/n, shares(p.attackOutcomes), p.successes, cpu, machine, rss, num(p.refusalsPerS), logs)
	}
	fmt.Fprintf(&b, "\nRefusals/s counted by the %s.\n", r.refusals)
	if len(r.kinds) > 0 {
		a := r.phases.attack
		n := float64(a.to - a.from)
		b.WriteString("\n| attacker (attack phase) | load | requests | requests/s | outcomes | successes | not sent (client at its limit) |\n")
		b.WriteString("|---|---|---:|---:|---|---:|---:|\n")
		for _, k := range r.kinds {
			t := sum(k.outcomes)
			fmt.Fprintf(&b, "| %s | %s | %d | %.0f | %s | %d | %d |\n", k.kind, k.load, t, float64(t)/n, shares(k.outcomes), k.successes, k.dropped)
		}
	}
	b.WriteString("\n")
	for _, ch := range r.checks {
		b.WriteString(ch.String() + "\n")
	}
	return b.String()
}

// percentile is the nearest-rank percentile of sorted durations (0 when there are none).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// shares prints outcomes as "97% 200, 3% 503 busy", largest first, the small ones together.
func shares(outcomes map[string]int) string {
	t := sum(outcomes)
	if t == 0 {
		return "–"
	}
	var parts []string
	rest := 0
	for i, o := range sortedOutcomes(outcomes) {
		if i >= 4 {
			rest += outcomes[o]
			continue
		}
		parts = append(parts, fmt.Sprintf("%s `%s`", pctText(pct(outcomes[o], t)), o))
	}
	if rest > 0 {
		parts = append(parts, pctText(pct(rest, t))+" other")
	}
	return strings.Join(parts, ", ")
}

func sortedOutcomes(outcomes map[string]int) []string {
	return slices.SortedFunc(maps.Keys(outcomes), func(a, b string) int {
		return cmp.Or(cmp.Compare(outcomes[b], outcomes[a]), cmp.Compare(a, b))
	})
}

func pctText(p float64) string {
	switch {
	case math.IsNaN(p):
		return "–"
	case p == 100 || p == 0 || p >= 10:
		return fmt.Sprintf("%.1f%%", p)
	}
	return fmt.Sprintf("%.2f%%", p)
}

func countOf(p float64, n int) string {
	if n == 0 {
		return "–"
	}
	return fmt.Sprintf("%s of %d", pctText(p), n)
}

func pct(n, total int) float64 {
	if total == 0 {
		return math.NaN()
	}
	return 100 * float64(n) / float64(total)
}

func num(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.0f", v)
}

func dur(d time.Duration) string {
	switch {
	case d == 0:
		return "–"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.0f ms", float64(d)/1e6)
}

func ms(d time.Duration) float64 {
	if d == 0 {
		return math.NaN()
	}
	return float64(d) / 1e6
}

func sum(m map[string]int) int {
	t := 0
	for _, n := range m {
		t += n
	}
	return t
}

func addAll(dst, src map[string]int) {
	for k, n := range src {
		dst[k] += n
	}
}
