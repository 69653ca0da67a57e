package shard

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/hellosvc/hello/internal/dsn"
)

// File is the shards file (HELLO_DB=shards:PATH, or inline in HELLO_SHARDS):
//
//	logical_shards: 1024          # fixed forever once data exists
//	shards:
//	  - name: s1
//	    dsn: "postgres://hello:${HELLO_S1_PASSWORD}@s1.example:5432/hello?sslmode=verify-full"
//
// It bootstraps the sharded set (the first shard map is round-robin over these shards) and
// tells a replica where to find the databases; the current map itself lives in the databases.
type File struct {
	LogicalShards int         `yaml:"logical_shards"`
	Shards        []FileShard `yaml:"shards"`
}

// FileShard is one physical shard of the file. DSN may name environment variables as ${NAME},
// expanded when the shard is opened, so that passwords never sit in the file.
type FileShard struct {
	Name string `yaml:"name"`
	DSN  string `yaml:"dsn"`
}

// MaxLogicalShards bounds logical_shards.
const MaxLogicalShards = 1 << 16

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// ValidName reports whether name can name a physical shard.
func ValidName(name string) bool { return nameRE.MatchString(name) }

// ParseFile parses and checks a shards file.
func ParseFile(data []byte) (*File, error) {
	var f File
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("shards file: %w", err)
	}
	if f.LogicalShards < 1 || f.LogicalShards > MaxLogicalShards {
		return nil, fmt.Errorf("shards file: logical_shards must be from 1 to %d", MaxLogicalShards)
	}
	if len(f.Shards) == 0 {
		return nil, errors.New("shards file: no shards")
	}
	seen := map[string]bool{}
	for i, s := range f.Shards {
		if !ValidName(s.Name) {
			return nil, fmt.Errorf("shards file: shard %d: name %q must be lower-case letters, digits, '-' or '_'", i+1, s.Name)
		}
		if seen[s.Name] {
			return nil, fmt.Errorf("shards file: shard name %q is used twice", s.Name)
		}
		seen[s.Name] = true
		if s.DSN == "" {
			return nil, fmt.Errorf("shards file: shard %s: dsn is empty", s.Name)
		}
		if err := checkNoLiteralPassword(s.DSN); err != nil {
			return nil, fmt.Errorf("shards file: shard %s: %w", s.Name, err)
		}
	}
	return &f, nil
}

// ReadFile reads the shards file at path, or the YAML in inline when path is empty.
func ReadFile(path, inline string) (*File, error) {
	if path == "" {
		if strings.TrimSpace(inline) == "" {
			return nil, errors.New("HELLO_DB=shards: with no path reads the shards from HELLO_SHARDS, which is empty")
		}
		return ParseFile([]byte(inline))
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading shards file: %w", err)
	}
	return ParseFile(data)
}

var varRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// Expand replaces every ${NAME} in dsn with the variable's value; a variable that is not set
// is an error (a silently empty password would only fail later, less clearly).
func Expand(dsn string, lookup func(string) (string, bool)) (string, error) {
	var missing []string
	out := varRE.ReplaceAllStringFunc(dsn, func(m string) string {
		name := varRE.FindStringSubmatch(m)[1]
		v, ok := lookup(name)
		if !ok {
			missing = append(missing, name)
		}
		// Values go into a URL or key=value string: escape them for a URL's user info.
		if strings.Contains(dsn, "://") {
			return escapeUserinfo(v)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("the DSN names unset variables: %s", strings.Join(missing, ", "))
	}
	return out, nil
}

// checkNoLiteralPassword refuses a DSN that spells out a password instead of naming a
// variable, in any form (user info, ?password=, key=value): DSNs end up in files and in the
// shard map stored in every database.
func checkNoLiteralPassword(conn string) error {
	pws, err := dsn.Passwords(conn)
	if err != nil {
		return err
	}
	for _, pw := range pws {
		if !dsn.IsVarRef(pw) {
			return errors.New("the DSN contains a password: name a variable instead, like ${HELLO_S1_PASSWORD}")
		}
	}
	return nil
}

// escapeUserinfo percent-encodes everything but RFC 3986 unreserved characters.
func escapeUserinfo(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// conninfo is the connection string a move's subscription on the target uses to reach
// physical shard name: its DSN expanded with this process's environment (the admin command's
// credential, never the serving path's), with pgx-only settings removed, since libpq reads it.
func (s *Store) conninfo(name string) (string, error) {
	tmpl, ok := s.dsnOf(name)
	if !ok {
		return "", fmt.Errorf("shard %s: %w", name, errUnknownShard)
	}
	conn, err := Expand(tmpl, s.opts.Lookup)
	if err != nil {
		return "", fmt.Errorf("shard %s: %w", name, err)
	}
	return dsn.Libpq(conn, s.opts.DB.Password)
}
