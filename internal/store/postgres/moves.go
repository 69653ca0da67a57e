package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The steps of moving logical shards on PostgreSQL's logical replication. The source
// publishes the logical shards' rows (a row filter on logical_shard, part of each table's
// replica identity) through a slot created beforehand; the target subscribes to it (copy, then
// stream). Every step that changes a database is fenced by the move's id (its epoch).

// ErrLeaseHeld: another mover holds the lease.
var ErrLeaseHeld = errors.New("another shard operation holds the lease")

// AcquireLease takes the move lease (on the map's first shard) for ttl and returns its epoch.
func (d *DB) AcquireLease(ctx context.Context, holder string, ttl time.Duration) (int64, error) {
	var epoch int64
	err := d.pool.QueryRow(ctx, `UPDATE shard_lease SET epoch = epoch + 1, holder = $1,
			expires_at = clock_timestamp() + $2 * interval '1 millisecond'
		WHERE expires_at < clock_timestamp() RETURNING epoch`, holder, ttl.Milliseconds()).Scan(&epoch)
	if errors.Is(err, pgx.ErrNoRows) {
		var who string
		var until time.Time
		if err := d.pool.QueryRow(ctx, `SELECT holder, expires_at FROM shard_lease`).Scan(&who, &until); err != nil {
			return 0, d.wrap("reading the move lease", err)
		}
		return 0, fmt.Errorf("%w (%s, until %s unless renewed)", ErrLeaseHeld, who, until.UTC().Format(time.RFC3339))
	}
	return epoch, d.wrap("taking the move lease", err)
}

// NextMove renews the lease held at epoch and moves it to epoch+1, the id of the next move.
func (d *DB) NextMove(ctx context.Context, epoch int64, ttl time.Duration) (int64, error) {
	var next int64
	// The lease's database is fenced by the new id at once: an older mover's next step there
	// (the first map write, see shard.Admin.publish) fails.
	err := d.pool.QueryRow(ctx, `WITH l AS (UPDATE shard_lease SET epoch = epoch + 1,
			expires_at = clock_timestamp() + $2 * interval '1 millisecond'
		WHERE epoch = $1 AND expires_at > clock_timestamp() RETURNING epoch),
		f AS (UPDATE shard_meta SET epoch = (SELECT epoch FROM l) WHERE epoch < (SELECT epoch FROM l))
		SELECT epoch FROM l`, epoch, ttl.Milliseconds()).Scan(&next)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("postgres %s: the move lease was lost: %w", d.name, ErrFenced)
	}
	return next, d.wrap("renewing the move lease", err)
}

// RenewLease extends the lease held at epoch by ttl; ErrFenced when it was lost.
func (d *DB) RenewLease(ctx context.Context, epoch int64, ttl time.Duration) error {
	tag, err := d.pool.Exec(ctx, `UPDATE shard_lease SET expires_at = clock_timestamp() + $2 * interval '1 millisecond'
		WHERE epoch = $1 AND expires_at > clock_timestamp()`, epoch, ttl.Milliseconds())
	if err != nil {
		return d.wrap("renewing the move lease", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres %s: the move lease was lost: %w", d.name, ErrFenced)
	}
	return nil
}

// ReleaseLease frees the lease held at epoch (a no-op once lost).
func (d *DB) ReleaseLease(ctx context.Context, epoch int64) error {
	_, err := d.pool.Exec(ctx, `UPDATE shard_lease SET expires_at = '-infinity' WHERE epoch = $1`, epoch)
	return d.wrap("releasing the move lease", err)
}

// MoveName names the replication objects of move id from this database: slots are per
// cluster, and several databases of a cluster may be sources.
func (d *DB) MoveName(ctx context.Context, id int64) (string, error) {
	var oid uint32
	err := d.pool.QueryRow(ctx, `SELECT oid FROM pg_database WHERE datname = current_database()`).Scan(&oid)
	return fmt.Sprintf("hello_%d_%d", oid, id), d.wrap("naming the move", err)
}

// moveObject matches the name of any move's replication object; its id is the last number.
var moveObject = regexp.MustCompile(`^hello_[0-9]+_([0-9]+)$`)

const moveObjectSQL = `^hello_[0-9]+_[0-9]+$`

// older reports whether move object name belongs to a move before id.
func older(name string, id int64) bool {
	m := moveObject.FindStringSubmatch(name)
	if m == nil {
		return false
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	return err == nil && n < id
}

// filter is a publication row filter on logical shards logicals (simple built-in operators only).
func filter(logicals []int) string {
	parts := make([]string, len(logicals))
	for i, logical := range logicals {
		parts[i] = strconv.Itoa(logical)
	}
	return "WHERE (logical_shard IN (" + strings.Join(parts, ", ") + "))"
}

// Publish starts the source side of move id (named name) of logical shards logicals: a publication
// of their rows and of the move's catch-up marker, and a logical replication slot created
// before the subscription (a subscription to the same cluster cannot create its own). The
// database must own every one of logicals.
func (d *DB) Publish(ctx context.Context, id int64, logicals []int, name string) error {
	if !moveObject.MatchString(name) || len(logicals) == 0 {
		return fmt.Errorf("postgres %s: invalid move %q of %d logical shards", d.name, name, len(logicals))
	}
	err := d.admin(ctx, "publishing logical shards", id, func(tx pgx.Tx) error {
		var owned int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM shard_owned WHERE logical_shard = ANY($1::integer[]) AND state = 'owned'`, logicals).Scan(&owned); err != nil {
			return fmt.Errorf("reading ownership: %w", err)
		}
		if owned != len(logicals) {
			return fmt.Errorf("owns %d of the %d logical shards to move", owned, len(logicals))
		}
		if _, err := tx.Exec(ctx, `DELETE FROM shard_marker WHERE move_id <> $1`, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO shard_marker (move_id, seq) VALUES ($1, 0) ON CONFLICT (move_id) DO NOTHING`, id); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)`, name).Scan(&exists); err != nil || exists {
			return err
		}
		f := filter(logicals)
		_, err := tx.Exec(ctx, fmt.Sprintf(`CREATE PUBLICATION %s FOR TABLE accounts %s, sessions %s, shard_marker WHERE (move_id = %d)`, name, f, f, id))
		return err
	})
	if err != nil {
		return err
	}
	_, err = d.pool.Exec(ctx, `SELECT pg_create_logical_replication_slot($1, 'pgoutput')
		WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)`, name)
	return d.wrap("creating the move's replication slot", err)
}

// SlotExists reports whether the move's slot exists here (slots do not survive a failover).
func (d *DB) SlotExists(ctx context.Context, name string) (bool, error) {
	var ok bool
	err := d.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)`, name).Scan(&ok)
	return ok, d.wrap("looking for the move's slot", err)
}

// Subscribe starts the target side of move id: it drops any earlier move's subscription and
// the rows of logical shards logicals here, marks them incoming from source "from", and subscribes
// to the source's publication through conninfo (a credential of the admin command, kept in
// the catalog only until the move ends). The database must own none of logicals.
func (d *DB) Subscribe(ctx context.Context, id int64, logicals []int, from, name, conninfo string) error {
	if !moveObject.MatchString(name) {
		return fmt.Errorf("postgres %s: invalid move name %q", d.name, name)
	}
	if err := d.stopOlder(ctx, id, id+1); err != nil {
		return err
	}
	return d.admin(ctx, "subscribing to logical shards", id, func(tx pgx.Tx) error {
		var owned int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM shard_owned WHERE logical_shard = ANY($1::integer[]) AND state = 'owned'`, logicals).Scan(&owned); err != nil {
			return fmt.Errorf("reading ownership: %w", err)
		}
		if owned > 0 {
			return fmt.Errorf("already owns %d of the logical shards to move here", owned)
		}
		if err := dropSubscriptions(ctx, tx, id+1); err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM accounts WHERE logical_shard = ANY($1::integer[])`, // sessions cascade
			`DELETE FROM sessions WHERE logical_shard = ANY($1::integer[])`,
		} {
			if _, err := tx.Exec(ctx, q, logicals); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM shard_marker`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO shard_owned (logical_shard, state, peer, move_id)
			SELECT unnest($1::integer[]), 'incoming', $2, $3
			ON CONFLICT (logical_shard) DO UPDATE SET state = 'incoming', peer = $2, move_id = $3, changed_at = now()`, logicals, from, id); err != nil {
			return err
		}
		// synchronous_commit = on: what the target applied is durable (and on its synchronous
		// standby) before the source's slot moves past it.
		_, err := tx.Exec(ctx, fmt.Sprintf(`CREATE SUBSCRIPTION %s CONNECTION %s PUBLICATION %s
			WITH (create_slot = false, slot_name = %s, copy_data = true, synchronous_commit = 'on')`,
			name, quoteLiteral(conninfo), name, name))
		return err
	})
}

// stopOlder disables the move subscriptions here of moves before id in a short fenced
// transaction of its own, then waits for their workers to exit. A DROP SUBSCRIPTION waits for
// its workers; a table-sync worker creating its slot on the same cluster waits for every
// transaction with an id — the dropping one included — so dropping in one step can deadlock.
func (d *DB) stopOlder(ctx context.Context, id, before int64) error {
	var names []string
	if err := d.admin(ctx, "stopping old moves' subscriptions", id, func(tx pgx.Tx) error {
		var err error
		if names, err = olderSubscriptions(ctx, tx, before); err != nil {
			return err
		}
		for _, n := range names {
			if _, err := tx.Exec(ctx, fmt.Sprintf(`ALTER SUBSCRIPTION %s DISABLE`, pgx.Identifier{n}.Sanitize())); err != nil {
				return err
			}
		}
		return nil
	}); err != nil || len(names) == 0 {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return d.wrap("stopping old moves' subscriptions", Poll(wctx, 10*time.Millisecond, func() (bool, error) {
		var running int
		err := d.pool.QueryRow(wctx, `SELECT count(*) FROM pg_stat_subscription WHERE subname = ANY($1) AND pid IS NOT NULL`, names).Scan(&running)
		return running == 0, err
	}))
}

// dropSubscriptions drops, in tx, every move subscription here of a move before id, detaching
// it from its slot first (the slot may be on this cluster, or gone after a failover): the
// source drops the slot.
func dropSubscriptions(ctx context.Context, tx pgx.Tx, before int64) error {
	names, err := olderSubscriptions(ctx, tx, before)
	if err != nil {
		return err
	}
	for _, n := range names {
		for _, q := range []string{`ALTER SUBSCRIPTION %s DISABLE`, `ALTER SUBSCRIPTION %s SET (slot_name = NONE)`, `DROP SUBSCRIPTION %s`} {
			if _, err := tx.Exec(ctx, fmt.Sprintf(q, pgx.Identifier{n}.Sanitize())); err != nil {
				return err
			}
		}
	}
	return nil
}

// olderSubscriptions lists this database's move subscriptions of moves before id before.
func olderSubscriptions(ctx context.Context, tx pgx.Tx, before int64) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT subname FROM pg_subscription
		WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND subname ~ $1`, moveObjectSQL)
	if err != nil {
		return nil, err
	}
	all, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(n string) bool { return !older(n, before) }), nil
}

// CopyState reports a move's subscription on the target: tables in total and ready (copied,
// now streaming), and the errors its workers have hit.
type CopyState struct {
	Tables, Ready int
	Errors        int64
}

// CopyState reads the state of subscription name.
func (d *DB) CopyState(ctx context.Context, name string) (CopyState, error) {
	var c CopyState
	err := d.pool.QueryRow(ctx, `SELECT count(r.*), count(r.*) FILTER (WHERE r.srsubstate = 'r'),
			coalesce((SELECT apply_error_count + sync_error_count FROM pg_stat_subscription_stats WHERE subname = $1), 0)
		FROM pg_subscription s LEFT JOIN pg_subscription_rel r ON r.srsubid = s.oid
		WHERE s.subname = $1 AND s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
		name).Scan(&c.Tables, &c.Ready, &c.Errors)
	return c, d.wrap("reading the copy's state", err)
}

// Mark bumps move id's catch-up marker on the source and returns its value.
func (d *DB) Mark(ctx context.Context, id int64) (int64, error) {
	var seq int64
	err := d.pool.QueryRow(ctx, `UPDATE shard_marker SET seq = seq + 1 WHERE move_id = $1 RETURNING seq`, id).Scan(&seq)
	return seq, d.wrap("marking the move", err)
}

// Marked returns the marker of move id that the target has applied (0: none yet).
func (d *DB) Marked(ctx context.Context, id int64) (int64, error) {
	var seq int64
	err := d.pool.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM shard_marker WHERE move_id = $1`, id).Scan(&seq)
	return seq, d.wrap("reading the move's marker", err)
}

// A move verifies the copy by ranges of usernames in byte order ("buckets"): for each, the
// row count and two sums (mod 2^64) of 64-bit slices of each row's SHA-256 over an injective
// encoding (every field length-prefixed). Sums do not depend on row order, the database
// streams the rows (nothing is held but the sums), and a range is an index range, so
// rechecking the few ranges that changed costs those rows only.

// MaxName sorts after every username (letters, digits, '.', '_', '-'): the last range's end.
const MaxName = "\U0010FFFF"

// Bucket sums one range of usernames.
type Bucket struct {
	Rows       int64
	Sum1, Sum2 uint64
}

// rowHash is the hash of a row: accounts and sessions, each field length-prefixed.
const (
	accountHash = `substr(sha256(convert_to('a' || length(username) || ':' || username || length(password_hash) || ':' ||
		password_hash || (extract(epoch FROM created_at) * 1000000)::bigint || ':' || length(devices) || ':' || devices, 'UTF8')), 1, 16)`
	sessionHash = `substr(sha256(convert_to('s' || length(username) || ':' || username || length(token_hash) || ':' ||
		encode(token_hash, 'hex') || (extract(epoch FROM expires_at) * 1000000)::bigint || ':', 'UTF8')), 1, 16)`
)

// Bounds returns usernames, in byte order, that split the accounts of logical shards logicals
// into ranges of about equal size: at least minRanges of them (when there are that many rows),
// each of at most maxRows accounts. Range i is [bounds[i-1], bounds[i]), from "" to MaxName.
func (d *DB) Bounds(ctx context.Context, logicals []int, minRanges, maxRows int) ([]string, error) {
	var count int64
	if err := d.pool.QueryRow(ctx, `SELECT count(*) FROM accounts WHERE logical_shard = ANY($1::integer[])`, logicals).Scan(&count); err != nil {
		return nil, d.wrap("splitting logical shards", err)
	}
	step := max(1, min(count/int64(minRanges), int64(maxRows)))
	rows, err := d.pool.Query(ctx, `SELECT u FROM (
			SELECT username COLLATE "C" AS u, row_number() OVER (ORDER BY username COLLATE "C") AS rn
			FROM accounts WHERE logical_shard = ANY($1::integer[])) t
		WHERE rn % $2 = 0 ORDER BY u`, logicals, step)
	if err != nil {
		return nil, d.wrap("splitting logical shards", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return out, d.wrap("splitting logical shards", err)
}

// Buckets sums the ranges of logical shards logicals that bounds define (only those listed,
// or all when only is nil) on one snapshot.
func (d *DB) Buckets(ctx context.Context, logicals []int, bounds []string, only []int) (map[int]Bucket, error) {
	out := map[int]Bucket{}
	add := func(b int, h []byte) {
		x := out[b]
		x.Rows++
		x.Sum1 += beUint64(h[:8])
		x.Sum2 += beUint64(h[8:16])
		out[b] = x
	}
	bucketOf := func(name string) int {
		return sort.Search(len(bounds), func(i int) bool { return bounds[i] > name })
	}
	err := pgx.BeginTxFunc(ctx, d.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if only != nil {
			// A few index ranges, whatever the statistics say (see the OFFSET 0 below).
			if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
				return err
			}
		}
		for _, q := range []struct{ table, hash string }{{"accounts", accountHash}, {"sessions", sessionHash}} {
			var rows pgx.Rows
			var err error
			if only == nil {
				rows, err = tx.Query(ctx, `SELECT username, `+q.hash+` FROM `+q.table+` WHERE logical_shard = ANY($1::integer[])`, logicals)
			} else {
				lo, hi := make([]string, len(only)), make([]string, len(only))
				for i, b := range only {
					lo[i], hi[i] = "", MaxName
					if b > 0 {
						lo[i] = bounds[b-1]
					}
					if b < len(bounds) {
						hi[i] = bounds[b]
					}
				}
				// OFFSET 0 keeps the ranges driving one index range scan each. Without it the
				// planner flattens the join, and with statistics taken while the logical shard was
				// empty or gone (a copy's target, the old owner after its delete) it read the whole
				// logical shard and filtered it against the ranges: 0.6-1.8 s under the pause at
				// 1M accounts instead of milliseconds.
				rows, err = tx.Query(ctx, `SELECT t.username, `+strings.ReplaceAll(q.hash, "username", "t.username")+` FROM
						unnest($2::text[], $3::text[]) AS r(lo, hi)
						JOIN LATERAL (SELECT * FROM `+q.table+` x WHERE x.logical_shard = ANY($1::integer[])
							AND x.username COLLATE "C" >= r.lo AND x.username COLLATE "C" < r.hi OFFSET 0) t ON true`, logicals, lo, hi)
			}
			if err != nil {
				return err
			}
			var name string
			var h []byte
			if _, err := pgx.ForEachRow(rows, []any{&name, &h}, func() error {
				if len(h) != 16 {
					return fmt.Errorf("row hash of %d bytes", len(h))
				}
				add(bucketOf(name), h)
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	return out, d.wrap("summing logical shards", err)
}

func beUint64(b []byte) uint64 {
	var x uint64
	for _, c := range b {
		x = x<<8 | uint64(c)
	}
	return x
}

// Pause is an open transaction on the source holding the write locks of the moving logical
// shards: their writers queue behind it (fairly: the lock manager lets no new shared holder
// past a waiting exclusive one) and readers do not wait.
type Pause struct {
	db       *DB
	conn     *pgxpool.Conn
	tx       pgx.Tx
	logicals []int
	id       int64
	Started  time.Time // when the locks were requested: writers queue from then on
}

// shardLockClass is the first key of the per-logical-shard advisory locks ("hell").
const shardLockClass = 0x68656c6c

// Pause takes the exclusive write locks of logical shards logicals (in ascending order) for move id,
// waiting at most lockTimeout for writers in flight. The database must own every one.
func (d *DB) Pause(ctx context.Context, id int64, logicals []int, lockTimeout time.Duration) (*Pause, error) {
	conn, err := d.pool.Acquire(ctx)
	if err != nil {
		return nil, d.wrap("pausing writes", err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		conn.Release()
		return nil, d.wrap("pausing writes", err)
	}
	p := &Pause{db: d, conn: conn, tx: tx, logicals: slices.Sorted(slices.Values(logicals)), id: id}
	fail := func(err error) (*Pause, error) {
		p.Release()
		if errors.Is(err, ErrFenced) {
			return nil, fmt.Errorf("postgres %s: pausing writes: %w", d.name, err)
		}
		return nil, d.wrap("pausing writes", err)
	}
	if err := fence(ctx, tx, id); err != nil {
		return fail(err)
	}
	if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL lock_timeout = %d", max(1, lockTimeout.Milliseconds()))); err != nil {
		return fail(err)
	}
	p.Started = time.Now()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1::integer, l) FROM unnest($2::integer[]) WITH ORDINALITY AS t(l, i) ORDER BY i`,
		shardLockClass, p.logicals); err != nil {
		return fail(err)
	}
	var owned int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM shard_owned WHERE logical_shard = ANY($1::integer[]) AND state = 'owned'`, p.logicals).Scan(&owned); err != nil {
		return fail(err)
	}
	if owned != len(p.logicals) {
		return fail(fmt.Errorf("cannot pause: owns %d of the %d logical shards to move", owned, len(p.logicals)))
	}
	return p, nil
}

// Switch hands the logical shards to peer (state 'moved', with the move's id) and commits,
// ending the pause. Once it returns nil the source never serves them again.
func (p *Pause) Switch(ctx context.Context, peer string) error {
	defer p.conn.Release()
	if _, err := p.tx.Exec(ctx, `UPDATE shard_owned SET state = 'moved', peer = $2, move_id = $3, changed_at = now()
		WHERE logical_shard = ANY($1::integer[])`, p.logicals, peer, p.id); err != nil {
		_ = p.tx.Rollback(context.Background())
		return p.db.wrap("switching", err)
	}
	return p.db.wrap("switching", p.tx.Commit(ctx))
}

// Release ends the pause without switching.
func (p *Pause) Release() {
	_ = p.tx.Rollback(context.Background())
	p.conn.Release()
}

// Takeover makes the target the owner of the logical shards of moves (logical shard → the id
// of the move whose copy it holds) for move id: it drops the moves' subscriptions (nothing
// more may arrive from the sources, which have switched) and promotes those copies, in one
// fenced transaction. Re-running it is harmless.
func (d *DB) Takeover(ctx context.Context, id int64, moves map[int]int64) error {
	logicals, ids := make([]int, 0, len(moves)), make([]int64, 0, len(moves))
	for logical, m := range moves {
		logicals, ids = append(logicals, logical), append(ids, m)
	}
	if err := d.stopOlder(ctx, id, id+1); err != nil {
		return err
	}
	return d.admin(ctx, "taking over logical shards", id, func(tx pgx.Tx) error {
		if err := dropSubscriptions(ctx, tx, id+1); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE shard_owned o SET state = 'owned', peer = '', changed_at = now()
			FROM unnest($1::integer[], $2::bigint[]) AS t(l, m)
			WHERE o.logical_shard = t.l AND (o.state = 'owned' OR (o.state = 'incoming' AND o.move_id = t.m))`, logicals, ids)
		if err != nil {
			return err
		}
		if int(tag.RowsAffected()) != len(logicals) {
			return fmt.Errorf("holds the copies of %d of the %d logical shards to take over", tag.RowsAffected(), len(logicals))
		}
		return nil
	})
}

// DropSubscriptions drops the subscriptions of every move before id here (with all, of move id
// too), fenced by id: done on every shard before DropMoveObjects, so that no slot waits for
// a subscriber that is still running.
func (d *DB) DropSubscriptions(ctx context.Context, id int64, all bool) error {
	before := id
	if all {
		before = id + 1
	}
	if err := d.stopOlder(ctx, id, before); err != nil {
		return err
	}
	return d.admin(ctx, "dropping old moves' subscriptions", id, func(tx pgx.Tx) error {
		return dropSubscriptions(ctx, tx, before)
	})
}

// DropMoveObjects removes the replication objects of every move before id here — their
// subscriptions, publications and (once inactive) slots — fenced by id; with all, those of
// move id too. Only one mover holds the lease, so an older move's objects are abandoned (and
// their slots hold WAL). It runs before a source deletes rows it no longer owns, so the
// deletions are not replicated.
func (d *DB) DropMoveObjects(ctx context.Context, id int64, all bool) error {
	before := id
	if all {
		before = id + 1
	}
	if err := d.stopOlder(ctx, id, before); err != nil {
		return err
	}
	if err := d.admin(ctx, "dropping old moves' replication", id, func(tx pgx.Tx) error {
		if err := dropSubscriptions(ctx, tx, before); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT pubname FROM pg_publication WHERE pubname ~ $1`, moveObjectSQL)
		if err != nil {
			return err
		}
		pubs, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, p := range pubs {
			if older(p, before) {
				if _, err := tx.Exec(ctx, `DROP PUBLICATION `+pgx.Identifier{p}.Sanitize()); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		return err
	}
	// A slot stays active until its walsender notices the subscription is gone.
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := Poll(ctx, 20*time.Millisecond, func() (bool, error) {
		rows, err := d.pool.Query(ctx, `SELECT slot_name, active FROM pg_replication_slots
			WHERE database = current_database() AND slot_name ~ $1`, moveObjectSQL)
		if err != nil {
			return false, err
		}
		type slot struct {
			Name   string
			Active bool
		}
		slots, err := pgx.CollectRows(rows, pgx.RowToStructByPos[slot])
		if err != nil {
			return false, err
		}
		busy := false
		for _, s := range slots {
			switch {
			case !older(s.Name, before):
			case s.Active:
				busy = true
			default:
				if _, err := d.pool.Exec(ctx, `SELECT pg_drop_replication_slot($1)`, s.Name); err != nil {
					return false, err
				}
			}
		}
		return !busy, nil
	})
	return d.wrap("dropping old moves' replication slots", err)
}
