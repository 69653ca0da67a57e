package shard

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

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
	// Heal: every shard that answers gets the current map (a compare-and-set: never a change).
	if m := s.cur.Load(); m != nil {
		if _, err := s.writeMap(ctx, 0, m); err != nil {
			s.log.Warn("a shard holds another body for the current map version", "version", m.Version, "err", err)
		}
	}
	return total, nil
}

// bootstrap creates map version 1 when no database has one: round-robin over the file's
// shards when they are all empty, or everything on the one database that already serves
// every logical shard (a single database, HELLO_DB=postgres://…, becoming the first shard).
// Concurrent first starts serialise on session locks taken on every database in name order;
// and each database takes its claim and the first map in one transaction that refuses a
// different first map, so even without the locks no logical shard gets two owners.
func (s *Store) bootstrap(ctx context.Context) error {
	if m, err := s.loadLatest(ctx, s.startWait()); m != nil {
		return nil
	} else if err != nil {
		return err
	}
	f := s.opts.File
	order := make([]int, len(f.Shards))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(f.Shards[a].Name, f.Shards[b].Name) })
	dbs := make([]*postgres.DB, len(f.Shards))
	for _, i := range order {
		db, err := s.db(ctx, f.Shards[i].Name)
		if err != nil {
			return err
		}
		dbs[i] = db
		unlock, err := db.LockBootstrap(ctx)
		if err != nil {
			return fmt.Errorf("creating the first shard map needs every shard: %w", err)
		}
		defer unlock()
	}
	// Another first start may have finished while we waited.
	if m, err := s.loadLatest(ctx, s.startWait()); m != nil {
		return nil
	} else if err != nil {
		return err
	}

	type info struct {
		owned    []int
		accounts bool
		meta     postgres.Meta
	}
	infos := make([]info, len(f.Shards))
	shards := make([]MapShard, len(f.Shards))
	for i, fs := range f.Shards {
		shards[i] = MapShard(fs)
		owned, _, err := dbs[i].Owned(ctx)
		if err == nil {
			infos[i].accounts, err = dbs[i].HasAccounts(ctx)
		}
		if err == nil {
			infos[i].meta, err = dbs[i].Meta(ctx)
		}
		if err != nil {
			return fmt.Errorf("creating the first shard map needs every shard: %w", err)
		}
		infos[i].owned = owned
		if p := infos[i].meta.LogicalShards; p != 0 && p != f.LogicalShards {
			return fmt.Errorf("cannot create the first shard map: the rows of shard %s were placed with %d logical shards "+
				"but the shards file says logical_shards: %d; it may never change (set it to %d)", fs.Name, p, f.LogicalShards, p)
		}
		for _, logical := range owned {
			if logical >= f.LogicalShards {
				return fmt.Errorf("cannot create the first shard map: shard %s serves logical shard %d, beyond logical_shards: %d", fs.Name, logical, f.LogicalShards)
			}
		}
	}
	m := RoundRobin(f.LogicalShards, shards)
	var withRows []int
	for i, in := range infos {
		if len(in.owned) > 0 {
			withRows = append(withRows, i)
		}
	}
	if len(withRows) == 1 && len(infos[withRows[0]].owned) == f.LogicalShards {
		// One database already serves everything: it keeps it all; `shards rebalance` spreads it.
		for logical := range m.Assign {
			m.Assign[logical] = withRows[0]
		}
	}
	for i, in := range infos {
		for _, logical := range in.owned {
			if m.Assign[logical] != i {
				return fmt.Errorf("cannot create the first shard map: shard %s serves logical shard %d already "+
					"(a single database becoming the first shard must be the only one with data)", f.Shards[i].Name, logical)
			}
		}
		if in.accounts && len(in.owned) == 0 {
			return fmt.Errorf("cannot create the first shard map: shard %s holds accounts but serves no logical shard", f.Shards[i].Name)
		}
	}
	held, body := m.Held(), m.encode()
	for _, i := range order { // the first database in name order decides between racing starts
		if err := dbs[i].ClaimFirst(ctx, m.LogicalShards, held[f.Shards[i].Name], m.Version, body); err != nil {
			return fmt.Errorf("cannot create the first shard map on shard %s: %w", f.Shards[i].Name, err)
		}
	}
	s.install(m)
	s.log.Info("created the first shard map", "version", m.Version, "logical_shards", m.LogicalShards, "shards", len(m.Shards))
	return nil
}

// writeMap stores m in every physical shard it names (fenced by epoch when > 0) and returns
// how many took it and the first refusal (a conflicting body or a newer epoch), if any.
func (s *Store) writeMap(ctx context.Context, epoch int64, m *Map) (int, error) {
	body := m.encode()
	var mu sync.Mutex
	ok := 0
	var refused error
	var wg sync.WaitGroup
	for _, sh := range m.Shards {
		wg.Go(func() {
			db, err := s.db(ctx, sh.Name)
			if err == nil {
				err = db.WriteMap(ctx, epoch, m.Version, body)
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, postgres.ErrMapConflict) || errors.Is(err, postgres.ErrFenced):
				refused = err
			default:
				s.log.Warn("writing the shard map", "shard", sh.Name, "version", m.Version, "err", err)
			}
		})
	}
	wg.Wait()
	return ok, refused
}

// current re-reads the map and fails when there is none.
func (s *Store) current(ctx context.Context) (*Map, error) {
	m, err := s.loadLatest(ctx, refreshWait)
	if m == nil {
		if err == nil {
			err = ErrNoMap
		}
		return nil, err
	}
	return m, nil
}
