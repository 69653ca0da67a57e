package scenario

import (
	"sync"
	"time"
)

// recorder keeps every second of the run: per class (a kind of real user or attacker) the
// outcomes, the successes of attackers and the latencies of real users. A request belongs to
// the second it started in.
type recorder struct {
	mu   sync.Mutex
	t0   time.Time
	secs []second
}

type second struct {
	outcomes  map[string]map[string]int // class → outcome → requests
	latency   map[string][]time.Duration
	successes map[string]int
}

func newRecorder(seconds int) *recorder {
	r := &recorder{secs: make([]second, seconds)}
	for i := range r.secs {
		r.secs[i] = second{outcomes: map[string]map[string]int{}, latency: map[string][]time.Duration{}, successes: map[string]int{}}
	}
	return r
}

func (r *recorder) start(t0 time.Time) { r.t0 = t0 }

func (r *recorder) add(class string, start time.Time, took time.Duration, outcome string, success bool) {
	i := int(start.Sub(r.t0) / time.Second)
	r.mu.Lock()
	defer r.mu.Unlock()
	i = min(max(i, 0), len(r.secs)-1)
	s := &r.secs[i]
	if s.outcomes[class] == nil {
		s.outcomes[class] = map[string]int{}
	}
	s.outcomes[class][outcome]++
	if class == classCookie || class == classNew {
		s.latency[class] = append(s.latency[class], took)
	}
	if success {
		s.successes[class]++
	}
}

// merge adds the outcomes and successes another process recorded over the same seconds.
func (r *recorder) merge(secs []secondCounts) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, s := range secs[:min(len(secs), len(r.secs))] {
		for class, o := range s.Outcomes {
			if r.secs[i].outcomes[class] == nil {
				r.secs[i].outcomes[class] = map[string]int{}
			}
			addAll(r.secs[i].outcomes[class], o)
		}
		addAll(r.secs[i].successes, s.Successes)
	}
}

// seconds returns the recorded seconds; call it once every sender has stopped.
func (r *recorder) seconds() []second {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.secs
}

// phase is a named span of whole seconds [from, to).
type phase struct {
	name     string
	from, to int
}

type phases struct{ baseline, attack, recovery phase }

func newPhases(baseline, attack, recovery time.Duration) phases {
	b, a, r := secondsOf(baseline), secondsOf(attack), secondsOf(recovery)
	return phases{
		baseline: phase{"baseline", 0, b},
		attack:   phase{"attack", b, b + a},
		recovery: phase{"recovery", b + a, b + a + r},
	}
}

func (p phases) all() []phase { return []phase{p.baseline, p.attack, p.recovery} }
func (p phases) total() int   { return p.recovery.to }

func secondsOf(d time.Duration) int { return int((d + time.Second - 1) / time.Second) }
