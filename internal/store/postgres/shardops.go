package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hellosvc/hello/internal/store/shardkey"
)

// This file holds the statements of the sharded mode's bookkeeping: ownership of logical
// shards, the shard map, the set's facts (fencing epoch, logical shard count) and the
// first claim. moves.go holds the steps of a move.

// State is a database's relation to one logical shard (a row of shard_owned).
type State string

const (
	// None: the database has no row: it never served the logical shard.
	None State = ""
	// Owned: the database serves the logical shard.
	Owned State = "owned"
	// Incoming: a move is copying the logical shard here; it does not serve yet.
	Incoming State = "incoming"
	// Moved: the logical shard was handed to Peer by move MoveID (a forwarding pointer).
	Moved State = "moved"
)

// Ownership is one row of shard_owned.
type Ownership struct {
	State  State
	Peer   string
	MoveID int64
}

// ErrFenced: a newer shard operation has acted on this database (or took the lease): an older
// mover may change nothing any more.
var ErrFenced = errors.New("a newer shard operation has taken over (fenced)")

// ErrMapConflict: the map version exists with another body (another mover published it).
var ErrMapConflict = errors.New("that shard map version already exists with another body")

// Ownership returns the ownership row of logical shard logical.
func (d *DB) Ownership(ctx context.Context, logical int) (Ownership, error) {
	var o Ownership
	err := d.pool.QueryRow(ctx, `SELECT state, peer, move_id FROM shard_owned WHERE logical_shard = $1`, logical).Scan(&o.State, &o.Peer, &o.MoveID)
	if errors.Is(err, pgx.ErrNoRows) {
		return Ownership{}, nil
	}
	return o, d.wrap("reading ownership", err)
}

// Owned returns every logical shard this database serves and how many rows exist in any state.
func (d *DB) Owned(ctx context.Context) (owned []int, rows int, err error) {
	r, err := d.pool.Query(ctx, `SELECT logical_shard, state FROM shard_owned ORDER BY logical_shard`)
	if err != nil {
		return nil, 0, d.wrap("reading ownership", err)
	}
	var logical int
	var state State
	_, err = pgx.ForEachRow(r, []any{&logical, &state}, func() error {
		rows++
		if state == Owned {
			owned = append(owned, logical)
		}
		return nil
	})
	return owned, rows, d.wrap("reading ownership", err)
}

// Meta is what a database knows of its set.
type Meta struct {
	Epoch         int64 // the highest move id it has seen
	LogicalShards int   // the count its rows were placed with (0: none yet)
}

// Meta reads the database's shard_meta.
func (d *DB) Meta(ctx context.Context) (Meta, error) {
	var m Meta
	err := d.pool.QueryRow(ctx, `SELECT epoch, logical_shards FROM shard_meta`).Scan(&m.Epoch, &m.LogicalShards)
	return m, d.wrap("reading shard meta", err)
}

// fence raises the database's epoch to epoch inside tx, or fails with ErrFenced when it has
// seen a newer one. The row stays locked until tx ends, so no newer step interleaves.
func fence(ctx context.Context, tx pgx.Tx, epoch int64) error {
	tag, err := tx.Exec(ctx, `UPDATE shard_meta SET epoch = $1 WHERE epoch <= $1`, epoch)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrFenced
	}
	return nil
}

// admin runs f in a transaction fenced by epoch.
func (d *DB) admin(ctx context.Context, op string, epoch int64, f func(pgx.Tx) error) error {
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		if err := fence(ctx, tx, epoch); err != nil {
			return err
		}
		return f(tx)
	})
	if errors.Is(err, ErrFenced) {
		return fmt.Errorf("postgres %s: %s: %w", d.name, op, ErrFenced)
	}
	return d.wrap(op, err)
}

// bootstrapLock serialises first claims on one database.
const bootstrapLock = migrationLock + 2

// LockBootstrap takes a session lock that serialises creating the first shard map; callers
// take it on every database of the set in name order, so two concurrent first starts
// serialise on the first database they share.
func (d *DB) LockBootstrap(ctx context.Context) (unlock func(), err error) {
	conn, err := d.pool.Acquire(ctx)
	if err != nil {
		return nil, d.wrap("taking the bootstrap lock", err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(bootstrapLock)); err != nil {
		conn.Release()
		return nil, d.wrap("taking the bootstrap lock", err)
	}
	return func() {
		_, _ = conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, int64(bootstrapLock))
		conn.Release()
	}, nil
}

// ClaimFirst makes the database the owner of logical shards logicals (of count) and stores the first shard map
// (version, body) in one transaction. It fails, changing nothing, when the database holds
// another first map (ErrMapConflict), was placed with another logical shard count, or already
// serves a logical shard outside logicals.
func (d *DB) ClaimFirst(ctx context.Context, count int, logicals []int, version int64, body []byte) error {
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		// Serialises claims even when a caller's session lock was lost (not the same key: the
		// caller holds that one on another connection).
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(bootstrapLock+1)); err != nil {
			return err
		}
		var placed int
		if err := tx.QueryRow(ctx, `SELECT logical_shards FROM shard_meta`).Scan(&placed); err != nil {
			return err
		}
		if placed != 0 && placed != count {
			return fmt.Errorf("its rows were placed with %d logical shards, not %d: logical_shards may never change", placed, count)
		}
		var extra int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM shard_owned WHERE state = 'owned' AND NOT logical_shard = ANY($1::integer[])`, logicals).Scan(&extra); err != nil {
			return err
		}
		if extra > 0 {
			return fmt.Errorf("it already serves %d logical shards that the first map gives to other shards", extra)
		}
		if err := writeMapTx(ctx, tx, version, body); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO shard_owned (logical_shard, state)
			SELECT unnest($1::integer[]), 'owned' ON CONFLICT (logical_shard) DO NOTHING`, logicals); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE shard_meta SET logical_shards = $1`, count)
		return err
	})
	if errors.Is(err, ErrMapConflict) {
		return fmt.Errorf("postgres %s: %w", d.name, err)
	}
	return d.wrap("claiming logical shards", err)
}

// WriteMap stores a shard map version: a compare-and-set that fails with ErrMapConflict when
// the version exists with another body. With epoch > 0 the write is fenced.
func (d *DB) WriteMap(ctx context.Context, epoch, version int64, body []byte) error {
	if epoch > 0 {
		return d.admin(ctx, "writing shard map", epoch, func(tx pgx.Tx) error { return writeMapTx(ctx, tx, version, body) })
	}
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error { return writeMapTx(ctx, tx, version, body) })
	if errors.Is(err, ErrMapConflict) {
		return fmt.Errorf("postgres %s: %w", d.name, err)
	}
	return d.wrap("writing shard map", err)
}

func writeMapTx(ctx context.Context, tx pgx.Tx, version int64, body []byte) error {
	var same bool
	err := tx.QueryRow(ctx, `WITH ins AS (INSERT INTO shard_map (version, body) VALUES ($1, $2)
			ON CONFLICT (version) DO NOTHING RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM ins) OR (SELECT body = $2::jsonb FROM shard_map WHERE version = $1)`,
		version, body).Scan(&same)
	if err != nil {
		return err
	}
	if !same {
		return fmt.Errorf("version %d: %w", version, ErrMapConflict)
	}
	return nil
}

// Promote turns the copy of move moveID into the owner of logical shard logical: the serving path
// does it when it finds the source's pointer of that move and the mover has not yet. A copy of
// any other move (an older pointer) is never promoted.
func (d *DB) Promote(ctx context.Context, logical int, moveID int64) (bool, error) {
	tag, err := d.pool.Exec(ctx, `UPDATE shard_owned SET state = 'owned', peer = '', changed_at = now()
		WHERE logical_shard = $1 AND state = 'incoming' AND move_id = $2 AND move_id > 0`, logical, moveID)
	if err != nil {
		return false, d.wrap("promoting logical shard", err)
	}
	return tag.RowsAffected() == 1, nil
}

// DeleteLogical deletes the rows of logical shards logicals in batches where the database owns them
// no longer (the source after a move, or a copy left by an abandoned one), and returns how
// many accounts it deleted. Callers drop the moves' replication objects first
// (DropMoveObjects), or the deletions would be replicated to the new owner.
func (d *DB) DeleteLogical(ctx context.Context, logicals []int, batch int) (int64, error) {
	var total int64
	for {
		tag, err := d.pool.Exec(ctx, `DELETE FROM accounts WHERE username IN (
				SELECT a.username FROM accounts a WHERE a.logical_shard = ANY($1::integer[])
				AND NOT EXISTS (SELECT 1 FROM shard_owned o WHERE o.logical_shard = a.logical_shard AND o.state IN ('owned', 'incoming'))
				LIMIT $2)`, logicals, batch)
		if err != nil {
			return total, d.wrap("deleting moved rows", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() == 0 {
			break
		}
	}
	// Sessions whose account is gone went with it (ON DELETE CASCADE).
	return total, nil
}

// Counts counts the accounts and sessions of logical shards logicals.
func (d *DB) Counts(ctx context.Context, logicals []int) (accounts, sessions int64, err error) {
	err = d.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM accounts WHERE logical_shard = ANY($1::integer[])),
		(SELECT count(*) FROM sessions WHERE logical_shard = ANY($1::integer[]))`, logicals).Scan(&accounts, &sessions)
	return accounts, sessions, d.wrap("counting logical shard", err)
}

// Leftovers lists the logical shards that have rows here but are neither owned nor incoming:
// what a move's clean-up has not deleted yet.
func (d *DB) Leftovers(ctx context.Context) ([]int, error) {
	rows, err := d.pool.Query(ctx, `SELECT DISTINCT t.logical_shard FROM (
			SELECT logical_shard FROM accounts UNION ALL SELECT logical_shard FROM sessions) t
		WHERE NOT EXISTS (SELECT 1 FROM shard_owned o WHERE o.logical_shard = t.logical_shard AND o.state IN ('owned', 'incoming'))
		ORDER BY 1`)
	if err != nil {
		return nil, d.wrap("looking for leftovers", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[int])
	return out, d.wrap("looking for leftovers", err)
}

// CountAccounts counts the accounts in the logical shards the database serves.
func (d *DB) CountAccounts(ctx context.Context) (int64, error) {
	var n int64
	err := d.pool.QueryRow(ctx, `SELECT count(*) FROM accounts a JOIN shard_owned o
		ON o.logical_shard = a.logical_shard AND o.state = 'owned'`).Scan(&n)
	return n, d.wrap("counting accounts", err)
}

// HasAccounts reports whether the database holds any account at all.
func (d *DB) HasAccounts(ctx context.Context) (bool, error) {
	var b bool
	err := d.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM accounts)`).Scan(&b)
	return b, d.wrap("looking for accounts", err)
}

// MapVersion returns the highest shard map version stored here (0: none).
func (d *DB) MapVersion(ctx context.Context) (int64, error) {
	ctx, cancel := d.callCtx(ctx)
	defer cancel()
	var v int64
	err := d.pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM shard_map`).Scan(&v)
	return v, d.wrap("reading shard map version", err)
}

// LatestMap returns the highest shard map version stored here and its body (0, nil: none).
func (d *DB) LatestMap(ctx context.Context) (int64, []byte, error) {
	ctx, cancel := d.callCtx(ctx)
	defer cancel()
	var v int64
	var body []byte
	err := d.pool.QueryRow(ctx, `SELECT version, body FROM shard_map ORDER BY version DESC LIMIT 1`).Scan(&v, &body)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, nil
	}
	return v, body, d.wrap("reading shard map", err)
}

// Misplaced streams the usernames of the accounts and sessions of logical shards logicals (or of
// every logical shard the database owns, when logicals is nil) and counts the rows whose stored logical shard is
// not the hash of their username over n logical shards; it returns up to limit examples. Rows
// are streamed, never held.
func (d *DB) Misplaced(ctx context.Context, n int, logicals []int, limit int) (rows, bad int64, examples []string, err error) {
	q := `SELECT t.username, t.logical_shard FROM (
			SELECT username, logical_shard FROM accounts UNION ALL SELECT username, logical_shard FROM sessions) t`
	args := []any{}
	if logicals != nil {
		q += ` WHERE t.logical_shard = ANY($1::integer[])`
		args = append(args, logicals)
	} else {
		q += ` JOIN shard_owned o ON o.logical_shard = t.logical_shard AND o.state = 'owned'`
	}
	r, err := d.pool.Query(ctx, q, args...)
	if err != nil {
		return 0, 0, nil, d.wrap("checking placement", err)
	}
	var name string
	var stored int
	_, err = pgx.ForEachRow(r, []any{&name, &stored}, func() error {
		rows++
		if want := shardkey.Logical(name, n); want != stored {
			bad++
			if len(examples) < limit {
				examples = append(examples, fmt.Sprintf("%q is stored in logical shard %d, its hash gives %d", name, stored, want))
			}
		}
		return nil
	})
	return rows, bad, examples, d.wrap("checking placement", err)
}

// quoteLiteral quotes s as an SQL string literal (standard_conforming_strings is on since 9.1).
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Poll calls f every interval until it reports done, fails, or ctx ends (the move steps
// wait with it on both sides of the package boundary).
func Poll(ctx context.Context, every time.Duration, f func() (bool, error)) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		done, err := f()
		if err != nil || done {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Ownerships returns every ownership row, by logical shard.
func (d *DB) Ownerships(ctx context.Context) (map[int]Ownership, error) {
	rows, err := d.pool.Query(ctx, `SELECT logical_shard, state, peer, move_id FROM shard_owned`)
	if err != nil {
		return nil, d.wrap("reading ownership", err)
	}
	out := map[int]Ownership{}
	var logical int
	var o Ownership
	_, err = pgx.ForEachRow(rows, []any{&logical, &o.State, &o.Peer, &o.MoveID}, func() error {
		out[logical] = o
		return nil
	})
	return out, d.wrap("reading ownership", err)
}

// Join records, fenced by move id, that the database's rows are placed with count logical
// shards: a new shard joining a set. It fails when they were placed with another count.
func (d *DB) Join(ctx context.Context, id int64, count int) error {
	return d.admin(ctx, "joining the set", id, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE shard_meta SET logical_shards = $1 WHERE logical_shards IN (0, $1)`, count)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("its rows were placed with another number of logical shards than %d", count)
		}
		return nil
	})
}

// DropIncoming forgets, fenced by move id, the copies of logical shards logicals left here by moves
// before id that never switched (abandoned when a newer move settled them elsewhere), so their
// rows can be deleted. Callers run it only on shards that do not own logicals, after the owner took
// over.
func (d *DB) DropIncoming(ctx context.Context, id int64, logicals []int) error {
	return d.admin(ctx, "dropping abandoned copies", id, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM shard_owned WHERE logical_shard = ANY($1::integer[]) AND state = 'incoming' AND move_id < $2`, logicals, id)
		return err
	})
}
