// Package guard protects hello against brute force: per-sender rate limits on every endpoint,
// at most N failed logins per rolling window per username (or per trusted device), captchas
// when an attack is likely, and single-use challenges. The policies live here, with no HTTP
// types; the counters live in a Store (memory/ in-process, redis/ shared by every replica).
package guard

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hellosvc/hello/internal/account"
)

// Config holds the policies' numbers.
type Config struct {
	SenderLimit     Rate // every request, per sender
	AuthSenderLimit Rate // signup and login, per sender
	// IPv6 senders are counted per /64, and again per /48 with the limit multiplied by this.
	IPv6PrefixFactor int

	LoginMaxFailures int           // distinct wrong passwords per window per name (or device)
	LoginWindow      time.Duration // the rolling window
	DeviceCookies    bool

	Captcha                    bool
	CaptchaAfterSenderFailures Rate // a sender with this many failed logins must solve captchas
	CaptchaGlobalFailures      Rate // service-wide failures above this: everyone solves captchas
}

// Captcha verifies captcha answers and issues fresh challenges (see package captcha).
type Captcha interface {
	// Verify checks an answer; a wrong, expired, tampered or re-used answer is an error.
	Verify(ctx context.Context, a account.CaptchaAnswer, sender netip.Addr) error
	// Challenge returns a fresh challenge for the client.
	Challenge() (account.Challenge, error)
}

// Guard applies the policies. It implements account.Guard.
type Guard struct {
	store   Store
	cfg     Config
	captcha Captcha
	macs    macs
	now     func() time.Time
	log     *slog.Logger
	metrics *metrics
}

var _ account.Guard = (*Guard)(nil)

// Options are the Guard's dependencies.
type Options struct {
	Store   Store
	Config  Config
	Captcha Captcha // required when Config.Captcha is on
	Secret  []byte  // HELLO_SECRET: keys guess hashes and device cookies
	Now     func() time.Time
	Logger  *slog.Logger
	Metrics prometheus.Registerer
}

// New returns a Guard.
func New(o Options) (*Guard, error) {
	if o.Store == nil || o.Logger == nil || o.Metrics == nil || len(o.Secret) == 0 {
		return nil, errors.New("guard: Store, Logger, Metrics and Secret are required")
	}
	if o.Config.Captcha && o.Captcha == nil {
		return nil, errors.New("guard: captchas are on but no Captcha was given")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Config.IPv6PrefixFactor < 1 {
		o.Config.IPv6PrefixFactor = 1
	}
	m, err := newMetrics(o.Metrics)
	if err != nil {
		return nil, err
	}
	return &Guard{store: o.Store, cfg: o.Config, captcha: o.Captcha, macs: newMACs(deriveKeys(o.Secret)), now: o.Now, log: o.Logger, metrics: m}, nil
}

// keys are independent sub-keys of HELLO_SECRET, one per use.
type keys struct {
	guess, device, name []byte
}

func deriveKeys(secret []byte) keys {
	sub := func(label string) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte("hello guard " + label))
		return m.Sum(nil)
	}
	return keys{guess: sub("guess"), device: sub("device"), name: sub("name")}
}

// macs are the HMACs under each sub-key.
type macs struct {
	guess, device, name *macPool
}

func newMACs(k keys) macs {
	return macs{guess: newMACPool(k.guess), device: newMACPool(k.device), name: newMACPool(k.name)}
}

// Sender applies the per-sender limits to one request and returns the tightest result.
// auth is true for signup and login, which have a stricter limit of their own.
func (g *Guard) Sender(ctx context.Context, ip netip.Addr, auth bool) (RateResult, error) {
	res, err := g.senderLimit(ctx, "s", ip, g.cfg.SenderLimit)
	if err != nil || !res.Allowed || !auth {
		g.metrics.sender.count(res.Allowed, err)
		return res, err
	}
	ares, err := g.senderLimit(ctx, "a", ip, g.cfg.AuthSenderLimit)
	g.metrics.authSender.count(ares.Allowed, err)
	if err != nil {
		return res, err
	}
	return tighter(res, ares), nil
}

// senderLimit counts ip once, or for IPv6 once per /64 and once per /48 (higher limit), so
// rotating addresses inside one allocation does not buy more tries.
func (g *Guard) senderLimit(ctx context.Context, kind string, ip netip.Addr, r Rate) (RateResult, error) {
	if !ip.Is6() {
		return g.store.Allow(ctx, addrKey(kind, ip), r)
	}
	p64, _ := ip.Prefix(64)
	res, err := g.store.Allow(ctx, prefixKey(kind, p64), r)
	if err != nil || !res.Allowed {
		return res, err
	}
	p48, _ := ip.Prefix(48)
	wide := Rate{Count: r.Count * g.cfg.IPv6PrefixFactor, Period: r.Period}
	res48, err := g.store.Allow(ctx, prefixKey(kind, p48), wide)
	if err != nil {
		return res, err
	}
	return tighter(res, res48), nil
}

// addrKey is kind + ":" + ip.String(), built with one allocation instead of two.
func addrKey(kind string, ip netip.Addr) string {
	if !ip.IsValid() {
		return kind + ":" + ip.String()
	}
	var buf [64]byte
	return string(ip.AppendTo(append(append(buf[:0], kind...), ':')))
}

// prefixKey is kind + ":" + p.String(), built with one allocation instead of two.
func prefixKey(kind string, p netip.Prefix) string {
	if !p.IsValid() {
		return kind + ":" + p.String()
	}
	var buf [64]byte
	return string(p.AppendTo(append(append(buf[:0], kind...), ':')))
}

// tighter returns the more restrictive of two results (a refusal wins; then fewer remaining).
func tighter(a, b RateResult) RateResult {
	switch {
	case !a.Allowed:
		return a
	case !b.Allowed:
		return b
	case float64(b.Remaining)/float64(max(b.Limit, 1)) < float64(a.Remaining)/float64(max(a.Limit, 1)):
		return b
	}
	return a
}

// RateLimited is the refusal for a sender over its limit.
func RateLimited(r RateResult) *account.Error {
	return &account.Error{Code: account.CodeRateLimited, Message: "too many requests, slow down", RetryAfter: max(r.RetryAfter, time.Second)}
}

func (g *Guard) guess(username, password string) Guess {
	m := g.macs.guess.get()
	defer g.macs.guess.put(m)
	m.msg = append(append(append(m.msg, username...), 0), password...)
	var out Guess
	copy(out[:], m.mac())
	return out
}

// senderKey groups IPv6 senders by /64 for failure counting.
func senderKey(ip netip.Addr) string {
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// userKey is the store key of a name's failure log: a keyed hash, so a key has a fixed size
// whatever the name (every key built from user input is bounded), and the shared store does
// not hold a list of the names under attack.
func (g *Guard) userKey(name string) string {
	m := g.macs.name.get()
	defer g.macs.name.put(m)
	m.msg = append(m.msg, name...)
	var key [2 + 22]byte // "u:" and the base64url (b64url's encoding) of 16 bytes, built in place
	key[0], key[1] = 'u', ':'
	base64.RawURLEncoding.Encode(key[2:], m.mac()[:16])
	return string(key[:])
}

const globalFailuresKey = "global:failures"

func (g *Guard) storeFailure(ctx context.Context, op string, err error) error {
	if errors.Is(err, ErrUnavailable) {
		return &account.Error{Code: account.CodeStorageUnavailable, Message: "login is temporarily unavailable, try again shortly", RetryAfter: time.Second, Err: err}
	}
	return &account.Error{Code: account.CodeInternal, Message: "internal error", Err: fmt.Errorf("guard %s: %w", op, err)}
}

// NameStatus is what the guard knows of a name: its failures in the window and, when they
// lock it, until when.
type NameStatus struct {
	Failures    int
	LockedUntil time.Time // zero when not locked
}

// Status reports the failure log of a normalised name (for `hello guard status`).
func (g *Guard) Status(ctx context.Context, name string) (NameStatus, error) {
	r, err := g.store.Peek(ctx, g.userKey(name), g.cfg.LoginMaxFailures, g.cfg.LoginWindow)
	if err != nil {
		return NameStatus{}, fmt.Errorf("guard status: %w", err)
	}
	st := NameStatus{Failures: r.Failures}
	if !r.Allowed {
		st.LockedUntil = g.now().Add(r.RetryAfter)
	}
	return st, nil
}

// Unlock clears a normalised name's failure log (for `hello guard unlock`).
func (g *Guard) Unlock(ctx context.Context, name string) error {
	if err := g.store.Clear(ctx, g.userKey(name)); err != nil {
		return fmt.Errorf("guard unlock: %w", err)
	}
	return nil
}
