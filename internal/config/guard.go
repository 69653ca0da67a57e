package config

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"time"

	"github.com/hellosvc/hello/internal/guard"
)

// GuardConfig holds the brute-force protection settings.
type GuardConfig struct {
	Secret Secret // HELLO_SECRET: seals captchas, signs device cookies, keys guess hashes

	// The policies' numbers, as the guard takes them.
	guard.Config

	CaptchaTTL       time.Duration
	CaptchaProvider  string // none, turnstile, hcaptcha, recaptcha
	CaptchaSiteKey   string
	CaptchaSecretKey Secret
	CaptchaVerifyURL string

	RedisURL      string
	RedisPassword Secret
	RedisFailure  string // local or deny
	MaxKeys       int    // keys the in-memory store tracks at most
}

func rateVar(p *guard.Rate) func(string) error {
	return func(v string) error {
		r, err := guard.ParseRate(v)
		if err != nil {
			return err
		}
		*p = r
		return nil
	}
}

func (g *GuardConfig) settings() []setting {
	return []setting{
		{name: "HELLO_SECRET", secret: true, usage: "key for captchas, device cookies and guess hashes (32+ random bytes; required in production; generated per process otherwise)",
			set: secretVar(&g.Secret)},
		{name: "HELLO_SENDER_LIMIT", def: "600/1m", usage: "requests per sender (client IP; IPv6 per /64) on every endpoint",
			set: rateVar(&g.SenderLimit)},
		{name: "HELLO_AUTH_SENDER_LIMIT", def: "20/1m", usage: "signup and login submissions per sender",
			set: rateVar(&g.AuthSenderLimit)},
		{name: "HELLO_IPV6_48_FACTOR", def: "8", usage: "IPv6 senders are also counted per /48, with the limits multiplied by this",
			set: intVar(&g.IPv6PrefixFactor, 1, 1<<16)},
		{name: "HELLO_LOGIN_MAX_FAILURES", def: "3", usage: "distinct wrong passwords per username (or trusted device) per window",
			set: intVar(&g.LoginMaxFailures, 1, 1000)},
		{name: "HELLO_LOGIN_WINDOW", def: "1h", usage: "the rolling window of HELLO_LOGIN_MAX_FAILURES",
			set: durationVar(&g.LoginWindow, time.Second)},
		{name: "HELLO_DEVICE_COOKIES", def: "on", usage: "give each device that logged in its own failure budget (on/off)",
			set: onOffVar(&g.DeviceCookies)},
		{name: "HELLO_CAPTCHA", def: "on", usage: "captchas on signup, and on login when an attack is likely (on/off)",
			set: onOffVar(&g.Captcha)},
		{name: "HELLO_CAPTCHA_AFTER_SENDER_FAILURES", def: "5/10m", usage: "failed logins from one sender after which its logins need a captcha",
			set: rateVar(&g.CaptchaAfterSenderFailures)},
		{name: "HELLO_CAPTCHA_GLOBAL_FAILURES", def: "100/1m", usage: "service-wide failed logins above which every login needs a captcha (credential stuffing)",
			set: rateVar(&g.CaptchaGlobalFailures)},
		{name: "HELLO_CAPTCHA_TTL", def: "10m", usage: "how long a captcha challenge may be answered",
			set: durationVar(&g.CaptchaTTL, 10*time.Second)},
		{name: "HELLO_CAPTCHA_PROVIDER", def: "none", usage: "also accept tokens from a third-party captcha: none, turnstile, hcaptcha, recaptcha",
			set: enumVar(&g.CaptchaProvider, "none", "turnstile", "hcaptcha", "recaptcha")},
		{name: "HELLO_CAPTCHA_SITE_KEY", usage: "the provider's public site key",
			set: stringVar(&g.CaptchaSiteKey)},
		{name: "HELLO_CAPTCHA_SECRET_KEY", secret: true, usage: "the provider's secret key for server-side verification",
			set: secretVar(&g.CaptchaSecretKey)},
		{name: "HELLO_CAPTCHA_VERIFY_URL", usage: "override the provider's siteverify URL (self-hosted proxies, tests)",
			set: stringVar(&g.CaptchaVerifyURL)},
		{name: "HELLO_REDIS_URL", usage: "share limiter state through Redis: redis://host:6379/0 or rediss://… (empty: in-process memory)",
			set: redisVar(&g.RedisURL), show: func() string { return redactURL(g.RedisURL) }},
		{name: "HELLO_REDIS_PASSWORD", secret: true, usage: "Redis AUTH password (overrides one in the URL)",
			set: secretVar(&g.RedisPassword)},
		{name: "HELLO_REDIS_FAILURE", def: "local", usage: "while Redis is unreachable: local (limit per replica in memory) or deny (refuse logins with 503)",
			set: enumVar(&g.RedisFailure, "local", "deny")},
		{name: "HELLO_LIMITER_MAX_KEYS", def: "1000000", usage: "keys the in-memory limiter tracks at most (oldest evicted first)",
			set: intVar(&g.MaxKeys, 1000, 1<<30)},
	}
}

func redisVar(p *string) func(string) error {
	return func(v string) error {
		if v != "" {
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
				return errors.New("must be redis://host:port[/db] or rediss://host:port[/db]")
			}
		}
		*p = v
		return nil
	}
}

// Strength of HELLO_SECRET: every key the guard and captchas derive is only as strong as it.
const (
	MinSecretLen  = 32
	MinSecretBits = 128
)

// SecretBits estimates a secret's entropy as its length times the Shannon entropy of its own
// characters: "aaaa…" scores 0, `openssl rand -hex 32` about 240, `-base64 32` about 220.
func SecretBits(s string) float64 {
	counts := map[rune]int{}
	n := 0
	for _, r := range s {
		counts[r]++
		n++
	}
	h := 0.0
	for _, c := range counts {
		p := float64(c) / float64(n)
		h -= p * math.Log2(p)
	}
	return h * float64(n)
}

func (g *GuardConfig) validate(c *Config) error {
	if c.Production() && len(g.Secret) == 0 {
		return errors.New("HELLO_SECRET is required when HELLO_ENV=production (every replica must share it)")
	}
	if g.RedisURL != "" && len(g.Secret) == 0 {
		return errors.New("HELLO_SECRET is required with HELLO_REDIS_URL: replicas that share a limiter must share the secret, or they cannot check each other's captchas and device cookies")
	}
	if len(g.Secret) > 0 && len(g.Secret) < MinSecretLen {
		return fmt.Errorf("HELLO_SECRET must be at least %d characters", MinSecretLen)
	}
	if bits := SecretBits(g.Secret.Reveal()); c.Production() && bits < MinSecretBits {
		return fmt.Errorf("HELLO_SECRET is too guessable for production (about %.0f bits, want %d): use the output of `openssl rand -hex 32`", bits, MinSecretBits)
	}
	if g.CaptchaProvider != "none" && (g.CaptchaSiteKey == "" || g.CaptchaSecretKey == "") {
		return fmt.Errorf("HELLO_CAPTCHA_PROVIDER=%s needs HELLO_CAPTCHA_SITE_KEY and HELLO_CAPTCHA_SECRET_KEY", g.CaptchaProvider)
	}
	return nil
}
