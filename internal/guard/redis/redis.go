// Package redis is the shared guard.Store: every replica counts in one Redis, each decision
// is one Lua script run atomically by Redis (EVALSHA, one round trip), and keys expire by
// TTL. Keys carry a hash tag ("hello:{key}:r") so each script's single key routes in Redis
// Cluster.
//
// Concurrent decisions are auto-pipelined: callers queue their command and a few collector
// goroutines each send whatever is queued as one pipeline, so a caller still waits for one
// round trip while the server sees few, large writes.
//
// When Redis fails the store keeps protecting with a local guard.Store (the memory store by
// default): it logs the change, counts errors and raises hello_limiter_fallback_active,
// reports State() "degraded", and probes Redis with PING in the background until it answers,
// then goes back to it by itself. With FailureMode "deny", every method but Allow returns an
// error wrapping guard.ErrUnavailable while Redis is away.
package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"github.com/hellosvc/hello/internal/guard"
	"github.com/hellosvc/hello/internal/guard/memory"
)

// Failure modes: what the methods other than Allow do while Redis is unreachable.
const (
	FailureLocal = "local" // decide with the local store (Allow always does)
	FailureDeny  = "deny"  // return an error wrapping guard.ErrUnavailable
)

// States reported by State.
const (
	StateOK       = "ok"
	StateDegraded = "degraded"
)

// Options configure a Store.
type Options struct {
	// URL is a redis:// or rediss:// URL (HELLO_REDIS_URL). Ignored when Client is set.
	URL string
	// Password overrides the URL's password when not empty (HELLO_REDIS_PASSWORD).
	Password string
	// Client is an already configured client (e.g. a goredis.ClusterClient). The Store does
	// not close it. Its MaxRetries should be -1: a retried script may count twice.
	Client goredis.UniversalClient
	// Prefix starts every key; default "hello:".
	Prefix string

	// Local decides while Redis is unreachable; default a memory store with Now.
	Local guard.Store
	// FailureMode is FailureLocal (default) or FailureDeny (HELLO_REDIS_FAILURE).
	FailureMode string
	// Logger receives state changes; default slog.Default().
	Logger *slog.Logger
	// Registerer receives the store's metrics; nil registers none.
	Registerer prometheus.Registerer

	// Now, when set, replaces Redis' TIME in the scripts (tests walk time without sleeping).
	// Production leaves it nil so every replica uses the Redis server's clock.
	Now func() time.Time

	// Timeout bounds one pipeline round trip (default 500ms); past it, the decision falls
	// back to the local store.
	Timeout time.Duration
	// ProbeInterval is the first pause between PINGs while degraded (default 250ms); it
	// doubles up to 5s.
	ProbeInterval time.Duration
	// Pipelines is how many pipelines may be in flight at once (default 4).
	Pipelines int
	// MaxBatch is the most commands sent in one pipeline (default 256).
	MaxBatch int
}

// Store is the Redis guard.Store. Create it with New; Close it when done.
type Store struct {
	client   goredis.UniversalClient
	own      bool
	prefix   string
	local    guard.Store
	deny     bool
	log      *slog.Logger
	now      func() time.Time
	timeout  time.Duration
	probeMin time.Duration
	maxBatch int

	queue chan *op
	quit  chan struct{}
	wg    sync.WaitGroup

	degraded atomic.Bool
	closed   atomic.Bool

	errorsTotal   prometheus.Counter
	fallbackGauge prometheus.Gauge
	fallbackTotal prometheus.Counter
}

var _ guard.Store = (*Store)(nil)

// New connects (lazily: a Redis that is down at start only makes the store start degraded)
// and starts the collectors.
func New(o Options) (*Store, error) {
	switch o.FailureMode {
	case "":
		o.FailureMode = FailureLocal
	case FailureLocal, FailureDeny:
	default:
		return nil, fmt.Errorf("redis failure mode %q: want %q or %q", o.FailureMode, FailureLocal, FailureDeny)
	}
	s := &Store{
		client:   o.Client,
		prefix:   o.Prefix,
		local:    o.Local,
		deny:     o.FailureMode == FailureDeny,
		log:      o.Logger,
		now:      o.Now,
		timeout:  o.Timeout,
		probeMin: o.ProbeInterval,
		maxBatch: o.MaxBatch,
		quit:     make(chan struct{}),
	}
	if s.client == nil {
		if o.URL == "" {
			return nil, errors.New("redis: no URL")
		}
		opt, err := goredis.ParseURL(o.URL)
		if err != nil {
			return nil, fmt.Errorf("redis URL: %w", err)
		}
		if o.Password != "" {
			opt.Password = o.Password
		}
		opt.MaxRetries = -1 // a script sent twice may count twice; the caller falls back instead
		if opt.DialTimeout == 0 || opt.DialTimeout > time.Second {
			opt.DialTimeout = time.Second
		}
		opt.ContextTimeoutEnabled = true
		s.client = goredis.NewClient(opt)
		s.own = true
	}
	if s.prefix == "" {
		s.prefix = "hello:"
	}
	if s.local == nil {
		s.local = memory.New(memory.Options{Now: o.Now})
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.timeout <= 0 {
		s.timeout = 500 * time.Millisecond
	}
	if s.probeMin <= 0 {
		s.probeMin = 250 * time.Millisecond
	}
	if s.maxBatch <= 0 {
		s.maxBatch = 256
	}
	pipes := o.Pipelines
	if pipes <= 0 {
		pipes = 4
	}
	s.errorsTotal = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "hello_limiter_redis_errors_total",
		Help: "Limiter decisions that failed against Redis (each then fell back or was refused).",
	})
	s.fallbackGauge = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "hello_limiter_fallback_active",
		Help: "1 while the limiter decides with the local store because Redis is unreachable.",
	})
	s.fallbackTotal = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "hello_limiter_fallback_decisions_total",
		Help: "Limiter decisions made by the local store while Redis was unreachable.",
	})
	if o.Registerer != nil {
		s.errorsTotal = register(o.Registerer, s.errorsTotal)
		s.fallbackGauge = register(o.Registerer, s.fallbackGauge)
		s.fallbackTotal = register(o.Registerer, s.fallbackTotal)
	}

	s.queue = make(chan *op, 4*s.maxBatch)
	for range pipes {
		s.wg.Add(1)
		go s.collect()
	}
	return s, nil
}

func register[C prometheus.Collector](r prometheus.Registerer, c C) C {
	if err := r.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}

// State is StateOK while decisions go to Redis and StateDegraded while they go to the local
// store (for /readyz).
func (s *Store) State() string {
	if s.degraded.Load() {
		return StateDegraded
	}
	return StateOK
}

// Close stops the collectors and the prober and closes the client it created. Calls after
// Close fail.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	close(s.quit)
	s.wg.Wait()
	if s.own {
		return s.client.Close()
	}
	return nil
}

// Keys, all with the caller's key as the hash tag.
func (s *Store) key(k, kind string) string { return s.prefix + "{" + k + "}:" + kind }

// nowArg is ARGV[1]: "" (Redis' TIME) or the injected clock in µs.
func (s *Store) nowArg() string {
	if s.now == nil {
		return ""
	}
	return strconv.FormatInt(s.now().UnixMicro(), 10)
}

func us(d time.Duration) int64 { return d.Microseconds() }

// Allow implements guard.Store. It falls back to the local store whatever the failure mode.
func (s *Store) Allow(ctx context.Context, key string, r guard.Rate) (guard.RateResult, error) {
	if !s.degraded.Load() {
		t, burst := memory.GCRAParams(r)
		v, err := s.eval(ctx, gcraScript, s.key(key, "r"), s.nowArg(), max(us(t), 1), max(us(burst), 1))
		if err == nil {
			return guard.RateResult{
				Allowed:    v[0] == 1,
				Limit:      r.Count,
				Remaining:  int(v[1]),
				ResetAfter: time.Duration(v[2]) * time.Microsecond,
				RetryAfter: time.Duration(v[3]) * time.Microsecond,
			}, nil
		}
		if ctx.Err() != nil {
			return guard.RateResult{}, err
		}
	}
	s.fallbackTotal.Inc()
	return s.local.Allow(ctx, key, r)
}

// Attempt implements guard.Store.
func (s *Store) Attempt(ctx context.Context, key string, g guard.Guess, maxN int, window time.Duration) (guard.AttemptResult, error) {
	v, err := s.eval(ctx, attemptScript, s.key(key, "f"), s.nowArg(), string(g[:]), maxN, us(window))
	if err != nil {
		if err := s.fallback(ctx, err); err != nil {
			return guard.AttemptResult{}, err
		}
		return s.local.Attempt(ctx, key, g, maxN, window)
	}
	return attemptResult(v), nil
}

// Peek implements guard.Store.
func (s *Store) Peek(ctx context.Context, key string, maxN int, window time.Duration) (guard.AttemptResult, error) {
	v, err := s.eval(ctx, peekScript, s.key(key, "f"), s.nowArg(), maxN, us(window))
	if err != nil {
		if err := s.fallback(ctx, err); err != nil {
			return guard.AttemptResult{}, err
		}
		return s.local.Peek(ctx, key, maxN, window)
	}
	return attemptResult(v), nil
}

func attemptResult(v []int64) guard.AttemptResult {
	return guard.AttemptResult{
		Allowed:    v[0] == 1,
		Failures:   int(v[1]),
		RetryAfter: time.Duration(v[2]) * time.Microsecond,
	}
}

// Forget implements guard.Store.
func (s *Store) Forget(ctx context.Context, key string, g guard.Guess) error {
	_, err := s.do(ctx, nil, "", "ZREM", s.key(key, "f"), string(g[:]))
	if err != nil {
		if err := s.fallback(ctx, err); err != nil {
			return err
		}
		return s.local.Forget(ctx, key, g)
	}
	return nil
}

// Clear implements guard.Store.
func (s *Store) Clear(ctx context.Context, key string) error {
	_, err := s.do(ctx, nil, "", "DEL", s.key(key, "f"))
	if err != nil {
		if err := s.fallback(ctx, err); err != nil {
			return err
		}
		return s.local.Clear(ctx, key)
	}
	return nil
}

// Hit implements guard.Store with the memory store's bounded sliding window (exact up to
// memory.HitsExact distinct timestamps per window).
func (s *Store) Hit(ctx context.Context, key string, window time.Duration) (int, error) {
	return s.hits(ctx, key, window, true)
}

// Count implements guard.Store.
func (s *Store) Count(ctx context.Context, key string, window time.Duration) (int, error) {
	return s.hits(ctx, key, window, false)
}

func (s *Store) hits(ctx context.Context, key string, window time.Duration, add bool) (int, error) {
	a := "0"
	if add {
		a = "1"
	}
	v, err := s.eval(ctx, hitScript, s.key(key, "h"), s.nowArg(), max(us(window), 1), a, memory.HitsExact)
	if err != nil {
		if err := s.fallback(ctx, err); err != nil {
			return 0, err
		}
		if add {
			return s.local.Hit(ctx, key, window)
		}
		return s.local.Count(ctx, key, window)
	}
	return int(v[0]), nil
}

// Spend implements guard.Store.
func (s *Store) Spend(ctx context.Context, id string, ttl time.Duration) (bool, error) {
	v, err := s.eval(ctx, spendScript, s.key(id, "s"), s.nowArg(), max(us(ttl), 1))
	if err != nil {
		if err := s.fallback(ctx, err); err != nil {
			return false, err
		}
		return s.local.Spend(ctx, id, ttl)
	}
	return v[0] == 1, nil
}

// fallback decides what a failed call does: nil to ask the local store, or the error to
// return (the caller's context ended, or deny mode).
func (s *Store) fallback(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return err
	}
	if s.deny {
		return fmt.Errorf("%w: %w", guard.ErrUnavailable, err)
	}
	s.fallbackTotal.Inc()
	return nil
}

var errDegraded = errors.New("redis unreachable (probing in the background)")

// eval runs script on key through the collectors and returns its integer reply as a slice.
func (s *Store) eval(ctx context.Context, sc *goredis.Script, key string, args ...any) ([]int64, error) {
	res, err := s.do(ctx, sc, key, args...)
	if err != nil {
		return nil, err
	}
	switch v := res.(type) {
	case int64:
		return []int64{v}, nil
	case []any:
		out := make([]int64, len(v))
		for i, x := range v {
			n, ok := x.(int64)
			if !ok {
				return nil, fmt.Errorf("redis script reply %v: element %d is %T", res, i, x)
			}
			out[i] = n
		}
		return out, nil
	}
	return nil, fmt.Errorf("redis script reply %v (%T)", res, res)
}

// op is one queued command.
type op struct {
	script *goredis.Script // nil: a plain command (args[0] is its name, key is unused)
	key    string
	args   []any
	res    any
	err    error
	done   chan struct{}
}

// do queues one command and waits for its reply: one round trip, shared with whatever else
// was queued meanwhile. Redis failures mark the store degraded.
func (s *Store) do(ctx context.Context, sc *goredis.Script, key string, args ...any) (any, error) {
	if s.degraded.Load() {
		return nil, errDegraded
	}
	if s.closed.Load() {
		return nil, errors.New("redis store closed")
	}
	o := &op{script: sc, key: key, args: args, done: make(chan struct{})}
	select {
	case s.queue <- o:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case <-o.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if o.err != nil {
		s.failed(o.err)
		return nil, o.err
	}
	return o.res, nil
}

// collect is one collector: it waits for a command, takes whatever else is queued (up to
// MaxBatch) and sends them as one pipeline.
func (s *Store) collect() {
	defer s.wg.Done()
	batch := make([]*op, 0, s.maxBatch)
	for {
		select {
		case o := <-s.queue:
			batch = append(batch[:0], o)
		case <-s.quit:
			s.drain()
			return
		}
	fill:
		for len(batch) < s.maxBatch {
			select {
			case o := <-s.queue:
				batch = append(batch, o)
			default:
				break fill
			}
		}
		s.send(batch)
		clear(batch)
	}
}

// drain fails the commands still queued at Close.
func (s *Store) drain() {
	for {
		select {
		case o := <-s.queue:
			o.err = errors.New("redis store closed")
			close(o.done)
		default:
			return
		}
	}
}

func (s *Store) send(batch []*op) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	cmds := s.pipeline(ctx, batch, false)
	// A Redis restarted (or a new cluster node) has forgotten the scripts: send those again
	// with EVAL, which also caches them. Rare, so a second round trip is fine.
	var again []*op
	for i, c := range cmds {
		if batch[i].script != nil && goredis.HasErrorPrefix(c.Err(), "NOSCRIPT") {
			again = append(again, batch[i])
			continue
		}
		batch[i].res, batch[i].err = c.Val(), c.Err()
	}
	if len(again) > 0 {
		for i, c := range s.pipeline(ctx, again, true) {
			again[i].res, again[i].err = c.Val(), c.Err()
		}
	}
	for _, o := range batch {
		close(o.done)
	}
}

func (s *Store) pipeline(ctx context.Context, batch []*op, eval bool) []*goredis.Cmd {
	pipe := s.client.Pipeline()
	cmds := make([]*goredis.Cmd, len(batch))
	keys := make([]string, len(batch)) // one backing array for the single-key slices
	for i, o := range batch {
		keys[i] = o.key
		k := keys[i : i+1 : i+1]
		switch {
		case o.script == nil:
			cmds[i] = pipe.Do(ctx, o.args...)
		case eval:
			cmds[i] = o.script.Eval(ctx, pipe, k, o.args...)
		default:
			cmds[i] = pipe.EvalSha(ctx, o.script.Hash(), k, o.args...)
		}
	}
	_, _ = pipe.Exec(ctx) // each command carries its own error
	return cmds
}

// failed records a Redis error and, on the first one, switches to the local store and starts
// probing.
func (s *Store) failed(err error) {
	s.errorsTotal.Inc()
	if errors.Is(err, errDegraded) || s.degraded.Swap(true) {
		return
	}
	s.fallbackGauge.Set(1)
	s.log.Warn("limiter: redis unreachable, deciding with the local store", "err", err,
		"failure_mode", map[bool]string{true: FailureDeny, false: FailureLocal}[s.deny])
	s.wg.Add(1)
	go s.probe()
}

// probe PINGs Redis with a growing pause until it answers, then sends decisions to it again.
func (s *Store) probe() {
	defer s.wg.Done()
	wait := s.probeMin
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
		err := s.client.Ping(ctx).Err()
		cancel()
		if err == nil {
			s.degraded.Store(false)
			s.fallbackGauge.Set(0)
			s.log.Info("limiter: redis reachable again, deciding with redis")
			return
		}
		wait = min(2*wait, 5*time.Second)
		t.Reset(wait)
	}
}
