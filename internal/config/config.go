// Package config reads hello's settings from HELLO_* environment variables and the matching
// command-line flags (HELLO_SESSION_TTL ⇔ --session-ttl; a flag wins over the environment),
// validates them, and describes the effective configuration with secrets masked.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/hellosvc/hello/internal/dsn"
	"github.com/hellosvc/hello/internal/realip"
)

// Config is hello's whole configuration. Zero values are never used: Load fills every field
// from its default.
type Config struct {
	Env             string // development, staging or production
	Addr            string
	AdminAddr       string // empty: no admin listener
	AdminToken      Secret // empty: the admin listener serves /metrics only
	DB              dsn.DB
	SessionTTL      time.Duration
	ShutdownTimeout time.Duration
	DrainTime       time.Duration // on SIGTERM: not ready but still serving for this long
	LogLevel        slog.Level
	TrustedProxies  []netip.Prefix
	ClientIPHeader  realip.Header // the one header trusted proxies write the client address to
	Hash            HashConfig

	Storage StorageConfig
	Guard   GuardConfig

	raw map[string]string // effective raw value of every setting, for Effective
}

// HashConfig sizes password hashing.
type HashConfig struct {
	Concurrency int
	Wait        time.Duration
	MemoryKiB   uint32
	Time        uint32
	Threads     uint8
}

// Production reports whether HELLO_ENV=production, where missing secrets are fatal.
func (c *Config) Production() bool { return c.Env == "production" }

// setting is one HELLO_* variable: its name, default, help, and how to parse and show it.
type setting struct {
	name   string
	def    string
	usage  string
	secret bool
	set    func(string) error
	show   func() string // the effective value, for the start-up log; nil: the raw value
}

func (c *Config) settings() []setting {
	s := []setting{
		{name: "HELLO_ENV", def: "development", usage: "deployment environment: development, staging or production",
			set: enumVar(&c.Env, "development", "staging", "production")},
		{name: "HELLO_ADDR", def: ":8080", usage: "address of the public HTTP listener",
			set: addrVar(&c.Addr, false)},
		{name: "HELLO_ADMIN_ADDR", def: "127.0.0.1:9090", usage: "address of the admin listener (GET /metrics); empty disables it",
			set: addrVar(&c.AdminAddr, true)},
		{name: "HELLO_ADMIN_TOKEN", usage: "bearer token for the admin listener's pprof and guard endpoints (unset: they are off; /metrics is always open)", secret: true,
			set: secretVar(&c.AdminToken)},
		{name: "HELLO_DB", def: "sqlite:hello.db", usage: "storage: sqlite:PATH, postgres://… or shards:PATH",
			set: dbVar(&c.DB), show: func() string { return c.DB.String() }},
		{name: "HELLO_SESSION_TTL", def: "24h", usage: "lifetime of a login session",
			set: durationVar(&c.SessionTTL, time.Minute)},
		{name: "HELLO_SHUTDOWN_TIMEOUT", def: "10s", usage: "how long in-flight requests may take to finish on SIGTERM",
			set: durationVar(&c.ShutdownTimeout, 0)},
		{name: "HELLO_DRAIN_TIME", def: "0s", usage: "on SIGTERM, how long /readyz answers 503 while requests are still served, before the listener closes (let load balancers notice)",
			set: durationVar(&c.DrainTime, 0)},
		{name: "HELLO_LOG_LEVEL", def: "info", usage: "log level: debug, info, warn or error",
			set: func(v string) error { return c.LogLevel.UnmarshalText([]byte(v)) }},
		{name: "HELLO_TRUSTED_PROXIES", def: "", usage: "comma-separated CIDRs of reverse proxies whose HELLO_CLIENT_IP_HEADER and X-Forwarded-Proto are believed",
			set: prefixesVar(&c.TrustedProxies)},
		{name: "HELLO_CLIENT_IP_HEADER", def: string(realip.XForwardedFor), usage: "the one header trusted proxies put the client address in: X-Forwarded-For, Forwarded, X-Real-IP, CF-Connecting-IP or none",
			set: func(v string) error {
				h, err := realip.ParseHeader(v)
				c.ClientIPHeader = h
				return err
			}},
		{name: "HELLO_HASH_CONCURRENCY", def: fmt.Sprint(runtime.GOMAXPROCS(0)), usage: "password hashes computed at once (each holds HELLO_HASH_MEMORY)",
			set: intVar(&c.Hash.Concurrency, 1, 1<<16)},
		{name: "HELLO_HASH_WAIT", def: "500ms", usage: "how long a request waits for a hashing slot before 503 busy",
			set: durationVar(&c.Hash.Wait, 0)},
		{name: "HELLO_HASH_MEMORY", def: "19456", usage: "argon2id memory per hash, KiB (OWASP: 19456 = 19 MiB)",
			set: uintVar(&c.Hash.MemoryKiB, 8, 4<<20)},
		{name: "HELLO_HASH_TIME", def: "2", usage: "argon2id iterations (OWASP: 2)",
			set: uintVar(&c.Hash.Time, 1, 100)},
		{name: "HELLO_HASH_THREADS", def: "1", usage: "argon2id parallelism (OWASP: 1)",
			set: func(v string) error {
				var n uint32
				if err := uintVar(&n, 1, 255)(v); err != nil {
					return err
				}
				c.Hash.Threads = uint8(n)
				return nil
			}},
	}
	s = append(s, c.Storage.settings()...)
	return append(s, c.Guard.settings()...)
}

// ErrUsage marks configuration errors: the program exits with status 2.
var ErrUsage = errors.New("invalid configuration")

// Load parses args (flags only; the sub-command is already removed) over the environment
// (os.Environ form). It returns the configuration and warnings about unknown HELLO_* variables.
func Load(args, environ []string) (*Config, []string, error) {
	c := &Config{raw: map[string]string{}}
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "HELLO_") {
			env[k] = v
		}
	}
	c.Storage.env = env
	settings := c.settings()
	fs := flag.NewFlagSet("hello", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	flags := map[string]string{}
	for _, s := range settings {
		fs.Func(FlagName(s.name), s.usage, func(v string) error { flags[s.name] = v; return nil })
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return nil, nil, fmt.Errorf("%w: unexpected argument %q", ErrUsage, fs.Arg(0))
	}
	var errs []error
	known := map[string]bool{}
	for _, s := range settings {
		known[s.name] = true
		v, src := s.def, "default"
		if e, ok := env[s.name]; ok { // set, even to "": HELLO_ADMIN_ADDR= disables the listener
			v, src = e, s.name
		}
		if f, ok := flags[s.name]; ok {
			v, src = f, "--"+FlagName(s.name)
		}
		c.raw[s.name] = v
		if err := s.set(v); err != nil {
			shown := v
			if s.secret {
				shown = "***"
			}
			errs = append(errs, fmt.Errorf("%s=%q (from %s): %w", s.name, shown, src, err))
		}
	}
	if len(errs) > 0 {
		return nil, nil, fmt.Errorf("%w:\n  %w", ErrUsage, errors.Join(errs...))
	}
	if err := c.validate(); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	var warnings []string
	for k := range env {
		if !known[k] && !c.Storage.knownVar(k) {
			warnings = append(warnings, unknownWarning(k, settings))
		}
	}
	sort.Strings(warnings)
	return c, warnings, nil
}

// validate checks rules that span settings.
func (c *Config) validate() error {
	if err := c.Guard.validate(c); err != nil {
		return err
	}
	return c.Storage.validate(c)
}

// FlagName turns HELLO_SESSION_TTL into session-ttl.
func FlagName(env string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(env, "HELLO_")), "_", "-")
}

// Effective lists every setting with its effective value, secrets masked, for the start-up log.
func (c *Config) Effective() []slog.Attr {
	var attrs []slog.Attr
	for _, s := range c.settings() {
		attrs = append(attrs, slog.String(s.name, s.display(c)))
	}
	return attrs
}

func (s setting) display(c *Config) string {
	switch {
	case s.secret && c.raw[s.name] != "":
		return "***"
	case s.show != nil:
		return s.show()
	}
	return c.raw[s.name]
}

// Usage writes every setting with its default and help, for `hello help`.
func Usage(w io.Writer) {
	c := &Config{}
	for _, s := range c.settings() {
		def := s.def
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(w, "  --%-32s %s\n      %s (default %s)\n", FlagName(s.name), s.name, s.usage, def)
	}
}

func unknownWarning(name string, settings []setting) string {
	best, bestD := "", 1<<30
	for _, s := range settings {
		if d := levenshtein(name, s.name); d < bestD {
			best, bestD = s.name, d
		}
	}
	if bestD <= 4 {
		return fmt.Sprintf("unknown setting %s is ignored (did you mean %s?)", name, best)
	}
	return fmt.Sprintf("unknown setting %s is ignored", name)
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
