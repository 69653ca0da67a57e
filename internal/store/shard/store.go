// Package shard is the horizontal storage mode (HELLO_DB=shards:…): account.Store over many
// PostgreSQL databases (physical shards). A username maps to a logical shard by a stable hash
// (package shardkey); logical shards map to physical shards through the versioned shard map,
// which is stored in the databases themselves. Every statement also checks, on the database it
// runs on, that this database serves the logical shard (see internal/store/postgres), so a
// replica with a stale map can never write to a former owner: it is told where the logical
// shard went, or re-reads the map, and retries.
//
// bootstrap.go creates the first map; the operations behind `hello shards` are Admin's
// (admin.go, move.go, check.go).
package shard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hellosvc/hello/internal/account"
	"github.com/hellosvc/hello/internal/store/postgres"
	"github.com/hellosvc/hello/internal/store/shardkey"
)

// Options configure a sharded store.
type Options struct {
	File *File
	// Lookup resolves ${NAME} in DSNs (the process environment).
	Lookup func(string) (string, bool)
	// DB are the settings of every database's pool; DSN and Name are set per shard. DB.Timeout
	// (HELLO_DB_TIMEOUT) is also the deadline of a whole store call, retries included.
	DB postgres.Options
	// Poll is how often the map version is checked (default 1s; negative: never).
	Poll time.Duration
	Log  *slog.Logger
}

// Store is account.Store over physical shards.
type Store struct {
	opts    Options
	timeout time.Duration
	log     *slog.Logger

	mu    sync.Mutex
	dbs   map[string]*postgres.DB
	extra map[string]string // DSNs of shards being added, not yet in any map

	cur        atomic.Pointer[Map]
	refreshMu  sync.Mutex
	refreshGen atomic.Uint64

	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

var _ account.Store = (*Store)(nil)

// ErrNoMap: no database holds a shard map yet; `hello migrate` creates the first one.
var ErrNoMap = errors.New("no shard map yet: run hello migrate")

// Open opens a pool per physical shard (connecting lazily: a shard that is down does not stop
// the others from serving), loads the current map if one exists and starts polling its version.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.File == nil {
		return nil, errors.New("shard: no shards file")
	}
	if o.Lookup == nil {
		o.Lookup = func(string) (string, bool) { return "", false }
	}
	if o.Poll == 0 {
		o.Poll = time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	s := &Store{opts: o, timeout: o.DB.Timeout, log: o.Log, dbs: map[string]*postgres.DB{}, extra: map[string]string{}, stop: make(chan struct{})}
	for _, f := range o.File.Shards {
		if _, err := s.db(ctx, f.Name); err != nil {
			s.closeDBs()
			return nil, err
		}
	}
	_, _ = s.loadLatest(ctx, s.startWait())
	if o.Poll > 0 {
		s.wg.Add(1)
		go s.poll(o.Poll)
	}
	return s, nil
}

// Map returns the current shard map (nil before the first one exists).
func (s *Store) Map() *Map { return s.cur.Load() }

// LogicalShards is the number of logical shards.
func (s *Store) LogicalShards() int { return s.opts.File.LogicalShards }

// dsnOf finds the DSN template of a physical shard: the file, then the map, then shards being added.
func (s *Store) dsnOf(name string) (string, bool) {
	for _, f := range s.opts.File.Shards {
		if f.Name == name {
			return f.DSN, true
		}
	}
	if m := s.cur.Load(); m != nil {
		if i := m.Index(name); i >= 0 {
			return m.Shards[i].DSN, true
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	dsn, ok := s.extra[name]
	return dsn, ok
}

var errUnknownShard = errors.New("unknown physical shard")

// db returns the pool of physical shard name, opening it on first use.
func (s *Store) db(ctx context.Context, name string) (*postgres.DB, error) {
	s.mu.Lock()
	db := s.dbs[name]
	s.mu.Unlock()
	if db != nil {
		return db, nil
	}
	tmpl, ok := s.dsnOf(name)
	if !ok {
		return nil, fmt.Errorf("shard %s: %w", name, errUnknownShard)
	}
	dsn, err := Expand(tmpl, s.opts.Lookup)
	if err != nil {
		return nil, fmt.Errorf("shard %s: %w", name, err)
	}
	o := s.opts.DB
	o.DSN, o.Name = dsn, name
	db, err = postgres.Open(ctx, o)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev := s.dbs[name]; prev != nil {
		db.Close()
		return prev, nil
	}
	s.dbs[name] = db
	return db, nil
}

// names lists every physical shard known: the current map's, then the file's.
func (s *Store) names() []string {
	var out []string
	if m := s.cur.Load(); m != nil {
		for _, sh := range m.Shards {
			out = append(out, sh.Name)
		}
	}
	for _, f := range s.opts.File.Shards {
		if !slices.Contains(out, f.Name) {
			out = append(out, f.Name)
		}
	}
	return out
}

// mapNames lists the physical shards of the current map (the file's before there is one).
func (s *Store) mapNames() []string {
	if m := s.cur.Load(); m != nil {
		out := make([]string, len(m.Shards))
		for i, sh := range m.Shards {
			out[i] = sh.Name
		}
		return out
	}
	return s.names()
}

// call runs op on the database serving username's logical shard, following the logical
// shard when it has moved and re-reading the map when it is stale, until HELLO_DB_TIMEOUT.
func (s *Store) call(ctx context.Context, username string, op func(context.Context, *postgres.DB, int) error) error {
	if s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	m := s.cur.Load()
	if m == nil {
		if _, err := s.loadLatest(ctx, refreshWait); err != nil || s.cur.Load() == nil {
			return fmt.Errorf("%w: %w", account.ErrUnavailable, ErrNoMap)
		}
		m = s.cur.Load()
	}
	logical := shardkey.Logical(username, m.LogicalShards)
	target, from, hops := "", "", 0
	var pointer int64
	wait := time.Millisecond
	for {
		if target == "" {
			target, from = s.cur.Load().Owner(logical), ""
		}
		db, err := s.db(ctx, target)
		if err == nil {
			err = op(ctx, db, logical)
		} else if !errors.Is(err, errUnknownShard) {
			return fmt.Errorf("%w: %w", account.ErrUnavailable, err)
		}
		var no *postgres.NotOwnerError
		if err != nil && !errors.As(err, &no) && !errors.Is(err, errUnknownShard) {
			return err
		}
		if err == nil {
			return nil
		}
		if no != nil && no.State == postgres.Moved && no.Peer != "" && hops < 3 {
			// The logical shard's forwarding pointer, left by move no.MoveID.
			target, from, pointer, hops = no.Peer, target, no.MoveID, hops+1
			continue
		}
		if no != nil && no.State == postgres.Incoming && from != "" && no.Peer == from && no.MoveID == pointer && hops < 3 {
			// The source switched to this database by this very move, but the mover stopped
			// before the take-over. The switch came after the copy was verified and caught up
			// under the pause, so finishing that step here is safe, and the logical shard
			// serves again without waiting for a re-run. A pointer of any other move (an older
			// one, read before the shard moved back and forth) never promotes a copy.
			if ok, perr := db.Promote(ctx, logical, pointer); perr == nil && ok {
				s.log.Info("took over a switched logical shard before its mover: promoted it on its new owner",
					"logical", logical, "from", from, "to", target, "move", pointer)
			}
			hops++
			continue
		}
		// A stale map, or a switch in progress: re-read the map, back off, try again.
		s.refresh(ctx, s.refreshGen.Load())
		target, hops = "", 0
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w: logical shard %d: %w (%w)", account.ErrUnavailable, logical, err, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// refresh re-reads the map unless another caller did since seen.
func (s *Store) refresh(ctx context.Context, seen uint64) {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	if s.refreshGen.Load() != seen {
		return
	}
	defer s.refreshGen.Add(1)
	_, _ = s.loadLatest(ctx, refreshWait)
}

// refreshWait bounds a map re-read on the serving path: a database that does not answer
// within it is skipped, so a jammed shard does not hold up the others' requests.
const refreshWait = 500 * time.Millisecond

// startWait bounds a map read that needs an answer rather than speed (opening the store and
// creating the first map): the first connection to each database is made within it.
func (s *Store) startWait() time.Duration {
	if s.timeout > 0 {
		return max(s.timeout, refreshWait)
	}
	return 5 * time.Second
}

// loadLatest asks every known database for its map version (one that does not answer within
// wait is skipped), loads the highest and makes it current if newer. It returns the current
// map.
func (s *Store) loadLatest(parent context.Context, wait time.Duration) (*Map, error) {
	ctx, cancel := context.WithTimeout(parent, wait)
	defer cancel()
	names := s.names()
	versions := make([]int64, len(names))
	errs := s.fanOut(ctx, names, func(ctx context.Context, i int, db *postgres.DB) (err error) {
		versions[i], err = db.MapVersion(ctx)
		return err
	})
	best := -1
	for i := range names {
		if errs[i] == nil && (best < 0 || versions[i] > versions[best]) {
			best = i
		}
	}
	cur := s.cur.Load()
	if best < 0 {
		return cur, fmt.Errorf("%w: no shard answers: %w", account.ErrUnavailable, errors.Join(errs...))
	}
	if versions[best] == 0 || (cur != nil && versions[best] <= cur.Version) {
		return cur, nil
	}
	db, err := s.db(ctx, names[best])
	if err != nil {
		return cur, err
	}
	// Its own wait: a shard that did not answer has used up the fan-out's, and the new map
	// would never be read while it stays down or jammed.
	mctx, mcancel := context.WithTimeout(parent, wait)
	defer mcancel()
	v, body, err := db.LatestMap(mctx)
	if err != nil {
		return cur, err
	}
	m, err := decodeMap(v, body)
	if err != nil {
		return cur, err
	}
	if m.LogicalShards != s.opts.File.LogicalShards {
		return cur, fmt.Errorf("the shard map has %d logical shards but the shards file says %d: logical_shards may never change", m.LogicalShards, s.opts.File.LogicalShards)
	}
	s.install(m)
	return s.cur.Load(), nil
}

// install makes m current unless a newer map already is.
func (s *Store) install(m *Map) {
	for {
		cur := s.cur.Load()
		if cur != nil && cur.Version >= m.Version {
			return
		}
		if s.cur.CompareAndSwap(cur, m) {
			if cur != nil {
				s.log.Info("shard map updated", "version", m.Version, "previous", cur.Version)
			}
			return
		}
	}
}

func (s *Store) poll(every time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), every)
			s.refresh(ctx, s.refreshGen.Load())
			cancel()
		}
	}
}

func (s *Store) CreateAccount(ctx context.Context, a account.Account) error {
	return s.call(ctx, a.Username, func(ctx context.Context, db *postgres.DB, logical int) error {
		return db.CreateAccount(ctx, logical, a)
	})
}

func (s *Store) GetAccount(ctx context.Context, username string) (account.Account, error) {
	var a account.Account
	err := s.call(ctx, username, func(ctx context.Context, db *postgres.DB, logical int) error {
		var err error
		a, err = db.GetAccount(ctx, logical, username)
		return err
	})
	return a, err
}

func (s *Store) UpdatePasswordHash(ctx context.Context, username, hash string) error {
	return s.call(ctx, username, func(ctx context.Context, db *postgres.DB, logical int) error {
		return db.UpdatePasswordHash(ctx, logical, username, hash)
	})
}

func (s *Store) AddDevice(ctx context.Context, username, device string) error {
	return s.call(ctx, username, func(ctx context.Context, db *postgres.DB, logical int) error {
		return db.AddDevice(ctx, logical, username, device)
	})
}

func (s *Store) ForgetDevices(ctx context.Context, username, device string) error {
	return s.call(ctx, username, func(ctx context.Context, db *postgres.DB, logical int) error {
		return db.ForgetDevices(ctx, logical, username, device)
	})
}

func (s *Store) CreateSession(ctx context.Context, ss account.Session) error {
	return s.call(ctx, ss.Username, func(ctx context.Context, db *postgres.DB, logical int) error {
		return db.CreateSession(ctx, logical, ss)
	})
}

func (s *Store) GetSession(ctx context.Context, username string, tokenHash []byte) (account.Session, error) {
	var ss account.Session
	err := s.call(ctx, username, func(ctx context.Context, db *postgres.DB, logical int) error {
		var err error
		ss, err = db.GetSession(ctx, logical, username, tokenHash)
		return err
	})
	return ss, err
}

func (s *Store) DeleteSession(ctx context.Context, username string, tokenHash []byte) error {
	return s.call(ctx, username, func(ctx context.Context, db *postgres.DB, logical int) error {
		return db.DeleteSession(ctx, logical, username, tokenHash)
	})
}

// each runs f on every physical shard of the map concurrently and returns the errors by name.
func (s *Store) each(ctx context.Context, f func(context.Context, *postgres.DB) error) map[string]error {
	names := s.mapNames()
	errs := s.fanOut(ctx, names, func(ctx context.Context, _ int, db *postgres.DB) error { return f(ctx, db) })
	out := make(map[string]error, len(names))
	for i, name := range names {
		out[name] = errs[i]
	}
	return out
}

// fanOut runs f on the named databases concurrently; errs[i] is names[i]'s error (including
// failing to reach it).
func (s *Store) fanOut(ctx context.Context, names []string, f func(ctx context.Context, i int, db *postgres.DB) error) []error {
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			db, err := s.db(ctx, name)
			if err == nil {
				err = f(ctx, i, db)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	return errs
}

// DeleteExpiredSessions purges every shard that answers; it reports the others' errors.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	var total atomic.Int64
	res := s.each(ctx, func(ctx context.Context, db *postgres.DB) error {
		n, err := db.DeleteExpiredSessions(ctx, now)
		total.Add(n)
		return err
	})
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(res)) {
		if res[name] != nil {
			errs = append(errs, res[name])
		}
	}
	return total.Load(), errors.Join(errs...)
}

// Health pings every physical shard: /readyz reports each by name ("shard:NAME").
func (s *Store) Health(ctx context.Context) map[string]error {
	res := s.each(ctx, func(ctx context.Context, db *postgres.DB) error { return db.Ping(ctx) })
	out := make(map[string]error, len(res))
	for name, err := range res {
		out["shard:"+name] = err
	}
	return out
}

// Ping succeeds while at least one physical shard answers.
func (s *Store) Ping(ctx context.Context) error {
	var errs []error
	for _, err := range s.Health(ctx) {
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Close stops polling and closes every pool.
func (s *Store) Close() error {
	s.stopOnce.Do(func() { close(s.stop) })
	s.wg.Wait()
	s.closeDBs()
	return nil
}

func (s *Store) closeDBs() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, db := range s.dbs {
		db.Close()
		delete(s.dbs, name)
	}
}

// DB returns the pool of physical shard name (for tools and tests).
func (s *Store) DB(ctx context.Context, name string) (*postgres.DB, error) { return s.db(ctx, name) }
