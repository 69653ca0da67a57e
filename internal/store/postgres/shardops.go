package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// This file holds the statements of the sharded mode's bookkeeping: ownership of logical
// shards, the shard map, and the copy/verify/delete steps of moving a logical shard.

// Ownership is one row of shard_owned.
type Ownership struct {
	State string // "owned", "incoming", "moved"; "" when the database has no row
	Peer  string
}

// Ownership returns the ownership row of logical shard l.
func (d *DB) Ownership(ctx context.Context, l int) (Ownership, error) {
	var o Ownership
	err := d.pool.QueryRow(ctx, `SELECT state, peer FROM shard_owned WHERE logical_shard = $1`, l).Scan(&o.State, &o.Peer)
	if errors.Is(err, pgx.ErrNoRows) {
		return Ownership{}, nil
	}
	return o, d.wrap("reading ownership", err)
}

// Owned returns every logical shard this database serves and how many exist in any state.
func (d *DB) Owned(ctx context.Context) (owned []int, rows int, err error) {
	r, err := d.pool.Query(ctx, `SELECT logical_shard, state FROM shard_owned ORDER BY logical_shard`)
	if err != nil {
		return nil, 0, d.wrap("reading ownership", err)
	}
	var l int
	var state string
	_, err = pgx.ForEachRow(r, []any{&l, &state}, func() error {
		rows++
		if state == "owned" {
			owned = append(owned, l)
		}
		return nil
	})
	return owned, rows, d.wrap("reading ownership", err)
}

// Claim makes the database the owner of logical shards ls that have no ownership row yet
// (creating a sharded set). It never takes a logical shard that has a row in any state.
func (d *DB) Claim(ctx context.Context, ls []int) error {
	_, err := d.pool.Exec(ctx, `INSERT INTO shard_owned (logical_shard, state)
		SELECT unnest($1::integer[]), 'owned' ON CONFLICT (logical_shard) DO NOTHING`, ls)
	return d.wrap("claiming logical shards", err)
}

// PrepareIncoming marks logical shard l as being copied here from peer. It fails when the
// database already owns l.
func (d *DB) PrepareIncoming(ctx context.Context, l int, from string) error {
	tag, err := d.pool.Exec(ctx, `INSERT INTO shard_owned (logical_shard, state, peer) VALUES ($1, 'incoming', $2)
		ON CONFLICT (logical_shard) DO UPDATE SET state = 'incoming', peer = $2, changed_at = now()
		WHERE shard_owned.state <> 'owned'`, l, from)
	if err != nil {
		return d.wrap("preparing incoming logical shard", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres %s: already owns logical shard %d", d.name, l)
	}
	return nil
}

// Promote turns an incoming logical shard into an owned one (after its source switched).
func (d *DB) Promote(ctx context.Context, l int) (bool, error) {
	tag, err := d.pool.Exec(ctx, `UPDATE shard_owned SET state = 'owned', peer = '', changed_at = now()
		WHERE logical_shard = $1 AND state = 'incoming'`, l)
	if err != nil {
		return false, d.wrap("promoting logical shard", err)
	}
	return tag.RowsAffected() == 1, nil
}

// Fence is an open transaction holding logical shard l's ownership row FOR UPDATE on its
// owner: writers to l wait (readers do not) until it ends.
type Fence struct {
	db      *DB
	conn    *pgxpool.Conn
	tx      pgx.Tx
	l       int
	Started time.Time // when the lock was requested: writers queue from then on
}

// Fence locks logical shard l's ownership row, waiting at most lockTimeout for in-flight
// writers. The row must say 'owned'.
func (d *DB) Fence(ctx context.Context, l int, lockTimeout time.Duration) (*Fence, error) {
	conn, err := d.pool.Acquire(ctx)
	if err != nil {
		return nil, d.wrap("fencing", err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		conn.Release()
		return nil, d.wrap("fencing", err)
	}
	f := &Fence{db: d, conn: conn, tx: tx, l: l}
	fail := func(err error) (*Fence, error) {
		f.Release()
		return nil, err
	}
	if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL lock_timeout = %d", lockTimeout.Milliseconds())); err != nil {
		return fail(d.wrap("fencing", err))
	}
	f.Started = time.Now()
	var state string
	err = tx.QueryRow(ctx, `SELECT state FROM shard_owned WHERE logical_shard = $1 FOR UPDATE`, l).Scan(&state)
	if errors.Is(err, pgx.ErrNoRows) {
		state = ""
	} else if err != nil {
		return fail(d.wrap("fencing", err))
	}
	if state != "owned" {
		return fail(fmt.Errorf("postgres %s: cannot fence logical shard %d: state %q, not owned", d.name, l, state))
	}
	return f, nil
}

// Switch hands the logical shard to peer (state 'moved') and commits, ending the fence. Once it
// returns nil the source never serves the logical shard again.
func (f *Fence) Switch(ctx context.Context, peer string) error {
	defer f.conn.Release()
	if _, err := f.tx.Exec(ctx, `UPDATE shard_owned SET state = 'moved', peer = $2, changed_at = now() WHERE logical_shard = $1`, f.l, peer); err != nil {
		_ = f.tx.Rollback(context.Background())
		return f.db.wrap("switching", err)
	}
	return f.db.wrap("switching", f.tx.Commit(ctx))
}

// Release ends the fence without switching.
func (f *Fence) Release() {
	_ = f.tx.Rollback(context.Background())
	f.conn.Release()
}

// AccountRow and SessionRow are the stored rows of a logical shard.
type AccountRow struct {
	Username, PasswordHash, Devices string
	CreatedAt                       time.Time
}

// SessionRow is one stored session.
type SessionRow struct {
	Username  string
	TokenHash []byte
	ExpiresAt time.Time
}

// Rows is the content of one logical shard.
type Rows struct {
	Accounts []AccountRow
	Sessions []SessionRow
}

// LogicalRows reads every row of logical shard l from one snapshot.
func (d *DB) LogicalRows(ctx context.Context, l int) (Rows, error) {
	var out Rows
	err := pgx.BeginTxFunc(ctx, d.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		out, err = d.logicalRowsTx(ctx, tx, l)
		return err
	})
	return out, d.wrap("reading logical shard", err)
}

// SyncFrom makes this database's rows of logical shard l equal to src (inserting, updating and
// deleting only what differs) in one transaction, and returns how many rows it changed. It
// refuses while the database owns l: only a copy that does not serve may be rewritten.
func (d *DB) SyncFrom(ctx context.Context, l int, src Rows) (changed int, err error) {
	err = pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		var state string
		if err := tx.QueryRow(ctx, `SELECT state FROM shard_owned WHERE logical_shard = $1 FOR UPDATE`, l).Scan(&state); err != nil {
			return fmt.Errorf("reading ownership: %w", err)
		}
		if state != "incoming" {
			return fmt.Errorf("logical shard %d is %q here, not incoming", l, state)
		}
		changed = 0
		cur, err := d.logicalRowsTx(ctx, tx, l)
		if err != nil {
			return err
		}
		// Accounts.
		have := make(map[string]AccountRow, len(cur.Accounts))
		for _, a := range cur.Accounts {
			have[a.Username] = a
		}
		want := make(map[string]bool, len(src.Accounts))
		var un, uh, ud []string
		var uc []time.Time
		for _, a := range src.Accounts {
			want[a.Username] = true
			if h, ok := have[a.Username]; ok && h.PasswordHash == a.PasswordHash && h.CreatedAt.Equal(a.CreatedAt) && h.Devices == a.Devices {
				continue
			}
			un, uh, uc, ud = append(un, a.Username), append(uh, a.PasswordHash), append(uc, a.CreatedAt), append(ud, a.Devices)
		}
		var del []string
		for _, a := range cur.Accounts {
			if !want[a.Username] {
				del = append(del, a.Username)
			}
		}
		if len(del) > 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM accounts WHERE username = ANY($1::text[])`, del); err != nil {
				return err
			}
		}
		if len(un) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO accounts (username, logical_shard, password_hash, created_at, devices)
				SELECT u, $1, h, c, d FROM unnest($2::text[], $3::text[], $4::timestamptz[], $5::text[]) AS t(u, h, c, d)
				ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash, created_at = excluded.created_at,
					devices = excluded.devices, logical_shard = excluded.logical_shard`, l, un, uh, uc, ud); err != nil {
				return err
			}
		}
		changed += len(del) + len(un)
		// Sessions (deleted accounts took theirs along).
		type key struct{ u, h string }
		haveS := make(map[key]time.Time, len(cur.Sessions))
		for _, s := range cur.Sessions {
			if want[s.Username] {
				haveS[key{s.Username, string(s.TokenHash)}] = s.ExpiresAt
			}
		}
		wantS := make(map[key]bool, len(src.Sessions))
		var sn []string
		var sh [][]byte
		var se []time.Time
		for _, s := range src.Sessions {
			k := key{s.Username, string(s.TokenHash)}
			wantS[k] = true
			if e, ok := haveS[k]; ok && e.Equal(s.ExpiresAt) {
				continue
			}
			sn, sh, se = append(sn, s.Username), append(sh, s.TokenHash), append(se, s.ExpiresAt)
		}
		var dn []string
		var dh [][]byte
		for k := range haveS {
			if !wantS[k] {
				dn, dh = append(dn, k.u), append(dh, []byte(k.h))
			}
		}
		if len(dn) > 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE (username, token_hash) IN
				(SELECT * FROM unnest($1::text[], $2::bytea[]))`, dn, dh); err != nil {
				return err
			}
		}
		if len(sn) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO sessions (username, token_hash, logical_shard, expires_at)
				SELECT u, h, $1, e FROM unnest($2::text[], $3::bytea[], $4::timestamptz[]) AS t(u, h, e)
				ON CONFLICT (username, token_hash) DO UPDATE SET expires_at = excluded.expires_at`, l, sn, sh, se); err != nil {
				return err
			}
		}
		changed += len(dn) + len(sn)
		return nil
	})
	return changed, d.wrap("copying logical shard", err)
}

func (d *DB) logicalRowsTx(ctx context.Context, tx pgx.Tx, l int) (Rows, error) {
	var out Rows
	r, err := tx.Query(ctx, `SELECT username, password_hash, created_at, devices FROM accounts WHERE logical_shard = $1`, l)
	if err != nil {
		return out, err
	}
	var a AccountRow
	if _, err := pgx.ForEachRow(r, []any{&a.Username, &a.PasswordHash, &a.CreatedAt, &a.Devices}, func() error {
		out.Accounts = append(out.Accounts, a)
		return nil
	}); err != nil {
		return out, err
	}
	r, err = tx.Query(ctx, `SELECT username, token_hash, expires_at FROM sessions WHERE logical_shard = $1`, l)
	if err != nil {
		return out, err
	}
	var s SessionRow
	_, err = pgx.ForEachRow(r, []any{&s.Username, &s.TokenHash, &s.ExpiresAt}, func() error {
		out.Sessions = append(out.Sessions, SessionRow{Username: s.Username, TokenHash: bytes.Clone(s.TokenHash), ExpiresAt: s.ExpiresAt})
		return nil
	})
	return out, err
}

// Checksum summarises logical shard l as stored: row counts and an MD5 over every row in a
// fixed order, computed by the database itself.
type Checksum struct {
	Accounts, Sessions int64
	Sum                string
}

// Checksum computes the checksum of logical shard l.
func (d *DB) Checksum(ctx context.Context, l int) (Checksum, error) {
	var c Checksum
	err := d.pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM accounts WHERE logical_shard = $1),
		(SELECT count(*) FROM sessions WHERE logical_shard = $1),
		md5(coalesce((SELECT string_agg(username || '/' || password_hash || '/' ||
				(extract(epoch FROM created_at) * 1000000)::bigint || '/' || devices, ',' ORDER BY username COLLATE "C")
			FROM accounts WHERE logical_shard = $1), '') || '|' ||
			coalesce((SELECT string_agg(username || '/' || encode(token_hash, 'hex') || '/' ||
				(extract(epoch FROM expires_at) * 1000000)::bigint, ',' ORDER BY username COLLATE "C", token_hash)
			FROM sessions WHERE logical_shard = $1), ''))`, l).Scan(&c.Accounts, &c.Sessions, &c.Sum)
	return c, d.wrap("checksumming logical shard", err)
}

// DeleteLogical deletes the rows of logical shard l in batches, once the database no longer
// owns it (the source after a move, or a copy left by an abandoned one). It returns how many
// accounts it deleted.
func (d *DB) DeleteLogical(ctx context.Context, l int, batch int) (int64, error) {
	var total int64
	for {
		tag, err := d.pool.Exec(ctx, `DELETE FROM accounts WHERE username IN (
				SELECT username FROM accounts WHERE logical_shard = $1 LIMIT $2)
			AND NOT EXISTS (SELECT 1 FROM shard_owned WHERE logical_shard = $1 AND state = 'owned')`, l, batch)
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

// WriteMap stores a shard map version (a version, once written, never changes).
func (d *DB) WriteMap(ctx context.Context, version int64, body []byte) error {
	_, err := d.pool.Exec(ctx, `INSERT INTO shard_map (version, body) VALUES ($1, $2) ON CONFLICT (version) DO NOTHING`, version, body)
	return d.wrap("writing shard map", err)
}

// AdminLock takes a session-level advisory lock that serialises shard map changes (moves,
// additions). It is released by the returned function or when the connection drops, so a
// crashed mover never leaves it held.
func (d *DB) AdminLock(ctx context.Context) (unlock func(), err error) {
	conn, err := d.pool.Acquire(ctx)
	if err != nil {
		return nil, d.wrap("taking the shard admin lock", err)
	}
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, int64(migrationLock+1)).Scan(&ok); err != nil {
		conn.Release()
		return nil, d.wrap("taking the shard admin lock", err)
	}
	if !ok {
		conn.Release()
		return nil, fmt.Errorf("postgres %s: another shard operation (move, add, rebalance) is running", d.name)
	}
	return func() {
		_, _ = conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, int64(migrationLock+1))
		conn.Release()
	}, nil
}
