package scenario

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// The two kinds of real user, reported apart.
const (
	classCookie = "real, device cookie"
	classNew    = "real, new device"
)

// user is a real user: a name, its password, one address, and (for users on a known device)
// the hello_device cookie of an earlier login.
type user struct {
	name, password, ip string
	newDevice          bool
	device             string
}

func (u *user) class() string {
	if u.newDevice {
		return classNew
	}
	return classCookie
}

// newUsers makes n users with names fresh to this run (a target that already served a run keeps
// its lockouts for an hour), the last newShare of them on new devices.
func newUsers(n int, newShare float64, rng *rand.Rand) []*user {
	prefix := fmt.Sprintf("r%06x", rng.Uint32()&0xffffff)
	newFrom := n - int(math.Round(float64(n)*newShare))
	users := make([]*user, n)
	for i := range users {
		users[i] = &user{
			name:      fmt.Sprintf("%s-%04d", prefix, i),
			password:  fmt.Sprintf("pw-%016x", rng.Uint64()),
			ip:        fmt.Sprintf("198.18.%d.%d", i/250, i%250+1), // RFC 2544 benchmarking range
			newDevice: i >= newFrom,
		}
	}
	return users
}

// setUp signs every user up and logs the users on known devices in once, for their cookie.
func setUp(ctx context.Context, cl *client, users []*user) error {
	work := make(chan *user)
	errs := make(chan error, len(users))
	var wg sync.WaitGroup
	for range 4 { // a person signs up one at a time; four at once keeps set-up short
		wg.Go(func() {
			for u := range work {
				errs <- u.setUp(ctx, cl)
			}
		})
	}
	for _, u := range users {
		work <- u
	}
	close(work)
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

func (u *user) setUp(ctx context.Context, cl *client) error {
	if err := cl.signup(ctx, u.name, u.password, u.ip); err != nil {
		return err
	}
	if u.newDevice {
		return nil
	}
	r := cl.login(ctx, cl.users, loginRequest{name: u.name, password: u.password, ip: u.ip})
	if !r.ok() {
		return fmt.Errorf("first login of %s: %s", u.name, r)
	}
	if r.device == "" {
		return fmt.Errorf("first login of %s set no %s cookie (HELLO_DEVICE_COOKIES=off?)", u.name, deviceCookie)
	}
	u.device = r.device
	return nil
}

// run logs the user in at random moments (exponential gaps of mean think, so arrivals are a
// Poisson process as long as the server keeps up) from start until end.
func (u *user) run(ctx context.Context, cl *client, rec *recorder, start, end time.Time, think time.Duration, rng *rand.Rand) {
	next := start.Add(expDuration(rng, think))
	for next.Before(end) {
		if !sleepUntil(ctx, next) {
			return
		}
		t := time.Now()
		outcome := u.attempt(ctx, cl)
		rec.add(u.class(), t, time.Since(t), outcome, false)
		next = next.Add(expDuration(rng, think))
		if now := time.Now(); next.Before(now) { // a person waits for the page before trying again
			next = now
		}
	}
}

// attempt is one login. A user on a new device who is asked for a captcha reads it and sends
// the form again (its latency is both round trips and the image); a user on a known device is
// never supposed to be asked, so that refusal is what it got.
func (u *user) attempt(ctx context.Context, cl *client) string {
	r := cl.login(ctx, cl.users, loginRequest{name: u.name, password: u.password, ip: u.ip, device: u.device})
	if !u.newDevice {
		if r.device != "" {
			u.device = r.device
		}
		return r.outcome()
	}
	if !r.needsCaptcha() {
		return r.outcome()
	}
	answer, img := cl.readCaptcha(ctx, cl.users, r, u.ip)
	if !img.ok() {
		return "captcha image: " + img.outcome()
	}
	r = cl.login(ctx, cl.users, loginRequest{name: u.name, password: u.password, ip: u.ip, captchaID: r.captchaID, answer: answer})
	return r.outcome() + afterCaptcha
}

// afterCaptcha marks what a user on a new device got once it had read a captcha.
const afterCaptcha = " after captcha"

func expDuration(rng *rand.Rand, mean time.Duration) time.Duration {
	return time.Duration(rng.ExpFloat64() * float64(mean))
}

// sleepUntil waits until t; false when ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}
