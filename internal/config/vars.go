package config

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hellosvc/hello/internal/dsn"
)

// Secret is a configuration value that must never be printed or logged.
type Secret string

// String and LogValue mask the value wherever it ends up in a format string or a log record.
func (Secret) String() string { return "***" }

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue("***") }

// Reveal returns the secret itself, for the one place that uses it.
func (s Secret) Reveal() string { return string(s) }

func secretVar(p *Secret) func(string) error {
	return func(v string) error { *p = Secret(v); return nil }
}

func stringVar(p *string) func(string) error {
	return func(v string) error { *p = v; return nil }
}

func enumVar(p *string, allowed ...string) func(string) error {
	return func(v string) error {
		if !slices.Contains(allowed, v) {
			return fmt.Errorf("must be one of %s", strings.Join(allowed, ", "))
		}
		*p = v
		return nil
	}
}

// onOffVar accepts on/off (and the usual true/false, 1/0 spellings).
func onOffVar(p *bool) func(string) error {
	return func(v string) error {
		switch strings.ToLower(v) {
		case "on", "true", "1", "yes":
			*p = true
		case "off", "false", "0", "no":
			*p = false
		default:
			return fmt.Errorf("must be on or off")
		}
		return nil
	}
}

func durationVar(p *time.Duration, minimum time.Duration) func(string) error {
	return func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("not a duration (examples: 500ms, 10s, 1h)")
		}
		if d < minimum {
			return fmt.Errorf("must be at least %s", minimum)
		}
		*p = d
		return nil
	}
}

func intVar(p *int, lo, hi int) func(string) error {
	return func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("must be a whole number from %d to %d", lo, hi)
		}
		*p = n
		return nil
	}
}

func uintVar(p *uint32, lo, hi uint32) func(string) error {
	return func(v string) error {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || uint32(n) < lo || uint32(n) > hi {
			return fmt.Errorf("must be a whole number from %d to %d", lo, hi)
		}
		*p = uint32(n)
		return nil
	}
}

// addrVar accepts host:port (host may be empty); empty disables the listener when allowed.
func addrVar(p *string, allowEmpty bool) func(string) error {
	return func(v string) error {
		if v == "" && allowEmpty {
			*p = ""
			return nil
		}
		_, port, err := net.SplitHostPort(v)
		if err != nil {
			return fmt.Errorf("must be host:port, like :8080 or 127.0.0.1:9090")
		}
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			return fmt.Errorf("port must be a number from 0 to 65535")
		}
		*p = v
		return nil
	}
}

// prefixesVar parses a comma-separated list of CIDRs (a bare address means a single host).
func prefixesVar(p *[]netip.Prefix) func(string) error {
	return func(v string) error {
		var out []netip.Prefix
		for _, f := range strings.Split(v, ",") {
			f = strings.TrimSpace(f)
			if f == "" {
				continue
			}
			if !strings.Contains(f, "/") {
				a, err := netip.ParseAddr(f)
				if err != nil {
					return fmt.Errorf("%q is not a CIDR or an IP address", f)
				}
				out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
				continue
			}
			pr, err := netip.ParsePrefix(f)
			if err != nil {
				return fmt.Errorf("%q is not a CIDR", f)
			}
			out = append(out, pr.Masked())
		}
		*p = out
		return nil
	}
}

func dbVar(p *dsn.DB) func(string) error {
	return func(v string) error {
		d, err := dsn.ParseDB(v)
		if err != nil {
			return err
		}
		*p = d
		return nil
	}
}

// redactURL masks the passwords of a URL (user info and ?password=), for the start-up log.
func redactURL(v string) string {
	u, err := url.Parse(v)
	if err != nil {
		return "xxxxx"
	}
	q := u.Query()
	for k := range q {
		if strings.EqualFold(k, "password") {
			q[k] = []string{"xxxxx"}
			u.RawQuery = q.Encode()
		}
	}
	return u.Redacted()
}
