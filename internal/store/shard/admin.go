package shard

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hellosvc/hello/internal/store/postgres"
)

// Migrate applies the schema migrations to every physical shard that answers and creates the
// first shard map if there is none. Shards that are down are skipped (the service starts and
// serves the others); MigrateAll is the strict form `hello migrate` uses.
func (s *Store) Migrate(ctx context.Context) (int, error) { return s.migrate(ctx, false) }

// MigrateAll is Migrate failing when any physical shard cannot be migrated.
func (s *Store) MigrateAll(ctx context.Context) (int, error) { return s.migrate(ctx, true) }

func (s *Store) migrate(ctx context.Context, strict bool) (int, error) {
	names := s.names()
	applied := make([]int, len(names))
	errs := s.fanOut(ctx, names, func(ctx context.Context, i int, db *postgres.DB) (err error) {
		applied[i], err = db.Migrate(ctx)
		return err
	})
	for i, err := range errs {
		if err != nil {
			errs[i] = fmt.Errorf("shard %s: %w", names[i], err)
		}
	}
	total, failed := 0, 0
	for i := range names {
		total += applied[i]
		if errs[i] != nil {
			failed++
			s.log.Warn("migrating shard failed", "shard", names[i], "err", errs[i])
		}
	}
	if failed == len(names) || (strict && failed > 0) {
		return total, errors.Join(errs...)
	}
	if err := s.bootstrap(ctx); err != nil {
		return total, err
	}
	// Heal: every shard that answers gets the current map.
	if m := s.cur.Load(); m != nil {
		s.writeMap(ctx, m)
	}
	return total, nil
}

// bootstrap creates map version 1 when no database has one: round-robin over the file's
// shards when they are all empty, or everything on the one database that already serves
// every logical shard (a single database, HELLO_DB=postgres://…, becoming the first shard).
func (s *Store) bootstrap(ctx context.Context) error {
	if m, err := s.loadLatest(ctx); m != nil {
		return nil
	} else if err != nil {
		return err
	}
	f := s.opts.File
	shards := make([]MapShard, len(f.Shards))
	type info struct {
		db       *postgres.DB
		owned    []int
		rows     int
		accounts bool
	}
	infos := make([]info, len(f.Shards))
	for i, fs := range f.Shards {
		shards[i] = MapShard(fs)
		db, err := s.db(ctx, fs.Name)
		if err != nil {
			return err
		}
		owned, rows, err := db.Owned(ctx)
		if err != nil {
			return fmt.Errorf("creating the first shard map needs every shard: %w", err)
		}
		has, err := db.HasAccounts(ctx)
		if err != nil {
			return fmt.Errorf("creating the first shard map needs every shard: %w", err)
		}
		infos[i] = info{db: db, owned: owned, rows: rows, accounts: has}
	}
	m := RoundRobin(f.LogicalShards, shards)
	var withRows []int
	for i, in := range infos {
		if in.rows > 0 {
			withRows = append(withRows, i)
		}
	}
	if len(withRows) == 1 && len(infos[withRows[0]].owned) == f.LogicalShards && infos[withRows[0]].rows == f.LogicalShards {
		// One database already serves everything: it keeps it all; `shards rebalance` spreads it.
		for l := range m.Assign {
			m.Assign[l] = withRows[0]
		}
	}
	for i, in := range infos {
		for _, l := range in.owned {
			if m.Assign[l] != i {
				return fmt.Errorf("cannot create the first shard map: shard %s serves logical shard %d already "+
					"(a single database becoming the first shard must be the only one with data, and logical_shards must match it)",
					f.Shards[i].Name, l)
			}
		}
		if in.accounts && len(in.owned) == 0 {
			return fmt.Errorf("cannot create the first shard map: shard %s holds accounts but serves no logical shard", f.Shards[i].Name)
		}
	}
	held := m.Held()
	for i, in := range infos {
		if err := in.db.Claim(ctx, held[f.Shards[i].Name]); err != nil {
			return err
		}
	}
	if ok := s.writeMap(ctx, m); ok < len(infos) {
		return fmt.Errorf("the first shard map was written to %d of %d shards; run hello migrate again", ok, len(infos))
	}
	s.install(m)
	s.log.Info("created the first shard map", "version", m.Version, "logical_shards", m.LogicalShards, "shards", len(m.Shards))
	return nil
}

// writeMap stores m in every physical shard it names and returns how many took it.
func (s *Store) writeMap(ctx context.Context, m *Map) int {
	body := m.encode()
	var mu sync.Mutex
	ok := 0
	var wg sync.WaitGroup
	for _, sh := range m.Shards {
		wg.Go(func() {
			db, err := s.db(ctx, sh.Name)
			if err == nil {
				err = db.WriteMap(ctx, m.Version, body)
			}
			if err != nil {
				s.log.Warn("writing the shard map", "shard", sh.Name, "version", m.Version, "err", err)
				return
			}
			mu.Lock()
			ok++
			mu.Unlock()
		})
	}
	wg.Wait()
	return ok
}

// publish writes the next map version and makes it current; at least one shard must take it.
func (s *Store) publish(ctx context.Context, m *Map) error {
	if s.writeMap(ctx, m) == 0 {
		return fmt.Errorf("no shard accepted shard map version %d", m.Version)
	}
	s.install(m)
	return nil
}

// current re-reads the map and fails when there is none.
func (s *Store) current(ctx context.Context) (*Map, error) {
	m, err := s.loadLatest(ctx)
	if m == nil {
		if err == nil {
			err = ErrNoMap
		}
		return nil, err
	}
	return m, nil
}

// lockMap serialises map changes with an advisory lock on the map's first shard, and returns
// the current map as read under that lock.
func (s *Store) lockMap(ctx context.Context) (*Map, func(), error) {
	m, err := s.current(ctx)
	if err != nil {
		return nil, nil, err
	}
	db, err := s.db(ctx, m.Shards[0].Name)
	if err != nil {
		return nil, nil, err
	}
	unlock, err := db.AdminLock(ctx)
	if err != nil {
		return nil, nil, err
	}
	if m, err = s.current(ctx); err != nil {
		unlock()
		return nil, nil, err
	}
	return m, unlock, nil
}

// ShardStatus describes one physical shard.
type ShardStatus struct {
	Name      string
	Reachable bool
	Err       error
	Logical   int   // logical shards the map assigns to it
	Owned     int   // logical shards it serves by its own ownership rows (-1: unknown)
	Accounts  int64 // accounts in the logical shards it serves (-1: unknown)
}

// Status describes every physical shard of the current map.
func (s *Store) Status(ctx context.Context) (*Map, []ShardStatus, error) {
	m, err := s.current(ctx)
	if err != nil {
		return nil, nil, err
	}
	held := m.Held()
	out := make([]ShardStatus, len(m.Shards))
	var wg sync.WaitGroup
	for i, sh := range m.Shards {
		wg.Go(func() {
			st := ShardStatus{Name: sh.Name, Logical: len(held[sh.Name]), Owned: -1, Accounts: -1}
			db, err := s.db(ctx, sh.Name)
			if err == nil {
				err = db.Ping(ctx)
			}
			if err == nil {
				var owned []int
				if owned, _, err = db.Owned(ctx); err == nil {
					st.Owned = len(owned)
					st.Accounts, err = db.CountAccounts(ctx)
				}
			}
			st.Reachable, st.Err = err == nil, err
			out[i] = st
		})
	}
	wg.Wait()
	return m, out, nil
}

// Add registers a new, empty physical shard: migrates it and publishes a map that names it
// (holding no logical shard yet; `rebalance` gives it its share). dsn may name ${VARS}.
func (s *Store) Add(ctx context.Context, name, dsn string) (*Map, error) {
	if !ValidName(name) {
		return nil, fmt.Errorf("shard name %q must be lower-case letters, digits, '-' or '_'", name)
	}
	if err := checkNoLiteralPassword(dsn); err != nil {
		return nil, err
	}
	m, unlock, err := s.lockMap(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if i := m.Index(name); i >= 0 {
		if m.Shards[i].DSN == dsn {
			return m, nil // already added: re-running is harmless
		}
		return nil, fmt.Errorf("a shard named %s already exists with another DSN", name)
	}
	s.mu.Lock()
	s.extra[name] = dsn
	s.mu.Unlock()
	db, err := s.db(ctx, name)
	if err != nil {
		return nil, err
	}
	if _, err := db.Migrate(ctx); err != nil {
		return nil, err
	}
	owned, _, err := db.Owned(ctx)
	if err != nil {
		return nil, err
	}
	if len(owned) > 0 {
		return nil, fmt.Errorf("shard %s already serves %d logical shards: it belongs to another set or to a single-database install", name, len(owned))
	}
	next := m.next()
	next.Shards = append(next.Shards, MapShard{Name: name, DSN: dsn})
	if err := s.publish(ctx, next); err != nil {
		return nil, err
	}
	return next, nil
}

// MoveResult reports one logical shard move.
type MoveResult struct {
	Logical            int
	From, To           string
	Accounts, Sessions int64
	// Fence is how long writers to the logical shard were held: from requesting the lock to
	// the switch's commit.
	Fence time.Duration
	Total time.Duration
	// Note says what was resumed or skipped, if anything.
	Note string
}

// FenceLockTimeout bounds how long a move waits for in-flight writers before giving up.
const FenceLockTimeout = 2 * time.Second

// Move moves logical shard l to physical shard to, online: copy, catch up, fence writers to l
// only, final catch-up, verify (counts and checksum), switch ownership, publish the map,
// delete the source's rows. It is safe to re-run after a crash at any step: before the switch
// the source still owns l (the copy is redone); after it, the re-run finishes the remaining
// steps. The source's commit of the switch is the single point where ownership changes, so
// there is never a moment with two owners.
func (s *Store) Move(ctx context.Context, l int, to string) (MoveResult, error) {
	_, unlock, err := s.lockMap(ctx)
	if err != nil {
		return MoveResult{}, err
	}
	defer unlock()
	return s.move(ctx, l, to)
}

// Rebalance moves logical shards until every physical shard holds an even share (counts
// differ by at most one). report is called after each move.
func (s *Store) Rebalance(ctx context.Context, report func(MoveResult)) ([]MoveResult, error) {
	m, unlock, err := s.lockMap(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var out []MoveResult
	for _, mv := range Plan(m) {
		r, err := s.move(ctx, mv.Logical, mv.To)
		if err != nil {
			return out, err
		}
		out = append(out, r)
		if report != nil {
			report(r)
		}
	}
	return out, nil
}

func (s *Store) move(ctx context.Context, l int, to string) (MoveResult, error) {
	start := time.Now()
	res := MoveResult{Logical: l, To: to}
	m, err := s.current(ctx)
	if err != nil {
		return res, err
	}
	if l < 0 || l >= m.LogicalShards {
		return res, fmt.Errorf("logical shard %d does not exist (0 to %d)", l, m.LogicalShards-1)
	}
	if m.Index(to) < 0 {
		return res, fmt.Errorf("physical shard %s is not in the shard map (hello shards add first)", to)
	}
	dst, err := s.db(ctx, to)
	if err != nil {
		return res, err
	}
	dstOwn, err := dst.Ownership(ctx, l)
	if err != nil {
		return res, err
	}
	from := m.Owner(l)
	res.From = from
	if from == to {
		if dstOwn.State != "owned" {
			return res, fmt.Errorf("the map gives logical shard %d to %s but %s does not serve it (state %q)", l, to, to, dstOwn.State)
		}
		res.Note = "already there"
		s.cleanup(ctx, m, l, to)
		res.Total = time.Since(start)
		return res, nil
	}
	src, err := s.db(ctx, from)
	if err != nil {
		return res, err
	}
	srcOwn, err := src.Ownership(ctx, l)
	if err != nil {
		return res, err
	}
	switch {
	case dstOwn.State == "owned" || (srcOwn.State == "moved" && srcOwn.Peer == to && dstOwn.State == "incoming"):
		res.Note = "resumed after the switch"
		return s.finish(ctx, m, res, start)
	case srcOwn.State != "owned":
		return res, fmt.Errorf("logical shard %d: the map says %s but its state there is %q (peer %q); move it to %q to finish an earlier move",
			l, from, srcOwn.State, srcOwn.Peer, srcOwn.Peer)
	}

	if err := dst.PrepareIncoming(ctx, l, from); err != nil {
		return res, err
	}
	// Copy, then catch up without a fence until little is left to copy under it.
	for range 5 {
		rows, err := src.LogicalRows(ctx, l)
		if err != nil {
			return res, err
		}
		n, err := dst.SyncFrom(ctx, l, rows)
		if err != nil {
			return res, err
		}
		if n < 50 {
			break
		}
	}
	fence, err := src.Fence(ctx, l, FenceLockTimeout)
	if err != nil {
		return res, err
	}
	fail := func(err error) (MoveResult, error) {
		fence.Release()
		return res, err
	}
	rows, err := src.LogicalRows(ctx, l)
	if err != nil {
		return fail(err)
	}
	if _, err := dst.SyncFrom(ctx, l, rows); err != nil {
		return fail(err)
	}
	want, err := src.Checksum(ctx, l)
	if err != nil {
		return fail(err)
	}
	got, err := dst.Checksum(ctx, l)
	if err != nil {
		return fail(err)
	}
	if want != got {
		return fail(fmt.Errorf("logical shard %d: verification failed: %s has %d accounts, %d sessions (%s); %s has %d, %d (%s)",
			l, from, want.Accounts, want.Sessions, want.Sum, to, got.Accounts, got.Sessions, got.Sum))
	}
	res.Accounts, res.Sessions = want.Accounts, want.Sessions
	err = fence.Switch(ctx, to)
	res.Fence = time.Since(fence.Started)
	if err != nil {
		return res, fmt.Errorf("switching logical shard %d (re-run the move): %w", l, err)
	}
	return s.finish(ctx, m, res, start)
}

// finish runs the steps after the switch: promote the target, publish the map, delete the
// source's rows. Each is idempotent.
func (s *Store) finish(ctx context.Context, m *Map, res MoveResult, start time.Time) (MoveResult, error) {
	dst, err := s.db(ctx, res.To)
	if err != nil {
		return res, err
	}
	if _, err := dst.Promote(ctx, res.Logical); err != nil {
		return res, fmt.Errorf("logical shard %d switched but %s could not take it (re-run the move): %w", res.Logical, res.To, err)
	}
	if m.Owner(res.Logical) != res.To {
		next := m.next()
		next.Assign[res.Logical] = m.Index(res.To)
		if err := s.publish(ctx, next); err != nil {
			return res, err
		}
		m = next
	}
	s.cleanup(ctx, m, res.Logical, res.To)
	res.Total = time.Since(start)
	return res, nil
}

// cleanup deletes logical shard l's rows from every shard but its owner (each refuses while it
// serves l), best effort: leftovers are invisible and the next move or rebalance retries.
func (s *Store) cleanup(ctx context.Context, m *Map, l int, owner string) {
	for _, sh := range m.Shards {
		if sh.Name == owner {
			continue
		}
		db, err := s.db(ctx, sh.Name)
		if err == nil {
			_, err = db.DeleteLogical(ctx, l, 1000)
		}
		if err != nil {
			s.log.Warn("deleting moved rows", "shard", sh.Name, "logical", l, "err", err)
		}
	}
}

// Holders returns, for tests and status, the names of the shards whose ownership rows say
// they serve logical shard l.
func (s *Store) Holders(ctx context.Context, l int) ([]string, error) {
	m, err := s.current(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, sh := range m.Shards {
		db, err := s.db(ctx, sh.Name)
		if err != nil {
			return nil, err
		}
		o, err := db.Ownership(ctx, l)
		if err != nil {
			return nil, err
		}
		if o.State == "owned" {
			out = append(out, sh.Name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// DB returns the pool of physical shard name (for tools and tests).
func (s *Store) DB(ctx context.Context, name string) (*postgres.DB, error) { return s.db(ctx, name) }
