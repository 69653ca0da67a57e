package config

import (
	"time"

	"github.com/hellosvc/hello/internal/realip"
)

// BoundKind says how a setting's value is read.
type BoundKind string

// The kinds of bounded settings.
const (
	KindInt      BoundKind = "int"      // a whole number from Min to Max
	KindDuration BoundKind = "duration" // a Go duration of at least MinDuration
	KindRate     BoundKind = "rate"     // COUNT/PERIOD: count at least Min, period at least MinDuration
	KindEnum     BoundKind = "enum"     // one of Values
	KindFree     BoundKind = "free"     // checked by its own parser (addresses, URLs, CIDRs) or any text
)

// Bound is what a setting accepts. It is published for tools that check a configuration
// before the service reads it (the Helm chart's values.schema.json is generated from it),
// and describe_test.go holds every Bound to the setter's own verdicts, so neither can drift.
type Bound struct {
	Kind        BoundKind
	Min, Max    int
	MinDuration time.Duration
	Values      []string
}

func intBound(lo, hi int) Bound           { return Bound{Kind: KindInt, Min: lo, Max: hi} }
func durationBound(d time.Duration) Bound { return Bound{Kind: KindDuration, MinDuration: d} }
func enumBound(values ...string) Bound    { return Bound{Kind: KindEnum, Values: values} }
func rateBound() Bound                    { return Bound{Kind: KindRate, Min: 1, MinDuration: time.Nanosecond} }

// Bounds returns the Bound of every setting, by name.
func Bounds() map[string]Bound {
	onOff, free := enumBound("on", "off"), Bound{Kind: KindFree}
	headers := make([]string, 0, len(realip.Headers))
	for _, h := range realip.Headers {
		headers = append(headers, string(h))
	}
	return map[string]Bound{
		"HELLO_ENV":              enumBound("development", "staging", "production"),
		"HELLO_ADDR":             free,
		"HELLO_ADMIN_ADDR":       free,
		"HELLO_ADMIN_TOKEN":      free,
		"HELLO_DB":               free,
		"HELLO_SESSION_TTL":      durationBound(time.Minute),
		"HELLO_SHUTDOWN_TIMEOUT": durationBound(0),
		"HELLO_DRAIN_TIME":       durationBound(0),
		"HELLO_LOG_LEVEL":        enumBound("debug", "info", "warn", "error"),
		"HELLO_TRUSTED_PROXIES":  free,
		"HELLO_CLIENT_IP_HEADER": enumBound(headers...),
		"HELLO_HASH_CONCURRENCY": intBound(1, 1<<16),
		"HELLO_HASH_WAIT":        durationBound(0),
		"HELLO_HASH_MEMORY":      intBound(8, 4<<20),
		"HELLO_HASH_TIME":        intBound(1, 100),
		"HELLO_HASH_THREADS":     intBound(1, 255),

		"HELLO_SHARDS":               free,
		"HELLO_DB_PASSWORD":          free,
		"HELLO_DB_IAM_AUTH":          onOff,
		"HELLO_DB_APP_USER":          free,
		"HELLO_DB_TIMEOUT":           durationBound(10 * time.Millisecond),
		"HELLO_DB_MAX_CONNS":         intBound(1, 10000),
		"HELLO_DB_CONNECT_TIMEOUT":   durationBound(time.Millisecond),
		"HELLO_DB_STATEMENT_TIMEOUT": durationBound(0),

		"HELLO_SECRET":                        free,
		"HELLO_SENDER_LIMIT":                  rateBound(),
		"HELLO_AUTH_SENDER_LIMIT":             rateBound(),
		"HELLO_IPV6_48_FACTOR":                intBound(1, 1<<16),
		"HELLO_LOGIN_MAX_FAILURES":            intBound(1, 1000),
		"HELLO_LOGIN_WINDOW":                  durationBound(time.Second),
		"HELLO_DEVICE_COOKIES":                onOff,
		"HELLO_CAPTCHA":                       onOff,
		"HELLO_CAPTCHA_AFTER_SENDER_FAILURES": rateBound(),
		"HELLO_CAPTCHA_GLOBAL_FAILURES":       rateBound(),
		"HELLO_CAPTCHA_TTL":                   durationBound(10 * time.Second),
		"HELLO_CAPTCHA_PROVIDER":              enumBound("none", "turnstile", "hcaptcha", "recaptcha"),
		"HELLO_CAPTCHA_SITE_KEY":              free,
		"HELLO_CAPTCHA_SECRET_KEY":            free,
		"HELLO_CAPTCHA_VERIFY_URL":            free,
		"HELLO_REDIS_URL":                     free,
		"HELLO_REDIS_PASSWORD":                free,
		"HELLO_REDIS_FAILURE":                 enumBound("local", "deny"),
		"HELLO_LIMITER_MAX_KEYS":              intBound(1000, 1<<30),
	}
}
