package config

import (
	"errors"
	"regexp"
	"time"

	"github.com/hellosvc/hello/internal/dsn"
)

// StorageConfig holds the settings of the PostgreSQL and sharded storage modes.
type StorageConfig struct {
	// Shards is the inline shards YAML (HELLO_SHARDS), read when HELLO_DB is "shards:" with no path.
	Shards string
	// Password is the password of a postgres:// URL (or shard DSN) that carries none.
	Password Secret
	// Timeout is the deadline of one storage call: a database that is down or slow answers 503
	// storage_unavailable within it.
	Timeout          time.Duration
	MaxConns         int
	ConnectTimeout   time.Duration
	StatementTimeout time.Duration
	// IAMAuth connects with an RDS IAM token per new connection instead of a password.
	IAMAuth bool
	// AppUser is the application role `hello migrate` creates and grants (with IAMAuth, the
	// user serve connects as).
	AppUser string

	env map[string]string // the HELLO_* environment, for ${NAME} in shard DSNs
}

func (s *StorageConfig) settings() []setting {
	return []setting{
		{name: "HELLO_SHARDS", def: "", usage: "the shards YAML itself, read when HELLO_DB is shards: with an empty path",
			set: stringVar(&s.Shards)},
		{name: "HELLO_DB_PASSWORD", def: "", usage: "password for a postgres:// URL (or shard DSN) that has none", secret: true,
			set: secretVar(&s.Password)},
		{name: "HELLO_DB_TIMEOUT", def: "2s", usage: "deadline of one database call; a down or slow shard answers 503 within it",
			set: durationVar(&s.Timeout, 10*time.Millisecond)},
		{name: "HELLO_DB_MAX_CONNS", def: "10", usage: "connection pool size per database",
			set: intVar(&s.MaxConns, 1, 10000)},
		{name: "HELLO_DB_CONNECT_TIMEOUT", def: "5s", usage: "deadline for opening one database connection",
			set: durationVar(&s.ConnectTimeout, time.Millisecond)},
		{name: "HELLO_DB_IAM_AUTH", def: "off", usage: "connect to PostgreSQL with an RDS IAM auth token per new connection (region from AWS_REGION); serve then does not migrate",
			set: onOffVar(&s.IAMAuth)},
		{name: "HELLO_DB_APP_USER", def: "", usage: "application role that hello migrate creates and grants data rights on hello's tables (no DDL; rds_iam where it exists)",
			set: func(v string) error {
				if v != "" && !identRE.MatchString(v) {
					return errors.New("must be a role name: lower-case letters, digits and _, starting with a letter or _")
				}
				s.AppUser = v
				return nil
			}},
		{name: "HELLO_DB_STATEMENT_TIMEOUT", def: "5s", usage: "server-side statement_timeout of the service's statements (0 disables)",
			set: durationVar(&s.StatementTimeout, 0)},
	}
}

func (s *StorageConfig) validate(c *Config) error {
	if c.DB.Kind == dsn.Shards && c.DB.Path == "" && s.Shards == "" {
		return errors.New("HELLO_DB=shards: (no path) reads the shards YAML from HELLO_SHARDS, which is empty")
	}
	return nil
}

var identRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// passwordVarRE matches the variables shard DSNs name for their passwords (HELLO_S1_PASSWORD):
// they are not settings, but not unknown either.
var passwordVarRE = regexp.MustCompile(`^HELLO_[A-Z0-9_]+_PASSWORD$`)

func (s *StorageConfig) knownVar(name string) bool { return passwordVarRE.MatchString(name) }

// Lookup returns a HELLO_* environment variable, for ${NAME} references in shard DSNs.
func (s *StorageConfig) Lookup(name string) (string, bool) {
	v, ok := s.env[name]
	return v, ok
}
