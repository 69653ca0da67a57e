package config

import (
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	c, warnings, err := Load(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings = %v", warnings)
	}
	if c.Addr != ":8080" || c.AdminAddr != "127.0.0.1:9090" || c.DB.String() != "sqlite:hello.db" ||
		c.SessionTTL != 24*time.Hour || c.ShutdownTimeout != 10*time.Second || c.LogLevel != slog.LevelInfo ||
		c.Env != "development" || len(c.TrustedProxies) != 0 {
		t.Errorf("defaults = %+v", c)
	}
	if c.Hash.MemoryKiB != 19456 || c.Hash.Time != 2 || c.Hash.Threads != 1 || c.Hash.Concurrency < 2 {
		t.Errorf("hash defaults = %+v, want OWASP m=19456 t=2 p=1", c.Hash)
	}
}

func TestFlagsOverrideEnvironment(t *testing.T) {
	c, _, err := Load([]string{"--addr", ":9999", "--session-ttl=2h"},
		[]string{"HELLO_ADDR=:7777", "HELLO_SESSION_TTL=3h", "HELLO_LOG_LEVEL=debug", "PATH=/bin"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":9999" || c.SessionTTL != 2*time.Hour || c.LogLevel != slog.LevelDebug {
		t.Fatalf("got addr %s ttl %s level %s", c.Addr, c.SessionTTL, c.LogLevel)
	}
}

func TestAnEmptyVariableIsAValue(t *testing.T) {
	c, _, err := Load(nil, []string{"HELLO_ADMIN_ADDR="})
	if err != nil {
		t.Fatal(err)
	}
	if c.AdminAddr != "" {
		t.Fatalf("HELLO_ADMIN_ADDR= gave %q, want the admin listener disabled", c.AdminAddr)
	}
	if _, _, err := Load(nil, []string{"HELLO_SESSION_TTL="}); !errors.Is(err, ErrUsage) {
		t.Fatalf("HELLO_SESSION_TTL= = %v, want a usage error (empty is not a duration)", err)
	}
}

func TestMalformedValues(t *testing.T) {
	tests := []struct{ env, want string }{
		{"HELLO_SESSION_TTL=tomorrow", "HELLO_SESSION_TTL"},
		{"HELLO_SESSION_TTL=1s", "at least 1m0s"},
		{"HELLO_ADDR=8080", "HELLO_ADDR"},
		{"HELLO_ADDR=:99999", "HELLO_ADDR"},
		{"HELLO_LOG_LEVEL=loud", "HELLO_LOG_LEVEL"},
		{"HELLO_ENV=prod", "development, staging, production"},
		{"HELLO_DB=mysql://db", "HELLO_DB"},
		{"HELLO_TRUSTED_PROXIES=10.0.0.0/33", "HELLO_TRUSTED_PROXIES"},
		{"HELLO_HASH_CONCURRENCY=0", "HELLO_HASH_CONCURRENCY"},
		{"HELLO_HASH_THREADS=256", "HELLO_HASH_THREADS"},
	}
	for _, tt := range tests {
		_, _, err := Load(nil, []string{tt.env})
		if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Load(%s) = %v, want a usage error mentioning %q", tt.env, err, tt.want)
		}
	}
}

func TestUnknownVariableSuggestsTheClosestSetting(t *testing.T) {
	_, warnings, err := Load(nil, []string{"HELLO_SESION_TTL=1h", "HELLO_COMPLETELY_DIFFERENT_THING=1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"unknown setting HELLO_COMPLETELY_DIFFERENT_THING is ignored",
		"unknown setting HELLO_SESION_TTL is ignored (did you mean HELLO_SESSION_TTL?)",
	}
	if strings.Join(warnings, "\n") != strings.Join(want, "\n") {
		t.Fatalf("warnings = %q, want %q", warnings, want)
	}
}

func TestEffectiveConfigurationMasksSecrets(t *testing.T) {
	c, _, err := Load(nil, []string{"HELLO_DB=postgres://hello:s3cret-pw@db:5432/hello"})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, a := range c.Effective() {
		b.WriteString(a.String() + "\n")
	}
	if strings.Contains(b.String(), "s3cret-pw") {
		t.Fatalf("effective configuration shows a password:\n%s", b.String())
	}
	if !strings.Contains(b.String(), "HELLO_DB=postgres://hello:xxxxx@db:5432/hello") {
		t.Fatalf("effective configuration lacks the redacted DSN:\n%s", b.String())
	}
	if s := Secret("hunter2"); s.String() != "***" || s.Reveal() != "hunter2" {
		t.Fatalf("Secret prints %q", s.String())
	}
}

func TestTrustedProxies(t *testing.T) {
	c, _, err := Load(nil, []string{"HELLO_TRUSTED_PROXIES=10.0.0.0/8, 192.0.2.7 ,2001:db8::/32"})
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("2001:db8::/32")}
	if len(c.TrustedProxies) != len(want) {
		t.Fatalf("TrustedProxies = %v", c.TrustedProxies)
	}
	for i := range want {
		if c.TrustedProxies[i] != want[i] {
			t.Errorf("TrustedProxies[%d] = %v, want %v", i, c.TrustedProxies[i], want[i])
		}
	}
}

func TestFlagName(t *testing.T) {
	if got := FlagName("HELLO_SESSION_TTL"); got != "session-ttl" {
		t.Fatalf("FlagName = %q", got)
	}
}

// TestREADMEListsEverySetting keeps the README's configuration table in step with the code.
func TestREADMEListsEverySetting(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range (&Config{}).settings() {
		if !strings.Contains(string(readme), "| `"+s.name+"` |") {
			t.Errorf("README.md's configuration table lacks %s", s.name)
		}
	}
}

func TestGuardSettings(t *testing.T) {
	c, _, err := Load(nil, []string{"HELLO_SENDER_LIMIT=5/10s", "HELLO_CAPTCHA=off", "HELLO_SECRET=" + strings.Repeat("k", 32)})
	if err != nil {
		t.Fatal(err)
	}
	if c.Guard.SenderLimit.Count != 5 || c.Guard.SenderLimit.Period != 10*time.Second || c.Guard.Captcha || c.Guard.LoginMaxFailures != 3 {
		t.Fatalf("guard = %+v", c.Guard)
	}
	for _, s := range c.Effective() {
		if s.Key == "HELLO_SECRET" && s.Value.String() != "***" {
			t.Fatalf("HELLO_SECRET shown as %q", s.Value)
		}
	}
	bad := []struct{ env []string }{
		{[]string{"HELLO_ENV=production"}}, // no HELLO_SECRET
		{[]string{"HELLO_SECRET=short"}},
		{[]string{"HELLO_SENDER_LIMIT=600"}},
		{[]string{"HELLO_SENDER_LIMIT=0/1m"}},
		{[]string{"HELLO_CAPTCHA=maybe"}},
		{[]string{"HELLO_CAPTCHA_PROVIDER=turnstile"}}, // no keys
		{[]string{"HELLO_REDIS_URL=http://cache:6379"}},
		{[]string{"HELLO_REDIS_FAILURE=retry"}},
	}
	for _, tt := range bad {
		if _, _, err := Load(nil, tt.env); !errors.Is(err, ErrUsage) {
			t.Errorf("Load(%v) = %v, want a usage error", tt.env, err)
		}
	}
	if _, _, err := Load(nil, []string{"HELLO_ENV=production", "HELLO_SECRET=" + strongSecret}); err != nil {
		t.Errorf("production with a secret: %v", err)
	}
}

// Output of `openssl rand -hex 32` and `openssl rand -base64 32`.
const (
	strongSecret   = "9f1c2e7a4b6d8e0f3a5c7e9b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f"
	strongSecret64 = "q8Z3rT0vLx9mK2pW5nB7cY1hD4gF6jS8aE0uI3oR5tQ="
)

// Issue 9: a weak secret is refused in production; a missing one whenever replicas share Redis.
func TestSecretStrength(t *testing.T) {
	tests := []struct {
		env []string
		ok  bool
	}{
		{[]string{"HELLO_ENV=production", "HELLO_SECRET=" + strongSecret}, true},
		{[]string{"HELLO_ENV=production", "HELLO_SECRET=" + strongSecret64}, true},
		{[]string{"HELLO_ENV=production", "HELLO_SECRET=" + strings.Repeat("k", 64)}, false},
		{[]string{"HELLO_ENV=production", "HELLO_SECRET=" + strings.Repeat("ab", 32)}, false},
		{[]string{"HELLO_ENV=production", "HELLO_SECRET=passwordpasswordpasswordpassword"}, false},
		{[]string{"HELLO_ENV=production", "HELLO_SECRET=" + strongSecret[:31]}, false},
		{[]string{"HELLO_ENV=development", "HELLO_SECRET=" + strings.Repeat("k", 32)}, true},
		{[]string{"HELLO_REDIS_URL=redis://cache:6379"}, false},
		{[]string{"HELLO_ENV=development", "HELLO_REDIS_URL=redis://cache:6379", "HELLO_SECRET=" + strongSecret}, true},
	}
	for _, tt := range tests {
		_, _, err := Load(nil, tt.env)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrUsage)) {
			t.Errorf("Load(%v) = %v, want ok=%v", tt.env, err, tt.ok)
		}
	}
	if b := SecretBits(strongSecret); b < 200 {
		t.Errorf("SecretBits(hex 32) = %.0f", b)
	}
}

// Issue 9: a password given as ?password= (or key=value) never reaches the log in clear.
func TestEffectiveMasksEveryPasswordForm(t *testing.T) {
	for _, db := range []string{
		"postgres://hello@db/hello?password=hunter2hunter2&sslmode=require",
		"postgres://hello:hunter2hunter2@db/hello",
	} {
		c, _, err := Load(nil, []string{"HELLO_DB=" + db, "HELLO_REDIS_URL=redis://:hunter2hunter2@cache:6379/0?password=hunter2hunter2", "HELLO_SECRET=" + strongSecret})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range c.Effective() {
			if strings.Contains(a.Value.String(), "hunter2") {
				t.Errorf("%s shown as %q", a.Key, a.Value)
			}
		}
	}
}

func TestClientIPHeader(t *testing.T) {
	c, _, err := Load(nil, nil)
	if err != nil || c.ClientIPHeader != "X-Forwarded-For" {
		t.Fatalf("default = %q, %v", c.ClientIPHeader, err)
	}
	if c, _, err := Load([]string{"--client-ip-header", "cf-connecting-ip"}, nil); err != nil || c.ClientIPHeader != "CF-Connecting-IP" {
		t.Fatalf("flag = %q, %v", c.ClientIPHeader, err)
	}
	if _, _, err := Load(nil, []string{"HELLO_CLIENT_IP_HEADER=True-Client-IP"}); !errors.Is(err, ErrUsage) {
		t.Fatalf("unknown header: %v", err)
	}
}
