// Package dsn parses hello's storage settings in one place: HELLO_DB (sqlite:PATH,
// postgres://…, shards:PATH) and PostgreSQL connection strings in both the forms libpq and
// pgx accept — URLs (a password in the user info or as ?password=) and key=value lists
// (password=…) — so that masking for logs and refusing literal passwords see every place a
// password can hide.
package dsn

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Kind is the storage mode HELLO_DB selects.
type Kind int

// Storage modes.
const (
	SQLite   Kind = iota + 1 // sqlite:PATH, the embedded default
	Postgres                 // postgres://… or postgresql://…: one database
	Shards                   // shards:PATH, or shards: with the YAML in HELLO_SHARDS
)

// DB is a parsed HELLO_DB.
type DB struct {
	Kind Kind
	Path string // SQLite: the file; Shards: the shards file ("" reads HELLO_SHARDS)
	Conn string // Postgres: the connection string as given
}

// ParseDB reads a HELLO_DB value.
func ParseDB(s string) (DB, error) {
	scheme, rest, ok := strings.Cut(s, ":")
	switch {
	case ok && scheme == "sqlite" && rest != "":
		return DB{Kind: SQLite, Path: rest}, nil
	case ok && (scheme == "postgres" || scheme == "postgresql"):
		if _, err := parseURL(s); err != nil {
			return DB{}, errors.New("not a valid postgres URL")
		}
		return DB{Kind: Postgres, Conn: s}, nil
	case ok && scheme == "shards":
		return DB{Kind: Shards, Path: rest}, nil
	}
	return DB{}, errors.New("must be sqlite:PATH, postgres://… or shards:PATH")
}

// String is the value with any password masked, for logs.
func (d DB) String() string {
	switch d.Kind {
	case SQLite:
		return "sqlite:" + d.Path
	case Postgres:
		return Redact(d.Conn)
	case Shards:
		return "shards:" + d.Path
	}
	return ""
}

const mask = "xxxxx"

// varRef is a reference to a variable, ${NAME}: the way shard DSNs name their passwords.
var varRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// escapedRef is a ${NAME} reference as url.URL.String writes it.
var escapedRef = regexp.MustCompile(`%24%7B([A-Za-z_][A-Za-z0-9_]*)%7D`)

// IsVarRef reports whether s is exactly one ${NAME} reference.
func IsVarRef(s string) bool {
	m := varRef.FindStringIndex(s)
	return m != nil && m[0] == 0 && m[1] == len(s)
}

// isURL tells the two forms apart as libpq does.
func isURL(conn string) bool {
	return strings.HasPrefix(conn, "postgres://") || strings.HasPrefix(conn, "postgresql://")
}

// parseURL parses a URL connection string; ${NAME} references are escaped first so that a
// reference in the user info (not a valid URL character) still parses, and reads back as itself.
func parseURL(conn string) (*url.URL, error) {
	escaped := varRef.ReplaceAllStringFunc(conn, func(m string) string { return url.PathEscape(m) })
	escaped = strings.NewReplacer("{", "%7B", "}", "%7D").Replace(escaped)
	return url.Parse(escaped)
}

// Passwords returns every password a connection string spells out, in either form (a URL's
// user info and its password= parameters; password= pairs of a key=value list). An
// unreadable string is an error: what cannot be read cannot be vouched for.
func Passwords(conn string) ([]string, error) {
	if isURL(conn) {
		u, err := parseURL(conn)
		if err != nil {
			return nil, fmt.Errorf("not a valid postgres URL")
		}
		var out []string
		if pw, ok := u.User.Password(); ok {
			out = append(out, pw)
		}
		for k, vs := range u.Query() {
			if strings.EqualFold(k, "password") {
				out = append(out, vs...)
			}
		}
		return out, nil
	}
	pairs, err := keyValues(conn)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range pairs {
		if p.key == "password" {
			out = append(out, p.value)
		}
	}
	return out, nil
}

// Redact masks every password in a connection string; ${NAME} references are kept, since they
// name a secret without revealing it. An unreadable string is masked whole.
func Redact(conn string) string {
	if isURL(conn) {
		u, err := parseURL(conn)
		if err != nil {
			return mask
		}
		changed := false
		if pw, ok := u.User.Password(); ok && !IsVarRef(pw) {
			u.User, changed = url.UserPassword(u.User.Username(), mask), true
		}
		q := u.Query()
		for k, vs := range q {
			if strings.EqualFold(k, "password") {
				for i := range vs {
					if !IsVarRef(vs[i]) {
						vs[i], changed = mask, true
					}
				}
			}
		}
		if !changed {
			return conn
		}
		u.RawQuery = q.Encode()
		return escapedRef.ReplaceAllString(u.String(), "$${$1}") // show ${NAME} as written
	}
	pairs, err := keyValues(conn)
	if err != nil {
		return mask
	}
	var b strings.Builder
	last := 0
	for _, p := range pairs {
		if p.key == "password" && !IsVarRef(p.value) {
			b.WriteString(conn[last:p.start])
			b.WriteString("'" + mask + "'") // quoted: what follows cannot join it
			last = p.end
		}
	}
	b.WriteString(conn[last:])
	return b.String()
}

// pair is one key=value of a libpq keyword/value string; start:end is the value as written.
type pair struct {
	key, value string
	start, end int
}

// keyValues parses "host=a port=5432 password='it”s \' x'" the way libpq does: keys, '=' with
// optional spaces around it, values unquoted up to white space or single-quoted with
// backslash escapes.
func keyValues(s string) ([]pair, error) {
	var out []pair
	i := 0
	space := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\f' || s[i] == '\v') {
			i++
		}
	}
	for {
		space()
		if i == len(s) {
			return out, nil
		}
		k := i
		for i < len(s) && s[i] != '=' && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' {
			i++
		}
		key := s[k:i]
		space()
		if i == len(s) || s[i] != '=' || key == "" {
			return nil, fmt.Errorf("not a key=value connection string (at %q)", key)
		}
		i++
		space()
		p := pair{key: key, start: i}
		var v strings.Builder
		if i < len(s) && s[i] == '\'' {
			i++
			closed := false
			for i < len(s) {
				c := s[i]
				if c == '\\' && i+1 < len(s) {
					v.WriteByte(s[i+1])
					i += 2
					continue
				}
				i++
				if c == '\'' {
					closed = true
					break
				}
				v.WriteByte(c)
			}
			if !closed {
				return nil, errors.New("unterminated quoted value in connection string")
			}
		} else {
			for i < len(s) && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' && s[i] != '\f' && s[i] != '\v' {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				v.WriteByte(s[i])
				i++
			}
		}
		p.value, p.end = v.String(), i
		out = append(out, p)
	}
}

// pgxOnly reports whether a connection setting is pgx's alone (libpq refuses unknown ones).
func pgxOnly(key string) bool {
	return strings.HasPrefix(key, "pool_") || key == "statement_cache_capacity" ||
		key == "description_cache_capacity" || key == "default_query_exec_mode"
}

// Libpq returns conn as libpq reads it — for a PostgreSQL server connecting elsewhere, like a
// subscription — without pgx-only settings, and with password added when conn has none.
func Libpq(conn, password string) (string, error) {
	pws, err := Passwords(conn)
	if err != nil {
		return "", err
	}
	if len(pws) > 0 {
		password = ""
	}
	if isURL(conn) {
		u, err := parseURL(conn)
		if err != nil {
			return "", errors.New("not a valid postgres URL")
		}
		q := u.Query()
		for k := range q {
			if pgxOnly(k) {
				q.Del(k)
			}
		}
		if password != "" {
			q.Set("password", password)
		}
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	kvs, err := keyValues(conn)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	quote := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	for _, p := range kvs {
		if !pgxOnly(p.key) {
			fmt.Fprintf(&b, "%s='%s' ", p.key, quote.Replace(p.value))
		}
	}
	if password != "" {
		fmt.Fprintf(&b, "password='%s'", quote.Replace(password))
	}
	return strings.TrimSpace(b.String()), nil
}
