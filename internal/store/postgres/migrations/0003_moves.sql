-- Moves on logical replication, with fencing tokens (internal/store/shard/admin.go).

-- The move that created an 'incoming' copy or left a 'moved' pointer: a stale pointer can only
-- promote the copy of its own move.
ALTER TABLE shard_owned ADD COLUMN move_id bigint NOT NULL DEFAULT 0;

-- What this database knows of its set: the highest move epoch it has seen (every admin step
-- checks and raises it in its own transaction, so a mover with an older epoch can change
-- nothing here any more) and the number of logical shards its rows were placed with (0: none
-- yet), which may never change.
CREATE TABLE shard_meta (
    one            boolean NOT NULL PRIMARY KEY DEFAULT true CHECK (one),
    epoch          bigint  NOT NULL DEFAULT 0,
    logical_shards integer NOT NULL DEFAULT 0
);
INSERT INTO shard_meta (logical_shards) VALUES (coalesce(
    (SELECT (body ->> 'logical_shards')::integer FROM shard_map ORDER BY version DESC LIMIT 1),
    CASE WHEN EXISTS (SELECT 1 FROM shard_owned) THEN 1024 ELSE 0 END));

-- The move lease, authoritative on the map's first shard: one mover at a time, each move with
-- its own id (epoch + 1). It expires unless renewed, so a mover that died frees it.
CREATE TABLE shard_lease (
    one        boolean     NOT NULL PRIMARY KEY DEFAULT true CHECK (one),
    epoch      bigint      NOT NULL DEFAULT 0,
    holder     text        NOT NULL DEFAULT '',
    expires_at timestamptz NOT NULL DEFAULT '-infinity'
);
INSERT INTO shard_lease DEFAULT VALUES;

-- A move's catch-up marker: written on the source under the write pause and replicated with
-- the moving logical shards' rows; once the target has it, it has everything before it.
CREATE TABLE shard_marker (
    move_id bigint NOT NULL PRIMARY KEY,
    seq     bigint NOT NULL
);

-- A publication's row filter on updates and deletes may only name replica identity columns:
-- the identity becomes (logical_shard, key), which also serves per-logical-shard scans and, in
-- byte order (COLLATE "C", whatever the database's collation), a move's verification by
-- username ranges.
CREATE UNIQUE INDEX accounts_by_logical ON accounts (logical_shard, username COLLATE "C");
ALTER TABLE accounts REPLICA IDENTITY USING INDEX accounts_by_logical;
DROP INDEX accounts_logical_shard;
CREATE UNIQUE INDEX sessions_by_logical ON sessions (logical_shard, username COLLATE "C", token_hash);
ALTER TABLE sessions REPLICA IDENTITY USING INDEX sessions_by_logical;
DROP INDEX sessions_logical_shard;
