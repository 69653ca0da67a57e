-- Every data table is keyed by username, the shard key: on Citus or Aurora Limitless `accounts`
-- and `sessions` can be declared distributed by username (and colocated), the other two tables
-- are small per-database bookkeeping (reference or local tables there).
-- logical_shard is derived from the username (internal/shard/shardkey: never changes) and is
-- stored so that one logical shard can be copied, verified and deleted by an index range.
CREATE TABLE accounts (
    username      text        NOT NULL PRIMARY KEY,
    logical_shard integer     NOT NULL,
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL
);
CREATE INDEX accounts_logical_shard ON accounts (logical_shard);

CREATE TABLE sessions (
    username      text        NOT NULL REFERENCES accounts (username) ON DELETE CASCADE,
    token_hash    bytea       NOT NULL, -- SHA-256 of the token's secret; the token itself is never stored
    logical_shard integer     NOT NULL,
    expires_at    timestamptz NOT NULL,
    PRIMARY KEY (username, token_hash)
);
CREATE INDEX sessions_logical_shard ON sessions (logical_shard);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- The logical shards this database serves. Every read and write checks (and every write
-- share-locks) its logical shard's row in the same statement: 'owned' serves; 'incoming' is
-- being copied here and does not serve yet; 'moved' has been handed to peer (a forwarding
-- pointer for replicas whose shard map is stale). A move fences a logical shard by locking its
-- row FOR UPDATE and switches it by committing state 'moved' here.
CREATE TABLE shard_owned (
    logical_shard integer     NOT NULL PRIMARY KEY,
    state         text        NOT NULL CHECK (state IN ('owned', 'incoming', 'moved')),
    peer          text        NOT NULL DEFAULT '',
    changed_at    timestamptz NOT NULL DEFAULT now()
);

-- The versioned shard map (logical shard -> physical shard), written to every database of a
-- sharded set; the highest version anywhere is the current one. Empty in single-database mode.
CREATE TABLE shard_map (
    version    bigint      NOT NULL PRIMARY KEY,
    body       jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
