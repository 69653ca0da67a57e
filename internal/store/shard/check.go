package shard

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/hellosvc/hello/internal/store/postgres"
)

// Report is what Check found.
type Report struct {
	Version       int64 // the latest map version
	LogicalShards int
	Shards        int
	Rows          int64    // rows checked on their owners
	Problems      []string // empty: every invariant holds
}

// OK reports whether every invariant holds.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

func (r *Report) add(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// Check verifies the set's invariants on every database of the map and the file: all hold the
// same map version; each logical shard has exactly one owner, the one the map names, and no
// unfinished move; every row sits on its owner in the logical shard its username hashes to;
// no shard keeps rows of a logical shard it does not own.
func (a *Admin) Check(ctx context.Context) (*Report, error) {
	m, err := a.st.current(ctx)
	if err != nil {
		return nil, err
	}
	rep := &Report{Version: m.Version, LogicalShards: m.LogicalShards}
	names := a.st.names()
	rep.Shards = len(names)
	type result struct {
		err       error
		version   int64
		meta      postgres.Meta
		own       map[int]postgres.Ownership
		rows, bad int64
		examples  []string
		leftovers []int
	}
	res := make([]result, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			r := &res[i]
			db, err := a.st.db(ctx, name)
			if err == nil {
				r.version, err = db.MapVersion(ctx)
			}
			if err == nil {
				r.meta, err = db.Meta(ctx)
			}
			if err == nil {
				r.own, err = db.Ownerships(ctx)
			}
			if err == nil {
				r.rows, r.bad, r.examples, err = db.Misplaced(ctx, m.LogicalShards, nil, 3)
			}
			if err == nil {
				r.leftovers, err = db.Leftovers(ctx)
			}
			r.err = err
		})
	}
	wg.Wait()
	for i, name := range names {
		r := res[i]
		if r.err != nil {
			rep.add("shard %s: %v", name, r.err)
			continue
		}
		if r.version != m.Version {
			rep.add("shard %s holds map version %d, the latest is %d (hello migrate copies it)", name, r.version, m.Version)
		}
		if r.meta.LogicalShards != m.LogicalShards {
			rep.add("shard %s was placed with %d logical shards, the map has %d", name, r.meta.LogicalShards, m.LogicalShards)
		}
		rep.Rows += r.rows
		if r.bad > 0 {
			rep.add("shard %s: %d rows are not in the logical shard their username hashes to, e.g. %s", name, r.bad, strings.Join(r.examples, "; "))
		}
		if len(r.leftovers) > 0 {
			rep.add("shard %s keeps rows of %d logical shards it does not own, e.g. %v (hello shards rebalance deletes them)",
				name, len(r.leftovers), r.leftovers[:min(5, len(r.leftovers))])
		}
	}
	var noOwner, twoOwners, wrong, unfinished []string
	for logical := range m.LogicalShards {
		var owners []string
		for i, name := range names {
			if res[i].err != nil {
				continue
			}
			switch res[i].own[logical].State {
			case postgres.Owned:
				owners = append(owners, name)
			case postgres.Incoming:
				unfinished = append(unfinished, fmt.Sprintf("%d on %s (move %d)", logical, name, res[i].own[logical].MoveID))
			}
		}
		switch {
		case len(owners) == 0:
			noOwner = append(noOwner, fmt.Sprint(logical))
		case len(owners) > 1:
			twoOwners = append(twoOwners, fmt.Sprintf("%d (%s)", logical, strings.Join(owners, ", ")))
		case owners[0] != m.Owner(logical):
			wrong = append(wrong, fmt.Sprintf("%d (on %s, the map says %s)", logical, owners[0], m.Owner(logical)))
		}
	}
	list := func(what string, lease []string, hint string) {
		if len(lease) > 0 {
			rep.add("%d logical shards %s: %s%s", len(lease), what, strings.Join(lease[:min(10, len(lease))], ", "), hint)
		}
	}
	list("have no owner", noOwner, " (a shard is down, or a move stopped after the switch: re-run it)")
	list("have more than one owner", twoOwners, "")
	list("are owned where the map does not say", wrong, " (re-run the move to publish the map)")
	list("have an unfinished move", unfinished, " (re-run the move)")
	return rep, nil
}
