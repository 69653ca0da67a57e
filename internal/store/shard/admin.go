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

// Admin is the operations side of a sharded set, behind `hello shards`: status, add, move,
// rebalance and check. It shares the Store's pools but not its request path: changes to the
// set run under the move lease (one mover at a time), each move with its own id, and every
// step is fenced by that id in the database it changes.
type Admin struct {
	st   *Store
	opts AdminOptions
}

// AdminOptions configure an Admin.
type AdminOptions struct {
	// Holder names this mover in the lease (host and process, for `status`).
	Holder string
	// LeaseTTL is how long the lease lasts unless renewed (default 30s): a mover that died
	// frees it after this long.
	LeaseTTL time.Duration
	// PauseTimeout bounds a move's write pause: waiting for writers in flight, then for the
	// target to confirm the source's last write (default 5s; the move is abandoned, and the
	// writes resume, past it).
	PauseTimeout time.Duration
	// Step, when set, is called at each step boundary of a move (tests inject crashes and
	// interleavings there); an error stops the move as a crash would.
	Step func(ctx context.Context, step Step, moving []int) error

	// staleLease (tests) skips the lease checks at step boundaries, so that a mover that lost
	// its lease acts as one that does not know it yet: only the fencing in the databases stops it.
	staleLease bool
}

// Step names a step boundary of a move.
type Step string

const (
	StepPublished  Step = "published"  // the source publishes the logical shard
	StepSubscribed Step = "subscribed" // the target subscribed: copying
	StepVerified   Step = "verified"   // copy complete and verified, before the pause
	StepPaused     Step = "paused"     // writes paused, target caught up, before the switch
	StepSwitched   Step = "switched"   // the source handed the logical shard to the target
	StepTakenOver  Step = "taken-over" // the target serves it
	StepMapped     Step = "mapped"     // the new map is published
)

// NewAdmin returns the admin side of st.
func NewAdmin(st *Store, o AdminOptions) *Admin {
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = 30 * time.Second
	}
	if o.PauseTimeout <= 0 {
		o.PauseTimeout = 5 * time.Second
	}
	if o.Holder == "" {
		o.Holder = "hello shards"
	}
	return &Admin{st: st, opts: o}
}

// step marks a step boundary: the lease is renewed (a mover that lost it stops here), then
// the test hook runs.
func (a *Admin) step(ctx context.Context, lease *moveLease, s Step, moving []int) error {
	if lease != nil {
		if err := lease.renew(ctx); err != nil {
			return err
		}
	}
	if a.opts.Step == nil {
		return nil
	}
	if err := a.opts.Step(ctx, s, moving); err != nil {
		return fmt.Errorf("stopped after step %s: %w", s, err)
	}
	return nil
}

// lease is the move lease held on the map's first shard ("home").
type moveLease struct {
	a     *Admin
	home  *postgres.DB
	epoch int64
}

// acquire takes the lease and returns it with the current map read under it.
func (a *Admin) acquire(ctx context.Context) (*moveLease, *Map, error) {
	m, err := a.st.current(ctx)
	if err != nil {
		return nil, nil, err
	}
	home, err := a.st.db(ctx, m.Shards[0].Name)
	if err != nil {
		return nil, nil, err
	}
	epoch, err := home.AcquireLease(ctx, a.opts.Holder, a.opts.LeaseTTL)
	if err != nil {
		return nil, nil, err
	}
	lease := &moveLease{a: a, home: home, epoch: epoch}
	if m, err = a.st.current(ctx); err != nil {
		lease.release()
		return nil, nil, err
	}
	return lease, m, nil
}

// next renews the lease and returns a new move id.
func (lease *moveLease) next(ctx context.Context) (int64, error) {
	id, err := lease.home.NextMove(ctx, lease.epoch, lease.a.opts.LeaseTTL)
	if err != nil {
		return 0, err
	}
	lease.epoch = id
	return id, nil
}

func (lease *moveLease) renew(ctx context.Context) error {
	if lease.a.opts.staleLease {
		return nil
	}
	return lease.home.RenewLease(ctx, lease.epoch, lease.a.opts.LeaseTTL)
}

// during runs f, renewing the lease every third of its TTL while f runs: a verification scan of
// a large logical shard can outlast the TTL. A failed renewal cancels f's context and is the
// error returned.
func (lease *moveLease) during(ctx context.Context, f func(context.Context) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(lease.a.opts.LeaseTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if err := lease.renew(ctx); err != nil {
					cancel(fmt.Errorf("renewing the move lease: %w", err))
					return
				}
			}
		}
	})
	err := f(ctx)
	close(done)
	wg.Wait()
	if cause := context.Cause(ctx); err != nil && cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return err
}

func (lease *moveLease) release() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = lease.home.ReleaseLease(ctx, lease.epoch)
}

// publish writes the next map version, fenced by the move id, as a compare-and-set: first on
// the lease's database (the map's first shard), where a newer mover has always acted before
// anything else, so a mover that lost the lease writes no map anywhere; then on every other
// shard. It fails when a shard holds that version with another body or has seen a newer
// move.
func (a *Admin) publish(ctx context.Context, lease *moveLease, id int64, m *Map) error {
	if err := lease.home.WriteMap(ctx, id, m.Version, m.encode()); err != nil {
		return fmt.Errorf("publishing shard map version %d: %w", m.Version, err)
	}
	if _, refused := a.st.writeMap(ctx, id, m); refused != nil {
		return fmt.Errorf("publishing shard map version %d: %w", m.Version, refused)
	}
	a.st.install(m)
	return nil
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
func (a *Admin) Status(ctx context.Context) (*Map, []ShardStatus, error) {
	m, err := a.st.current(ctx)
	if err != nil {
		return nil, nil, err
	}
	held := m.Held()
	out := make([]ShardStatus, len(m.Shards))
	var wg sync.WaitGroup
	for i, sh := range m.Shards {
		wg.Go(func() {
			st := ShardStatus{Name: sh.Name, Logical: len(held[sh.Name]), Owned: -1, Accounts: -1}
			db, err := a.st.db(ctx, sh.Name)
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
func (a *Admin) Add(ctx context.Context, name, dsn string) (*Map, error) {
	if !ValidName(name) {
		return nil, fmt.Errorf("shard name %q must be lower-case letters, digits, '-' or '_'", name)
	}
	if err := checkNoLiteralPassword(dsn); err != nil {
		return nil, err
	}
	lease, m, err := a.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer lease.release()
	if i := m.Index(name); i >= 0 {
		if m.Shards[i].DSN == dsn {
			return m, nil // already added: re-running is harmless
		}
		return nil, fmt.Errorf("a shard named %s already exists with another DSN", name)
	}
	a.st.mu.Lock()
	a.st.extra[name] = dsn
	a.st.mu.Unlock()
	db, err := a.st.db(ctx, name)
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
	meta, err := db.Meta(ctx)
	if err != nil {
		return nil, err
	}
	if len(owned) > 0 || (meta.LogicalShards != 0 && meta.LogicalShards != m.LogicalShards) {
		return nil, fmt.Errorf("shard %s already serves %d logical shards: it belongs to another set or to a single-database install", name, len(owned))
	}
	id, err := lease.next(ctx)
	if err != nil {
		return nil, err
	}
	if err := db.Join(ctx, id, m.LogicalShards); err != nil {
		return nil, err
	}
	next := m.next()
	next.Shards = append(next.Shards, MapShard{Name: name, DSN: dsn})
	if err := a.publish(ctx, lease, id, next); err != nil {
		return nil, err
	}
	return next, nil
}

// Holders returns the names of the shards (of the map and the file) whose ownership rows say
// they serve logical shard logical.
func (a *Admin) Holders(ctx context.Context, logical int) ([]string, error) {
	var out []string
	for _, name := range a.st.names() {
		db, err := a.st.db(ctx, name)
		if err != nil {
			return nil, err
		}
		o, err := db.Ownership(ctx, logical)
		if err != nil {
			return nil, err
		}
		if o.State == postgres.Owned {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// errCopyLost: the source's slot is gone (a failover of the source: slots are not replicated),
// so the copy restarts from the beginning.
var errCopyLost = errors.New("the source's replication slot is gone (a failover?): the copy restarts")
