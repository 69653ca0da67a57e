package cli

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hellosvc/hello/internal/captcha"
	"github.com/hellosvc/hello/internal/config"
	"github.com/hellosvc/hello/internal/guard"
	"github.com/hellosvc/hello/internal/guard/memory"
)

// protection is the wired brute-force guard.
type protection struct {
	guard   *guard.Guard
	captcha *captcha.Service // nil when captchas are off
	// state reports the limiter store: "ok", or "degraded" while a shared store is away.
	state func() string
	close func() error
}

// newProtection builds the limiter store (memory, or Redis with a memory fallback), the captcha
// service and the guard.
func newProtection(ctx context.Context, cfg *config.Config, log *slog.Logger, reg prometheus.Registerer) (*protection, error) {
	g := cfg.Guard
	secret := []byte(g.Secret.Reveal())
	if len(secret) == 0 {
		secret = make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return nil, fmt.Errorf("generating HELLO_SECRET: %w", err)
		}
		log.Warn("HELLO_SECRET is not set: generated a random one for this process, so captchas and device " +
			"cookies will not survive a restart nor work across replicas; set HELLO_SECRET (32+ random characters) from your secret store")
	}
	local := memory.New(memory.Options{MaxKeys: g.MaxKeys})
	p := &protection{state: func() string { return "ok" }, close: func() error { return nil }}
	var store guard.Store = local
	if g.RedisURL != "" {
		shared, err := newRedisStore(ctx, cfg, local, log, reg)
		if err != nil {
			return nil, err
		}
		store, p.state, p.close = shared, shared.State, shared.Close
	}
	if g.Captcha {
		var provider *captcha.Provider
		if g.CaptchaProvider != "none" {
			provider = &captcha.Provider{Name: g.CaptchaProvider, SiteKey: g.CaptchaSiteKey,
				Secret: g.CaptchaSecretKey.Reveal(), VerifyURL: g.CaptchaVerifyURL}
		}
		c, err := captcha.New(captcha.Options{Secret: secret, TTL: g.CaptchaTTL, Spent: store, Provider: provider})
		if err != nil {
			return nil, err
		}
		p.captcha = c
	}
	var gc guard.Captcha
	if p.captcha != nil {
		gc = p.captcha
	}
	gd, err := guard.New(guard.Options{
		Store: store, Captcha: gc, Secret: secret, Logger: log, Metrics: reg,
		Config: g.Config,
	})
	if err != nil {
		return nil, err
	}
	p.guard = gd
	return p, nil
}
