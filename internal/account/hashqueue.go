package account

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// HashClass is the priority of a password hash. Under load, hashing slots go to the highest
// class waiting, and a full queue sheds the lowest class first, so an attack's admitted guesses
// cannot take the CPU that real users' logins need.
type HashClass int

// Hash classes, highest priority first.
const (
	HashTrusted HashClass = iota // a login from a trusted device of the name
	HashClean                    // a sender with no recent failed login; signups (they passed a captcha)
	HashOther                    // everyone else
	hashClasses
)

func (c HashClass) String() string { return [...]string{"trusted", "clean", "other"}[c] }

// queueFactor sizes the queue: this many waiters per slot at most. Past it, waiting longer
// would only hold memory and sockets for a request that will time out.
const queueFactor = 4

// trustedRecently is how long after a trusted-device login the untrusted classes leave one
// slot to trusted devices.
const trustedRecently = time.Minute

// slots hands out hashing slots by class: a released slot goes straight to the first waiter of
// the highest class; a caller that finds the queue full evicts the newest waiter of a lower
// class, or is shed itself when every waiter is of its class or higher. The lowest class holds
// at most half the slots (at least one), and while trusted devices log in (one did in the last
// minute) the two untrusted classes together hold all but one, so a trusted login never waits
// for a slot behind the hashes of a flood admitted before it (it would wait for a whole hash to
// end), and a flood's hashes never take every core: the requests being answered meanwhile, the
// flood's refusals included, need one, or their goroutines pile up and a trusted hash that the
// runtime preempts waits behind hundreds of them. Without trusted logins (a new deployment,
// nobody has a device cookie yet) untrusted logins may use every slot.
type slots struct {
	mu          sync.Mutex
	free        int
	held        [hashClasses]int // slots held, by class
	limit       [hashClasses]int // most slots a class may hold
	untrusted   int              // most slots the untrusted classes hold together while trusted devices log in
	lastTrusted time.Time        // when a trusted login last asked for a slot
	now         func() time.Time
	release     [hashClasses]func()
	queues      [hashClasses][]*waiter
	queued      int
	maxQueue    int
	wait        time.Duration
	m           *hashMetrics
}

type waiter struct {
	class   HashClass
	ready   chan struct{} // closed when granted or shed
	granted bool          // guarded by slots.mu
	since   time.Time
}

func newSlots(n int, wait time.Duration) *slots {
	s := &slots{free: n, maxQueue: queueFactor * n, wait: wait, m: newHashMetrics(n), now: time.Now}
	for c := range hashClasses {
		s.limit[c] = n
		s.release[c] = func() { s.releaseAs(c) }
	}
	s.limit[HashOther] = max(1, n/2)
	s.untrusted = max(1, n-1)
	return s
}

// may reports whether class may take one more slot (s.mu held).
func (s *slots) may(class HashClass) bool {
	if s.held[class] >= s.limit[class] {
		return false
	}
	return class == HashTrusted || s.held[HashClean]+s.held[HashOther] < s.untrusted ||
		s.lastTrusted.IsZero() || s.now().Sub(s.lastTrusted) > trustedRecently
}

// acquire returns a release function once a slot is this caller's, or errBusy when it was shed
// or waited longer than the wait bound.
func (s *slots) acquire(ctx context.Context, class HashClass) (func(), error) {
	release, _, err := s.acquireQueued(ctx, class)
	return release, err
}

// acquireQueued is acquire that also reports whether the caller waited in the queue (whatever
// was decided for it before may be stale by then).
func (s *slots) acquireQueued(ctx context.Context, class HashClass) (release func(), queued bool, err error) {
	s.mu.Lock()
	if class == HashTrusted {
		s.lastTrusted = s.now()
	}
	if s.free > 0 && s.may(class) {
		s.free--
		s.held[class]++
		s.mu.Unlock()
		s.m.inUse.Inc()
		s.m.wait[class].Observe(0)
		return s.release[class], false, nil
	}
	if s.queued >= s.maxQueue && !s.evictBelow(class) {
		s.mu.Unlock()
		s.m.shed[class].Inc()
		return nil, false, errBusy
	}
	w := &waiter{class: class, ready: make(chan struct{}), since: time.Now()}
	s.queues[class] = append(s.queues[class], w)
	s.queued++
	s.m.queue[class].Inc()
	s.mu.Unlock()

	t := time.NewTimer(s.wait)
	defer t.Stop()
	var cause error
	select {
	case <-w.ready:
	case <-t.C:
		cause = errBusy
	case <-ctx.Done():
		cause = fmt.Errorf("waiting for a hashing slot: %w", ctx.Err())
	}
	s.mu.Lock()
	granted := w.granted
	if !granted && cause != nil { // still queued: leave the queue
		s.remove(w)
	}
	s.mu.Unlock()
	if granted {
		s.m.wait[class].Observe(time.Since(w.since).Seconds())
		return s.release[class], true, nil
	}
	s.m.shed[class].Inc()
	if cause == nil {
		cause = errBusy // evicted by a higher class
	}
	return nil, true, cause
}

// evictBelow sheds the newest waiter of the lowest class below class, if any (s.mu held).
func (s *slots) evictBelow(class HashClass) bool {
	for c := hashClasses - 1; c > class; c-- {
		if q := s.queues[c]; len(q) > 0 {
			w := q[len(q)-1]
			s.queues[c] = q[:len(q)-1]
			s.queued--
			s.m.queue[c].Dec()
			close(w.ready) // not granted: it returns busy
			return true
		}
	}
	return false
}

// remove takes w out of its queue (s.mu held).
func (s *slots) remove(w *waiter) {
	q := s.queues[w.class]
	for i, x := range q {
		if x == w {
			s.queues[w.class] = append(q[:i:i], q[i+1:]...)
			s.queued--
			s.m.queue[w.class].Dec()
			return
		}
	}
}

// releaseAs hands a slot of class held to the first waiter of the highest class that may hold
// one more, or frees it.
func (s *slots) releaseAs(held HashClass) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held[held]--
	for c := range hashClasses {
		if q := s.queues[c]; len(q) > 0 && s.may(c) {
			w := q[0]
			s.queues[c] = q[1:]
			s.queued--
			s.held[c]++
			s.m.queue[c].Dec()
			w.granted = true
			close(w.ready)
			return
		}
	}
	s.free++
	s.m.inUse.Dec()
}

// hashMetrics are the scheduler's own: queue length, waits and sheds per class.
type hashMetrics struct {
	capacity, inUse prometheus.Gauge
	queue           [hashClasses]prometheus.Gauge
	wait            [hashClasses]prometheus.Observer
	shed            [hashClasses]prometheus.Counter
	collectors      []prometheus.Collector
}

func newHashMetrics(n int) *hashMetrics {
	queue := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "hello_hash_queue_length",
		Help: "Callers waiting for a password-hashing slot, by class (trusted, clean, other)."}, []string{"class"})
	wait := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "hello_hash_wait_seconds",
		Help:    "Time waited for a password-hashing slot, by class.",
		Buckets: []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2}}, []string{"class"})
	shed := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hello_hash_shed_total",
		Help: "Requests answered 503 busy because no hashing slot came in time or a higher class took their place, by class."}, []string{"class"})
	m := &hashMetrics{
		capacity: prometheus.NewGauge(prometheus.GaugeOpts{Name: "hello_hash_slots", Help: "Password hashes that may run at once."}),
		inUse:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "hello_hash_in_use", Help: "Password-hashing slots in use."}),
	}
	m.capacity.Set(float64(n))
	for c := range hashClasses {
		m.queue[c] = queue.WithLabelValues(c.String())
		m.wait[c] = wait.WithLabelValues(c.String())
		m.shed[c] = shed.WithLabelValues(c.String())
	}
	m.collectors = []prometheus.Collector{m.capacity, m.inUse, queue, wait, shed}
	return m
}
