package guard

import (
	"context"
	"time"

	"github.com/hellosvc/hello/internal/account"
)

// BeginLogin admits or refuses a login attempt before any password hash or storage read:
//
//  1. the budget: the name's sliding log of distinct wrong passwords, or, with a valid device
//     cookie for that name, the device's own log (so an attacker cannot lock the owner out);
//  2. the captcha, when the budget has a failure in it, or — not for a trusted device, whose
//     owner is not taxed for other people's failures — the sender has failed often or the
//     whole service is under a credential-stuffing wave;
//  3. the atomic reservation of this guess in the log: the check and the count are one step,
//     so parallel attempts cannot slip past the limit; and since guesses raced in one burst
//     all see an empty log in step 2, the reservation's own count decides again whether
//     this one needed the captcha (released and refused if it did and has none).
func (g *Guard) BeginLogin(ctx context.Context, a account.Attempt) (account.LoginTicket, error) {
	key := g.userKey(a.Username)
	trusted := false
	if g.cfg.DeviceCookies {
		if dev, ok := g.parseDevice(a.Device, a.Username); ok {
			key, trusted = deviceKey(dev), true
		}
	}
	peek, err := g.store.Peek(ctx, key, g.cfg.LoginMaxFailures, g.cfg.LoginWindow)
	if err != nil {
		return nil, g.storeFailure(ctx, "peek", err)
	}
	if peek.Failures >= g.cfg.LoginMaxFailures {
		g.metrics.login.count(false, nil)
		return nil, tooManyAttempts(peek.RetryAfter)
	}
	class, senderFailures := account.HashTrusted, 0
	if !trusted {
		n, err := g.store.Count(ctx, senderFailuresKey(a), g.cfg.CaptchaAfterSenderFailures.Period)
		if err != nil {
			return nil, g.storeFailure(ctx, "count", err)
		}
		class, senderFailures = account.HashClean, n
		if n > 0 {
			class = account.HashOther
		}
	}
	solved, err := g.loginCaptcha(ctx, a, peek.Failures, senderFailures, trusted)
	if err != nil {
		return nil, err
	}
	guess := g.guess(a.Username, a.Password)
	res, err := g.store.Attempt(ctx, key, guess, g.cfg.LoginMaxFailures, g.cfg.LoginWindow)
	if err != nil {
		return nil, g.storeFailure(ctx, "attempt", err)
	}
	g.metrics.login.count(res.Allowed, nil)
	if !res.Allowed {
		return nil, tooManyAttempts(res.RetryAfter)
	}
	if g.cfg.Captcha && !solved && res.Failures > 1 { // another guess is in the log: captcha
		if err := g.checkCaptcha(ctx, a); err != nil {
			if res.Added {
				g.release(ctx, key, guess)
			}
			return nil, err
		}
		solved = true
	}
	// This guess filled the window: if it is wrong, the name (or device) is now locked.
	fills := res.Failures >= g.cfg.LoginMaxFailures && res.Failures > peek.Failures
	return &ticket{g: g, a: a, key: key, guess: guess, trusted: trusted, solved: solved, fills: fills, class: class}, nil
}

func tooManyAttempts(retry time.Duration) *account.Error {
	return &account.Error{Code: account.CodeTooManyAttempts, Message: "too many failed logins for this account; try again later",
		RetryAfter: max(retry, time.Second)}
}

// loginCaptcha demands a solved captcha when an attack is likely. solved reports that one was
// demanded and solved.
func (g *Guard) loginCaptcha(ctx context.Context, a account.Attempt, failures, senderFailures int, trusted bool) (solved bool, err error) {
	if !g.cfg.Captcha {
		return false, nil
	}
	need := failures > 0 || !trusted && senderFailures >= g.cfg.CaptchaAfterSenderFailures.Count
	if !need && !trusted {
		n, err := g.store.Count(ctx, globalFailuresKey, g.cfg.CaptchaGlobalFailures.Period)
		if err != nil {
			return false, g.storeFailure(ctx, "count", err)
		}
		need = n >= g.cfg.CaptchaGlobalFailures.Count
	}
	if !need {
		return false, nil
	}
	return true, g.checkCaptcha(ctx, a)
}

// CheckSignup requires a solved captcha on every signup when captchas are on.
func (g *Guard) CheckSignup(ctx context.Context, a account.Attempt) error {
	if !g.cfg.Captcha {
		return nil
	}
	return g.checkCaptcha(ctx, a)
}

func (g *Guard) checkCaptcha(ctx context.Context, a account.Attempt) error {
	code, msg := account.CodeCaptchaRequired, "solve the captcha to continue"
	if a.Captcha != (account.CaptchaAnswer{}) {
		err := g.captcha.Verify(ctx, a.Captcha, a.Sender)
		if err == nil {
			g.metrics.captcha.count(true, nil)
			return nil
		}
		if account.CodeOf(err) != account.CodeCaptchaInvalid {
			return err // the check itself failed: no verdict on the answer
		}
		code, msg = account.CodeCaptchaInvalid, "the captcha answer is wrong or expired; try the new one"
	}
	g.metrics.captcha.count(false, nil)
	ch, err := g.captcha.Challenge()
	if err != nil {
		return &account.Error{Code: account.CodeInternal, Message: "internal error", Err: err}
	}
	return &account.Error{Code: code, Message: msg, Captcha: &ch}
}

func senderFailuresKey(a account.Attempt) string { return "sf:" + senderKey(a.Sender) }

// ticket is an admitted attempt whose guess is already reserved in the log.
type ticket struct {
	g       *Guard
	a       account.Attempt
	key     string
	guess   Guess
	trusted bool
	solved  bool // a captcha was demanded and solved
	fills   bool // the reserved guess is the one that filled the window
	class   account.HashClass
}

// Class implements account.LoginTicket: trusted devices first, then senders with no failed
// login in the sender window, then everyone else.
func (t *ticket) Class() account.HashClass { return t.class }

// Succeeded clears the failures of the name (or device) and issues a device cookie.
func (t *ticket) Succeeded(ctx context.Context) string {
	if err := t.g.store.Clear(ctx, t.key); err != nil {
		t.g.log.WarnContext(ctx, "clearing login failures", "err", err)
	}
	t.g.metrics.outcome("success")
	if !t.g.cfg.DeviceCookies {
		return ""
	}
	return t.g.issueDevice(t.a.Username, t.a.Device)
}

// Failed keeps the reserved guess in the log and counts the failure for the captcha triggers.
func (t *ticket) Failed(ctx context.Context) {
	t.g.metrics.outcome("failure")
	t.g.hit(ctx, senderFailuresKey(t.a), t.g.cfg.CaptchaAfterSenderFailures.Period)
	t.g.hit(ctx, globalFailuresKey, t.g.cfg.CaptchaGlobalFailures.Period)
	if t.fills {
		t.g.metrics.lockouts.Inc()
		t.g.log.WarnContext(ctx, "login locked", "username", t.a.Username, "trusted_device", t.trusted,
			"sender", t.a.Sender.String(), "failures", t.g.cfg.LoginMaxFailures, "window", t.g.cfg.LoginWindow.String())
	}
}

// Recheck asks again, when the attempt's hashing slot comes after a wait, whether it now needs
// a captcha: the service-wide wave or its sender's failures may have started while it waited,
// and a flood's guesses queued before the wave would otherwise still be hashed, on the CPU the
// real users' logins need. A trusted device is not asked (no wave taxes it), nor an attempt
// that solved a captcha. The caller abandons the ticket when this refuses.
func (t *ticket) Recheck(ctx context.Context) error {
	if t.trusted || t.solved || !t.g.cfg.Captcha {
		return nil
	}
	n, err := t.g.store.Count(ctx, senderFailuresKey(t.a), t.g.cfg.CaptchaAfterSenderFailures.Period)
	if err != nil {
		return t.g.storeFailure(ctx, "count", err)
	}
	solved, err := t.g.loginCaptcha(ctx, t.a, 0, n, false)
	if err == nil && solved {
		t.solved = true // an answer came with the attempt and was accepted
	}
	if err != nil && account.CodeOf(err) == account.CodeCaptchaRequired {
		t.g.metrics.outcome("rechecked")
	}
	return err
}

// Abandon releases the reserved guess: no verdict was reached, so it is not a failure.
func (t *ticket) Abandon(ctx context.Context) { t.g.release(ctx, t.key, t.guess) }

// Shed releases the reserved guess, as Abandon does, and counts the attempt toward the
// service-wide wave unless it came from a trusted device (whose logins that wave never taxes).
func (t *ticket) Shed(ctx context.Context) {
	t.g.release(ctx, t.key, t.guess)
	t.g.metrics.outcome("shed")
	if !t.trusted {
		t.g.hit(ctx, globalFailuresKey, t.g.cfg.CaptchaGlobalFailures.Period)
	}
}

// hit counts one event for a captcha trigger; a store failure costs the count, not the request.
func (g *Guard) hit(ctx context.Context, key string, window time.Duration) {
	if _, err := g.store.Hit(ctx, key, window); err != nil {
		g.log.WarnContext(ctx, "counting a login failure", "err", err)
	}
}

func (g *Guard) release(ctx context.Context, key string, guess Guess) {
	if err := g.store.Forget(ctx, key, guess); err != nil {
		g.log.WarnContext(ctx, "releasing a login attempt", "err", err)
	}
}
