-- Every table is keyed by username, the shard key of the sharded PostgreSQL mode.
CREATE TABLE accounts (
    username      TEXT    NOT NULL PRIMARY KEY,
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL -- Unix milliseconds, UTC
) WITHOUT ROWID;

CREATE TABLE sessions (
    username   TEXT    NOT NULL REFERENCES accounts (username) ON DELETE CASCADE,
    token_hash BLOB    NOT NULL, -- SHA-256 of the token's secret; the token itself is never stored
    expires_at INTEGER NOT NULL, -- Unix milliseconds, UTC
    PRIMARY KEY (username, token_hash)
) WITHOUT ROWID;

CREATE INDEX sessions_expires_at ON sessions (expires_at);
