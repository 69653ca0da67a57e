package httpapi

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hellosvc/hello/internal/account"
)

// refusalCodes are the answers that refuse a request before work is done for it. Under attack
// they come by the thousand per second: a log line each would itself be a flood, so they are
// counted and summarised instead (RefusalLog).
var refusalCodes = map[account.Code]string{
	account.CodeRateLimited:     "sender",
	account.CodeTooManyAttempts: "login",
	account.CodeCaptchaRequired: "captcha",
	account.CodeCaptchaInvalid:  "captcha",
	account.CodeBusy:            "busy",
}

// maxSenders bounds the senders tracked per policy and interval; past it, refusals are counted
// in the total only.
const maxSenders = 1024

// topSenders is how many of the busiest senders a summary line names.
const topSenders = 5

// RefusalLog aggregates refusals: one log line per policy per interval, with the count and the
// busiest senders, in bounded memory; hello_guard_refusals_logged_total counts them all.
type RefusalLog struct {
	log      *slog.Logger
	interval time.Duration
	counter  readMostly[string, prometheus.Counter] // by policy, resolved once each

	mu    sync.Mutex
	start time.Time
	by    map[string]*policyCount
}

type policyCount struct {
	total   int
	senders map[netip.Addr]int
}

// NewRefusalLog returns a RefusalLog writing a summary every interval (when there was any).
func NewRefusalLog(log *slog.Logger, interval time.Duration, reg prometheus.Registerer) (*RefusalLog, error) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hello_guard_refusals_logged_total",
		Help: "Refused requests (rate_limited, too_many_attempts, captcha, busy) by policy; logged as one summary line per policy per interval instead of a line each.",
	}, []string{"policy"})
	if err := reg.Register(c); err != nil {
		return nil, err
	}
	return &RefusalLog{log: log, interval: interval, by: map[string]*policyCount{}, start: time.Now(),
		counter: readMostly[string, prometheus.Counter]{max: 64, compute: func(policy string) prometheus.Counter {
			return c.WithLabelValues(policy)
		}}}, nil
}

// add counts one refusal; it writes the summary of the interval that ended, if one did.
func (l *RefusalLog) add(policy string, sender netip.Addr) {
	l.counter.get(policy).Inc()
	l.mu.Lock()
	defer l.mu.Unlock()
	if time.Since(l.start) >= l.interval {
		l.flushLocked()
	}
	p := l.by[policy]
	if p == nil {
		p = &policyCount{senders: map[netip.Addr]int{}}
		l.by[policy] = p
	}
	p.total++
	if _, ok := p.senders[sender]; ok || len(p.senders) < maxSenders {
		p.senders[sender]++
	}
}

// Flush writes the summary of the refusals counted so far (at shutdown).
func (l *RefusalLog) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushLocked()
}

func (l *RefusalLog) flushLocked() {
	for policy, p := range l.by {
		type sc struct {
			addr netip.Addr
			n    int
		}
		all := make([]sc, 0, len(p.senders))
		for a, n := range p.senders {
			all = append(all, sc{a, n})
		}
		slices.SortFunc(all, func(a, b sc) int { return b.n - a.n })
		top := make([]any, 0, topSenders)
		for _, x := range all[:min(topSenders, len(all))] {
			top = append(top, slog.Int(x.addr.String(), x.n))
		}
		l.log.LogAttrs(context.Background(), slog.LevelInfo, "requests refused",
			slog.String("policy", policy), slog.Int("count", p.total), slog.Int("senders", len(p.senders)),
			slog.Bool("senders_capped", len(p.senders) >= maxSenders),
			slog.Float64("interval_s", time.Since(l.start).Seconds()), slog.Group("top_senders", top...))
	}
	clear(l.by)
	l.start = time.Now()
}
