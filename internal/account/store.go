package account

import (
	"context"
	"time"
)

// Account is a registered user. Username is always the normalised form.
type Account struct {
	Username     string
	PasswordHash string
	CreatedAt    time.Time
}

// Session is a logged-in session. Only the SHA-256 of the token is ever stored.
type Session struct {
	TokenHash []byte
	Username  string
	ExpiresAt time.Time
}

// Store keeps accounts and sessions. Every record is keyed by username, the shard key, so a
// sharded implementation can route every call to one database.
//
// Implementations return ErrNotFound, ErrConflict, or errors wrapping ErrUnavailable when the
// database holding the record cannot be reached. A write returns nil only once it is durable.
type Store interface {
	CreateAccount(ctx context.Context, a Account) error
	GetAccount(ctx context.Context, username string) (Account, error)
	UpdatePasswordHash(ctx context.Context, username, hash string) error

	CreateSession(ctx context.Context, s Session) error
	// GetSession returns the session of username whose token hashes to tokenHash.
	GetSession(ctx context.Context, username string, tokenHash []byte) (Session, error)
	DeleteSession(ctx context.Context, username string, tokenHash []byte) error
	// DeleteExpiredSessions removes sessions that expired before now and returns how many.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error)

	// Ping reports whether the storage answers.
	Ping(ctx context.Context) error
	Close() error
}
