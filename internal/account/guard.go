package account

import (
	"context"
	"net/netip"
)

// Codes of refusals decided by the guard.
const (
	CodeRateLimited     Code = "rate_limited"
	CodeTooManyAttempts Code = "too_many_attempts"
	CodeCaptchaRequired Code = "captcha_required"
	CodeCaptchaInvalid  Code = "captcha_invalid"
	// CodeCaptchaUnavailable: the third-party captcha provider could not be asked.
	CodeCaptchaUnavailable Code = "captcha_unavailable"
)

// CaptchaAnswer is what a client sends back for a captcha: a self-hosted challenge id and its
// answer, or a third-party provider's token.
type CaptchaAnswer struct {
	ID     string
	Answer string
	Token  string
}

// Attempt is a signup or login attempt as the HTTP layer received it: Service.Signup and
// Service.Login take one. The Service normalises Username (and, at login, keeps Device only
// while the account still lists that device) before it hands an Attempt to the Guard, so the
// Guard always sees the normalised name.
type Attempt struct {
	Username string     // as received; the Guard is given the normalised form
	Password string     // the Guard is given a login's only, and keeps a keyed hash, never the password
	Sender   netip.Addr // the client address (see realip)
	Device   string     // the device cookie presented, login only
	Captcha  CaptchaAnswer
}

// Guard decides, before any password hash or storage read, whether an attempt may proceed.
// Refusals are *Error values (too_many_attempts, captcha_required, captcha_invalid, ...).
type Guard interface {
	BeginLogin(ctx context.Context, a Attempt) (LoginTicket, error)
	CheckSignup(ctx context.Context, a Attempt) error
	// Device returns the device id in a device cookie whose signature is valid for username.
	Device(cookie, username string) (id string, ok bool)
}

// LoginTicket is an admitted login attempt; exactly one of its methods is called.
type LoginTicket interface {
	// Class is the priority of this attempt's password check.
	Class() HashClass
	// Succeeded records a successful login and returns a device cookie value for the user
	// ("" when device cookies are off).
	Succeeded(ctx context.Context) (device string)
	// Failed records a wrong password.
	Failed(ctx context.Context)
	// Abandon forgets an attempt that ended without a verdict (storage down).
	Abandon(ctx context.Context)
	// Recheck is called when the attempt's hashing slot comes after a wait, before its hash:
	// an error (captcha_required when an attack started while it waited) ends the attempt,
	// which the caller then abandons.
	Recheck(ctx context.Context) error
	// Shed forgets an attempt the server was too busy to check (503 busy) and counts it toward
	// the service-wide failure wave: more logins than the hashing capacity is a flood's mark,
	// seen long before enough of its guesses have been hashed and have failed.
	Shed(ctx context.Context)
}

// openGuard admits everything: the Service's guard when none is configured.
type openGuard struct{}

func (openGuard) BeginLogin(context.Context, Attempt) (LoginTicket, error) { return openTicket{}, nil }
func (openGuard) CheckSignup(context.Context, Attempt) error               { return nil }
func (openGuard) Device(string, string) (string, bool)                     { return "", false }

type openTicket struct{}

func (openTicket) Class() HashClass                 { return HashClean }
func (openTicket) Succeeded(context.Context) string { return "" }
func (openTicket) Failed(context.Context)           {}
func (openTicket) Recheck(context.Context) error    { return nil }
func (openTicket) Abandon(context.Context)          {}
func (openTicket) Shed(context.Context)             {}
