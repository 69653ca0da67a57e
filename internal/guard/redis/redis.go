// Package redis is the shared guard.Store: every replica counts in one Redis, each decision
// is one Lua script run atomically by Redis (EVALSHA, one round trip), and keys expire by
// TTL. Keys carry a hash tag ("hello:{key}:r") so each script's single key routes in Redis
// Cluster.
//
// Concurrent decisions are auto-pipelined: callers queue their command and a few collector
// goroutines each send whatever is queued as one pipeline, so a caller still waits for one
// round trip while the server sees few, large writes.
//
// When Redis fails — unreachable, or refusing writes because it is out of memory — the store
// keeps protecting with a local guard.Store (the memory store by default): it logs the change,
// counts errors and raises hello_limiter_fallback_active, reports State() "degraded", and
// probes Redis with a small write in the background until it takes one, then goes back to it
// by itself. The local store is a floor, not a fresh start: every answer Redis gives is
// mirrored into it (this replica's guesses, and as many placeholder entries as the shared log
// holds beyond them), so a fallback never grants a name more guesses than the shared log
// already allowed. With FailureMode "deny", every method but Allow returns an error wrapping
// guard.ErrUnavailable while Redis is away.
package redis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"github.com/hellosvc/hello/internal/guard"
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

	// Local decides while Redis is unreachable (required; the memory store in production).
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
	kick  chan struct{}  // a failure asks the prober to watch for Redis' return
	wg    sync.WaitGroup // the collectors and the prober, all started by New

	degraded atomic.Bool
	closed   atomic.Bool

	errorsTotal   prometheus.Counter
	oomTotal      prometheus.Counter
	fallbackGauge prometheus.Gauge
	fallbackTotal prometheus.Counter
	evictingGauge prometheus.Gauge
}

var _ guard.Store = (*Store)(nil)

// New connects (lazily: a Redis that is down at start only makes the store start degraded)
// and starts the collectors.
func New(o Options) (*Store, error) {
	if o.Local == nil {
		return nil, errors.New("redis: a Local store is required (it decides while Redis is away)")
	}
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
		kick:     make(chan struct{}, 1),
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
	s.oomTotal = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "hello_limiter_redis_oom_total",
		Help: "Limiter writes Redis refused because it was out of memory (each then fell back).",
	})
	s.evictingGauge = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "hello_limiter_redis_evicting",
		Help: "1 when Redis' maxmemory-policy may evict the limiter's keys (anything but noeviction): failure logs, and so lockouts, can vanish under memory pressure.",
	})
	if o.Registerer != nil {
		s.errorsTotal = register(o.Registerer, s.errorsTotal)
		s.oomTotal = register(o.Registerer, s.oomTotal)
		s.fallbackGauge = register(o.Registerer, s.fallbackGauge)
		s.fallbackTotal = register(o.Registerer, s.fallbackTotal)
		s.evictingGauge = register(o.Registerer, s.evictingGauge)
	}

	s.queue = make(chan *op, 4*s.maxBatch)
	s.wg.Add(pipes + 1)
	for range pipes {
		go s.collect()
	}
	go s.prober()
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

// maxKeyLen bounds the caller's part of a key. The guard builds short keys; anything longer is
// replaced by its hash, so no input can make Redis hold a large key.
const maxKeyLen = 128

// Keys, all with the caller's key as the hash tag.
func (s *Store) key(k, kind string) string {
	if len(k) > maxKeyLen {
		sum := sha256.Sum256([]byte(k))
		k = "h:" + hex.EncodeToString(sum[:])
	}
	return s.prefix + "{" + k + "}:" + kind
}

// nowArg is ARGV[1]: "" (Redis' TIME) or the injected clock in µs.
func (s *Store) nowArg() string {
	if s.now == nil {
		return ""
	}
	return strconv.FormatInt(s.now().UnixMicro(), 10)
}

func micros(d time.Duration) int64 { return d.Microseconds() }

// Allow implements guard.Store. It falls back to the local store whatever the failure mode.
func (s *Store) Allow(ctx context.Context, key string, r guard.Rate) (guard.RateResult, error) {
	if !s.degraded.Load() {
		t, burst := r.GCRA()
		v, err := s.eval(ctx, gcraScript, s.key(key, "r"), s.nowArg(), max(micros(t), 1), max(micros(burst), 1))
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
	v, err := s.eval(ctx, attemptScript, s.key(key, "f"), s.nowArg(), string(g[:]), maxN, micros(window))
	if err != nil {
		return orLocal(s, ctx, err, func() (guard.AttemptResult, error) { return s.local.Attempt(ctx, key, g, maxN, window) })
	}
	res := attemptResult(v)
	if res.Added {
		_, _ = s.local.Attempt(ctx, key, g, res.Failures, window)
	}
	s.floor(ctx, key, res.Failures, window)
	return res, nil
}

// Peek implements guard.Store.
func (s *Store) Peek(ctx context.Context, key string, maxN int, window time.Duration) (guard.AttemptResult, error) {
	v, err := s.eval(ctx, peekScript, s.key(key, "f"), s.nowArg(), maxN, micros(window))
	if err != nil {
		return orLocal(s, ctx, err, func() (guard.AttemptResult, error) { return s.local.Peek(ctx, key, maxN, window) })
	}
	res := attemptResult(v)
	s.floor(ctx, key, res.Failures, window)
	return res, nil
}

// floor makes the local log of key hold at least n guesses, adding placeholders for the ones
// other replicas made, so that a fallback starts where the shared log stands. Placeholders are
// dated now, which can only make a fallback stricter than Redis would have been.
func (s *Store) floor(ctx context.Context, key string, n int, window time.Duration) {
	have, err := s.local.Peek(ctx, key, n, window)
	if err != nil {
		return
	}
	for i := have.Failures; i < n; i++ {
		var g guard.Guess
		copy(g[:], "\xffplaceholder")
		g[15] = byte(i)
		if _, err := s.local.Attempt(ctx, key, g, n, window); err != nil {
			return
		}
	}
}

func attemptResult(v []int64) guard.AttemptResult {
	return guard.AttemptResult{
		Allowed:    v[0] == 1,
		Failures:   int(v[1]),
		RetryAfter: time.Duration(v[2]) * time.Microsecond,
		Added:      len(v) > 3 && v[3] == 1,
	}
}

// Forget implements guard.Store.
func (s *Store) Forget(ctx context.Context, key string, g guard.Guess) error {
	if _, err := s.do(ctx, nil, "", "ZREM", s.key(key, "f"), string(g[:])); err != nil {
		if err := s.fallback(ctx, err); err != nil {
			return err
		}
	}
	return s.local.Forget(ctx, key, g) // the local floor follows either way
}

// Clear implements guard.Store.
func (s *Store) Clear(ctx context.Context, key string) error {
	if _, err := s.do(ctx, nil, "", "DEL", s.key(key, "f")); err != nil {
		if err := s.fallback(ctx, err); err != nil {
			return err
		}
	}
	return s.local.Clear(ctx, key) // the local floor follows either way
}

// Hit implements guard.Store with the memory store's bounded sliding window (exact up to
// guard.HitsExact distinct timestamps per window).
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
	v, err := s.eval(ctx, hitScript, s.key(key, "h"), s.nowArg(), max(micros(window), 1), a, guard.HitsExact)
	if err != nil {
		return orLocal(s, ctx, err, func() (int, error) {
			if add {
				return s.local.Hit(ctx, key, window)
			}
			return s.local.Count(ctx, key, window)
		})
	}
	if add {
		_, _ = s.local.Hit(ctx, key, window) // the local count follows, for a fallback
	}
	return int(v[0]), nil
}

// Spend implements guard.Store.
func (s *Store) Spend(ctx context.Context, id string, ttl time.Duration) (bool, error) {
	v, err := s.eval(ctx, spendScript, s.key(id, "s"), s.nowArg(), max(micros(ttl), 1))
	if err != nil {
		return orLocal(s, ctx, err, func() (bool, error) { return s.local.Spend(ctx, id, ttl) })
	}
	if v[0] == 1 {
		_, _ = s.local.Spend(ctx, id, ttl) // spent here too: a fallback cannot accept it again
	}
	return v[0] == 1, nil
}

// orLocal answers a call whose Redis round trip failed: from the local store, or with the
// error (see fallback).
func orLocal[T any](s *Store, ctx context.Context, err error, local func() (T, error)) (T, error) {
	if err := s.fallback(ctx, err); err != nil {
		var zero T
		return zero, err
	}
	return local()
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

var (
	errDegraded = errors.New("redis unreachable (probing in the background)")
	errClosed   = errors.New("redis store closed")
)

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
		return nil, errClosed
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
			o.err = errClosed
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
	oom := isOOM(err)
	if oom {
		s.oomTotal.Inc()
	}
	if errors.Is(err, errDegraded) || errors.Is(err, errClosed) || s.degraded.Swap(true) {
		return // already degraded; or shutting down, which is no failure of Redis
	}
	s.fallbackGauge.Set(1)
	s.log.Warn("limiter: redis failed, deciding with the local store", "err", err, "out_of_memory", oom,
		"failure_mode", map[bool]string{true: FailureDeny, false: FailureLocal}[s.deny])
	select {
	case s.kick <- struct{}{}: // the prober, started with the store, takes it from here
	default:
	}
}

// isOOM reports Redis refusing a write for lack of memory (maxmemory reached under noeviction).
func isOOM(err error) bool {
	return err != nil && strings.Contains(err.Error(), "OOM command not allowed")
}

// prober runs for the store's lifetime: each time a failure kicks it, it probes Redis.
func (s *Store) prober() {
	defer s.wg.Done()
	for {
		select {
		case <-s.quit:
			return
		case <-s.kick:
			s.probe()
		}
	}
}

// probe writes a short-lived key with a growing pause until Redis takes it (a PING would
// answer while Redis still refuses writes for lack of memory), then sends decisions to it again.
func (s *Store) probe() {
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
		err := s.client.Set(ctx, s.key("probe", "p"), "1", time.Second).Err()
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

// Eviction policies that never remove the limiter's keys: noeviction refuses writes when full
// (a failure this store falls back on); the volatile-*/allkeys-* policies would silently drop
// failure logs, and with them lockouts, because every limiter key has a TTL.
const safePolicy = "noeviction"

// CheckEviction reads Redis' maxmemory-policy from INFO memory (ElastiCache refuses CONFIG
// GET), sets hello_limiter_redis_evicting, and reports whether the policy is safe.
func (s *Store) CheckEviction(ctx context.Context) (policy string, safe bool, err error) {
	info, err := s.client.Info(ctx, "memory").Result()
	if err != nil {
		return "", false, fmt.Errorf("redis INFO memory: %w", err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "maxmemory_policy:"); ok {
			policy = v
		}
	}
	if policy == "" {
		return "", false, errors.New("redis INFO memory has no maxmemory_policy")
	}
	safe = policy == safePolicy
	s.evictingGauge.Set(map[bool]float64{true: 0, false: 1}[safe])
	return policy, safe, nil
}
