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
	Devices      []string // ids of the trusted devices, oldest first (at most MaxDevices)
}

// MaxDevices is how many trusted devices an account keeps; a new one drops the oldest.
const MaxDevices = 20

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
	// AddDevice records device (a hex id) as username's newest trusted device, keeping the
	// newest MaxDevices. Atomic: concurrent logins lose none of each other's devices.
	AddDevice(ctx context.Context, username, device string) error
	// ForgetDevices removes device from username's trusted devices; "" removes them all.
	ForgetDevices(ctx context.Context, username, device string) error

	CreateSession(ctx context.Context, s Session) error
	// GetSession returns the session of username whose token hashes to tokenHash.
	GetSession(ctx context.Context, username string, tokenHash []byte) (Session, error)
	DeleteSession(ctx context.Context, username string, tokenHash []byte) error
	// DeleteExpiredSessions removes sessions that expired before now and returns how many.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error)
}
