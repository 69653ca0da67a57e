package shard

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hellosvc/hello/internal/account"
	"github.com/hellosvc/hello/internal/store/postgres"
)

// MaxBatch bounds how many logical shards one move carries: a rebalance moves the logical
// shards going from one physical shard to another together (one publication, one copy, one
// pause), since the cost of a move is mostly its fixed steps.
const MaxBatch = 128

// MoveResult reports one move.
type MoveResult struct {
	ID       int64 // the move id (fencing token)
	Logical  []int
	From, To string
	// Accounts and Sessions are the rows the target holds for the moved logical shards.
	Accounts, Sessions int64
	// Pause is how long writers to the logical shards were held: from requesting the locks to
	// the switch's commit.
	Pause time.Duration
	Total time.Duration
	// Copies is how many times the copy started (more than one after a failover of the source).
	Copies int
	// Note says what was resumed or skipped, if anything.
	Note string
}

// Move moves logical shard logical to physical shard to, online, on logical replication:
//
//	lease, move id → publication on the source filtered to it, slot → subscription on the
//	target (copy, then stream) → verify on snapshots → pause writes to it → wait for the
//	target to apply the source's last write → switch (the source says "moved, move id") →
//	take over (drop the subscription, promote) → publish the map (compare-and-set) → clean up
//
// It is safe to re-run after a crash at any step: before the switch the source still owns it
// (the copy is redone); after it, the re-run finishes the remaining steps. The source's commit
// of the switch is the single point where ownership changes.
func (a *Admin) Move(ctx context.Context, logical int, to string) (MoveResult, error) {
	lease, _, err := a.acquire(ctx)
	if err != nil {
		return MoveResult{Logical: []int{logical}, To: to}, err
	}
	defer lease.release()
	return a.move(ctx, lease, []int{logical}, to)
}

// Rebalance moves logical shards until every physical shard holds an even share (counts
// differ by at most one), in batches of up to MaxBatch per source and target, then deletes
// rows left on shards that no longer own them. report is called after each move.
func (a *Admin) Rebalance(ctx context.Context, report func(MoveResult)) ([]MoveResult, error) {
	lease, m, err := a.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer lease.release()
	type pair struct{ from, to string }
	batches := map[pair][]int{}
	var order []pair
	for _, mv := range Plan(m) {
		p := pair{mv.From, mv.To}
		if _, ok := batches[p]; !ok {
			order = append(order, p)
		}
		batches[p] = append(batches[p], mv.Logical)
	}
	var out []MoveResult
	for _, p := range order {
		for chunk := range slices.Chunk(batches[p], MaxBatch) {
			r, err := a.move(ctx, lease, chunk, p.to)
			if err != nil {
				return out, err
			}
			out = append(out, r)
			if report != nil {
				report(r)
			}
		}
	}
	return out, a.cleanLeftovers(ctx, lease)
}

func (a *Admin) move(ctx context.Context, lease *moveLease, moving []int, to string) (MoveResult, error) {
	start := time.Now()
	res := MoveResult{Logical: slices.Sorted(slices.Values(moving)), To: to}
	id, err := lease.next(ctx)
	if err != nil {
		return res, err
	}
	res.ID = id
	m, err := a.st.current(ctx)
	if err != nil {
		return res, err
	}
	if m.Index(to) < 0 {
		return res, fmt.Errorf("physical shard %s is not in the shard map (hello shards add first)", to)
	}
	for _, logical := range res.Logical {
		if logical < 0 || logical >= m.LogicalShards {
			return res, fmt.Errorf("logical shard %d does not exist (0 to %d)", logical, m.LogicalShards-1)
		}
		if m.Owner(logical) != m.Owner(res.Logical[0]) {
			return res, errors.New("the logical shards of one move must come from one physical shard")
		}
	}
	from := m.Owner(res.Logical[0])
	res.From = from
	a.fenceAll(ctx, id, m)
	dst, err := a.st.db(ctx, to)
	if err != nil {
		return res, err
	}
	dstOwn, err := dst.Ownerships(ctx)
	if err != nil {
		return res, err
	}
	if from == to {
		for _, logical := range res.Logical {
			if dstOwn[logical].State != postgres.Owned {
				return res, fmt.Errorf("the map gives logical shard %d to %s but %s does not serve it (state %q)", logical, to, to, dstOwn[logical].State)
			}
		}
		res.Note = "already there"
		a.cleanup(ctx, id, m, res.Logical, to)
		res.Total = time.Since(start)
		return res, nil
	}
	src, err := a.st.db(ctx, from)
	if err != nil {
		return res, err
	}
	srcOwn, err := src.Ownerships(ctx)
	if err != nil {
		return res, err
	}
	// Each logical shard is fresh (the source serves it), or an earlier move of it got past
	// its switch: that move's copy is taken over, never another one.
	taken := map[int]int64{}
	var fresh []int
	for _, logical := range res.Logical {
		s, d := srcOwn[logical], dstOwn[logical]
		switch {
		case d.State == postgres.Owned:
			taken[logical] = d.MoveID
		case s.State == postgres.Moved && s.Peer == to && d.State == postgres.Incoming && d.MoveID == s.MoveID:
			taken[logical] = s.MoveID
		case s.State == postgres.Owned:
			fresh = append(fresh, logical)
		default:
			return res, fmt.Errorf("logical shard %d: the map says %s but its state there is %q (peer %q); move it to %q to finish an earlier move",
				logical, from, s.State, s.Peer, s.Peer)
		}
	}
	if len(taken) > 0 {
		res.Note = fmt.Sprintf("resumed %d logical shards after their switch", len(taken))
	}
	if len(fresh) > 0 {
		if res.Pause, res.Copies, err = a.copyPauseSwitch(ctx, lease, id, src, dst, fresh, from, to, m.LogicalShards); err != nil {
			return res, err
		}
		for _, logical := range fresh {
			taken[logical] = id
		}
	}
	return a.finish(ctx, lease, id, res, taken, start)
}

// fenceAll raises every shard's epoch to the new move's id and drops the subscriptions of
// older moves there (abandoned: one mover holds the lease), best effort for shards that do
// not answer: after it, a mover that lost the lease can change nothing on any shard that
// answered, and no abandoned subscriber keeps a source's slot busy.
func (a *Admin) fenceAll(ctx context.Context, id int64, m *Map) {
	for _, sh := range m.Shards {
		db, err := a.st.db(ctx, sh.Name)
		if err == nil {
			err = db.DropSubscriptions(ctx, id, false)
		}
		if err != nil {
			a.st.log.Warn("fencing a shard at the start of a move", "shard", sh.Name, "move", id, "err", err)
		}
	}
}

// copyPauseSwitch moves the fresh logical shards (moving) from src to dst up to the switch. It
// returns the pause and how many copies were started.
func (a *Admin) copyPauseSwitch(ctx context.Context, lease *moveLease, id int64, src, dst *postgres.DB, moving []int, from, to string, n int) (time.Duration, int, error) {
	// Leftovers of an abandoned move (slots hold WAL on the source) go first: subscribers
	// before publishers.
	for _, db := range []*postgres.DB{dst, src} {
		if err := db.DropMoveObjects(ctx, id, false); err != nil {
			return 0, 0, err
		}
	}
	name, err := src.MoveName(ctx, id)
	if err != nil {
		return 0, 0, err
	}
	conninfo, err := a.st.conninfo(from)
	if err != nil {
		return 0, 0, err
	}
	var bounds []string
	var diff []int
	copies := 0
	for {
		copies++
		bounds, diff, err = a.copyAndVerify(ctx, lease, id, src, dst, moving, from, name, conninfo, n)
		if errors.Is(err, errCopyLost) && copies < 3 {
			a.st.log.Warn("restarting a move's copy", "logical", moving, "from", from, "to", to, "move", id, "err", err)
			if err := src.DropMoveObjects(ctx, id, true); err != nil {
				return 0, copies, err
			}
			continue
		}
		if err != nil {
			return 0, copies, err
		}
		break
	}
	if err := a.step(ctx, lease, StepVerified, moving); err != nil {
		return 0, copies, err
	}

	// The pause: only the replication tail and the buckets that changed during verification.
	pctx, cancel := context.WithTimeout(ctx, a.opts.PauseTimeout)
	defer cancel()
	pause, err := src.Pause(pctx, id, moving, a.opts.PauseTimeout)
	if err != nil {
		return 0, copies, err
	}
	fail := func(err error) (time.Duration, int, error) {
		pause.Release()
		return 0, copies, err
	}
	if err := catchUp(pctx, src, dst, id); err != nil {
		return fail(fmt.Errorf("the target did not catch up within the pause: %w", err))
	}
	if len(diff) > 0 {
		if d, err := compareBuckets(pctx, src, dst, moving, bounds, diff); err != nil {
			return fail(err)
		} else if len(d) > 0 {
			return fail(fmt.Errorf("verification failed: %d buckets differ between %s and %s with writes paused", len(d), from, to))
		}
	}
	if err := a.step(ctx, lease, StepPaused, moving); err != nil {
		return fail(err)
	}
	err = pause.Switch(ctx, to)
	paused := time.Since(pause.Started)
	if err != nil {
		return paused, copies, fmt.Errorf("switching (re-run the move): %w", err)
	}
	return paused, copies, a.step(ctx, lease, StepSwitched, moving)
}

// copyAndVerify publishes the logical shards on the source, subscribes the target, waits for
// the copy and for streaming to catch up, then verifies: every row in its hashed logical
// shard, and the username ranges of both sides on their own snapshots. It returns the ranges
// and those that still differed (writes in flight), to compare again under the pause.
func (a *Admin) copyAndVerify(ctx context.Context, lease *moveLease, id int64, src, dst *postgres.DB, moving []int, from, name, conninfo string, n int) (bounds []string, diff []int, err error) {
	if err := src.Publish(ctx, id, moving, name); err != nil {
		return nil, nil, err
	}
	if err := a.step(ctx, lease, StepPublished, moving); err != nil {
		return nil, nil, err
	}
	if err := dst.Subscribe(ctx, id, moving, from, name, conninfo); err != nil {
		return nil, nil, err
	}
	if err := a.step(ctx, lease, StepSubscribed, moving); err != nil {
		return nil, nil, err
	}
	var firstErrors int64 = -1
	var down time.Time // since when a database of the move has not answered
	err = postgres.Poll(ctx, 20*time.Millisecond, func() (bool, error) {
		done, err := copied(ctx, lease, src, dst, name, &firstErrors)
		if errors.Is(err, account.ErrUnavailable) {
			// A failover of the source (often the lease's database too) makes it unreachable
			// for a while, and then it answers without the slot: errCopyLost, the copy
			// restarts. Wait for it while the lease may still be renewed.
			if down.IsZero() {
				down = time.Now()
				a.st.log.Warn("a database of a move does not answer: waiting for it", "logical", moving, "from", from, "move", id, "err", err)
			}
			if time.Since(down) < a.opts.LeaseTTL {
				return false, nil
			}
		}
		if err == nil {
			down = time.Time{}
		}
		return done, err
	})
	if err != nil {
		return nil, nil, err
	}
	if err := catchUp(ctx, src, dst, id); err != nil {
		return nil, nil, err
	}
	// The scans below read every row of the moving logical shards: the lease is renewed while
	// they run.
	err = lease.during(ctx, func(ctx context.Context) error {
		if rows, bad, ex, err := dst.Misplaced(ctx, n, moving, 5); err != nil {
			return err
		} else if bad > 0 {
			return fmt.Errorf("%d of %d rows are not in their hashed logical shard (%v): fix the source before moving", bad, rows, ex)
		}
		if bounds, err = src.Bounds(ctx, moving, VerifyRanges, VerifyRangeRows); err != nil {
			return err
		}
		// A full comparison, then only the ranges that differed (writes landed between the
		// two snapshots), until none is left or the rounds run out: each round is shorter, so
		// fewer writes land in it. The ranges left are compared again under the pause: none
		// most of the time, and at most a few ranges of bounded size, so the pause stays the
		// same whatever the size of the logical shards.
		for round := range verifyRounds {
			if round > 0 {
				if err := catchUp(ctx, src, dst, id); err != nil {
					return err
				}
			}
			if diff, err = compareBuckets(ctx, src, dst, moving, bounds, diff); err != nil {
				return err
			}
			if len(diff) == 0 {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return bounds, diff, nil
}

// copied reports whether the copy of move name is complete (every table copied, now
// streaming); errCopyLost when the source's slot is gone.
func copied(ctx context.Context, lease *moveLease, src, dst *postgres.DB, name string, firstErrors *int64) (bool, error) {
	if err := lease.renew(ctx); err != nil {
		return false, err
	}
	if ok, err := src.SlotExists(ctx, name); err != nil {
		return false, err
	} else if !ok {
		return false, errCopyLost
	}
	c, err := dst.CopyState(ctx, name)
	if err != nil {
		return false, err
	}
	if *firstErrors < 0 {
		*firstErrors = c.Errors
	}
	if c.Errors-*firstErrors >= 5 {
		return false, fmt.Errorf("the copy to %s keeps failing (%d errors; see its server log)", dst.Name(), c.Errors-*firstErrors)
	}
	return c.Tables > 0 && c.Ready == c.Tables, nil
}

// catchUp writes the move's marker on the source and waits until the target has applied it:
// logical replication applies in commit order, so the target then has every write to the
// moving logical shards that committed before.
func catchUp(ctx context.Context, src, dst *postgres.DB, id int64) error {
	seq, err := src.Mark(ctx, id)
	if err != nil {
		return err
	}
	return postgres.Poll(ctx, 2*time.Millisecond, func() (bool, error) {
		got, err := dst.Marked(ctx, id)
		return got >= seq, err
	})
}

// A move's verification compares at least VerifyRanges username ranges, of at most
// VerifyRangeRows accounts each; it converges (up to verifyRounds rounds) until no range
// differs, and compares those that still do again with writes paused.
const (
	VerifyRanges    = 4096
	VerifyRangeRows = 64
	verifyRounds    = 16
)

// compareBuckets returns the ranges (of only, or all when nil) whose sums differ.
func compareBuckets(ctx context.Context, src, dst *postgres.DB, moving []int, bounds []string, only []int) ([]int, error) {
	if only != nil && len(only) == 0 {
		return only, nil
	}
	want, err := src.Buckets(ctx, moving, bounds, only)
	if err != nil {
		return nil, err
	}
	got, err := dst.Buckets(ctx, moving, bounds, only)
	if err != nil {
		return nil, err
	}
	diff := []int{}
	for b := range len(bounds) + 1 {
		if want[b] != got[b] {
			diff = append(diff, b)
		}
	}
	return diff, nil
}

// finish runs the steps after the switch: the target takes over (drops the subscription,
// promotes the copies of the moves in taken), the map is published, the other shards' rows
// deleted. Each is idempotent.
func (a *Admin) finish(ctx context.Context, lease *moveLease, id int64, res MoveResult, taken map[int]int64, start time.Time) (MoveResult, error) {
	dst, err := a.st.db(ctx, res.To)
	if err != nil {
		return res, err
	}
	if err := dst.Takeover(ctx, id, taken); err != nil {
		return res, fmt.Errorf("logical shards switched but %s could not take them (re-run the move): %w", res.To, err)
	}
	if err := a.step(ctx, lease, StepTakenOver, res.Logical); err != nil {
		return res, err
	}
	m, err := a.st.current(ctx)
	if err != nil {
		return res, err
	}
	next := m.next()
	for logical := range taken {
		next.Assign[logical] = m.Index(res.To)
	}
	if !slices.Equal(next.Assign, m.Assign) {
		if err := a.publish(ctx, lease, id, next); err != nil {
			return res, err
		}
		m = next
	}
	if err := a.step(ctx, lease, StepMapped, res.Logical); err != nil {
		return res, err
	}
	a.cleanup(ctx, id, m, res.Logical, res.To)
	res.Accounts, res.Sessions, _ = dst.Counts(ctx, res.Logical)
	res.Total = time.Since(start)
	return res, nil
}

// cleanup removes the moves' replication objects everywhere and the rows of logical shards
// moving from every shard but their owner (each refuses while it serves them), best effort:
// leftovers are invisible and the next rebalance retries.
func (a *Admin) cleanup(ctx context.Context, id int64, m *Map, lease []int, owner string) {
	for _, sh := range m.Shards { // subscribers first: no slot waits for a running one
		db, err := a.st.db(ctx, sh.Name)
		if err == nil {
			err = db.DropSubscriptions(ctx, id, true)
		}
		if err != nil {
			a.st.log.Warn("cleaning up after a move", "shard", sh.Name, "logical", lease, "err", err)
		}
	}
	for _, sh := range m.Shards {
		db, err := a.st.db(ctx, sh.Name)
		if err == nil {
			err = db.DropMoveObjects(ctx, id, true)
		}
		if err == nil && sh.Name != owner {
			err = db.DropIncoming(ctx, id, lease)
		}
		if err == nil && sh.Name != owner {
			_, err = db.DeleteLogical(ctx, lease, 1000)
		}
		if err != nil {
			a.st.log.Warn("cleaning up after a move", "shard", sh.Name, "logical", lease, "err", err)
		}
	}
}

// cleanLeftovers finishes the clean-up of earlier moves: rows of logical shards a database
// does not own, and old replication objects.
func (a *Admin) cleanLeftovers(ctx context.Context, lease *moveLease) error {
	m, err := a.st.current(ctx)
	if err != nil {
		return err
	}
	id, err := lease.next(ctx)
	if err != nil {
		return err
	}
	dbs := make([]*postgres.DB, len(m.Shards))
	for i, sh := range m.Shards {
		if dbs[i], err = a.st.db(ctx, sh.Name); err != nil {
			return err
		}
		if err := dbs[i].DropSubscriptions(ctx, id, true); err != nil {
			return err
		}
	}
	for _, db := range dbs {
		if err := db.DropMoveObjects(ctx, id, true); err != nil {
			return err
		}
		left, err := db.Leftovers(ctx)
		if err != nil {
			return err
		}
		if _, err := db.DeleteLogical(ctx, left, 1000); err != nil {
			return err
		}
	}
	return nil
}
