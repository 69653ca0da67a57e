package guard

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Rate is a limit of Count events per Period, e.g. 600/1m.
type Rate struct {
	Count  int
	Period time.Duration
}

// ParseRate reads "COUNT/PERIOD", e.g. "600/1m", "20/1m", "5/10m".
func ParseRate(s string) (Rate, error) {
	c, p, ok := strings.Cut(s, "/")
	n, err := strconv.Atoi(strings.TrimSpace(c))
	if !ok || err != nil || n < 1 {
		return Rate{}, fmt.Errorf("%q is not COUNT/PERIOD (for example 600/1m)", s)
	}
	d, err := time.ParseDuration(strings.TrimSpace(p))
	if err != nil || d <= 0 {
		return Rate{}, fmt.Errorf("%q is not COUNT/PERIOD (for example 600/1m)", s)
	}
	return Rate{Count: n, Period: d}, nil
}

func (r Rate) String() string { return fmt.Sprintf("%d/%s", r.Count, r.Period) }

// GCRA is the arithmetic every store shares for r: the emission interval (Period/Count, at
// least 1ns) and the burst tolerance (Count intervals).
func (r Rate) GCRA() (interval, burst time.Duration) {
	n := int64(max(r.Count, 1))
	t := max(int64(r.Period)/n, 1)
	return time.Duration(t), time.Duration(t * n)
}

// HitsExact is how many separate timestamps a Hit/Count key keeps before it merges events
// that fall in the same 1/HitsExact of the window: counts stay exact below it; above it an
// event may be counted up to window/HitsExact longer than window (never shorter), and a key
// holds at most about 2·HitsExact entries however many events it sees. Every store keeps it.
const HitsExact = 64

// RateResult is the outcome of one rate decision.
type RateResult struct {
	Allowed    bool
	Limit      int           // the rate's Count (RateLimit-Limit)
	Remaining  int           // events still allowed right now after this one (RateLimit-Remaining)
	ResetAfter time.Duration // until the bucket is full again (RateLimit-Reset)
	RetryAfter time.Duration // when refused: until the next event would be allowed
}

// Guess identifies one password guess without revealing it: a keyed hash computed by the
// policy layer. The same wrong password tried twice is the same Guess.
type Guess [16]byte

// AttemptResult is the outcome of recording one login attempt in a sliding log.
type AttemptResult struct {
	Allowed    bool
	Failures   int           // distinct guesses in the window after this call
	RetryAfter time.Duration // when refused: until the oldest guess leaves the window
	Added      bool          // Attempt recorded this guess now (it was not in the log)
}

// ErrUnavailable is returned (wrapped) when the shared store cannot be reached and the
// operator chose HELLO_REDIS_FAILURE=deny.
var ErrUnavailable = errors.New("limiter store unavailable")

// Store keeps the guard's counters. Every method is one atomic step (one Redis round trip in
// the shared store), so concurrent requests can never slip between a check and its count.
// Keys are opaque strings built by the policy layer; stores may prefix them.
type Store interface {
	// Allow counts one event against key's rate limit (GCRA: bursts up to r.Count, refilled
	// evenly over r.Period) and reports whether it is within the limit. A refused event is
	// not counted.
	Allow(ctx context.Context, key string, r Rate) (RateResult, error)

	// Attempt records guess in key's sliding log of the last window: entries older than
	// window are dropped; a guess already in the log is allowed and not added again; else,
	// with max entries present, the attempt is refused and nothing is recorded; else the
	// guess is added with the current time and allowed. Exact: no approximation. A refusal's
	// RetryAfter is the time until fewer than max guesses remain in the window (with exactly
	// max present: until the oldest leaves). max <= 0 refuses and records nothing.
	Attempt(ctx context.Context, key string, guess Guess, max int, window time.Duration) (AttemptResult, error)
	// Peek reports key's log without changing it: the distinct guesses in the window and,
	// when there are max or more, how long until the oldest leaves it.
	Peek(ctx context.Context, key string, max int, window time.Duration) (AttemptResult, error)
	// Forget removes one guess from key's log (an attempt that ended without a verdict).
	Forget(ctx context.Context, key string, guess Guess) error
	// Clear removes key's whole log (a successful login).
	Clear(ctx context.Context, key string) error

	// Hit counts one event for key over a sliding window and returns the count including it.
	// Counts are exact up to 64 distinct timestamps per window; past that, close events share
	// a slot, so an event may be counted up to window/64 longer, never shorter (this bounds
	// the memory of a key).
	Hit(ctx context.Context, key string, window time.Duration) (int, error)
	// Count returns key's event count over the window without adding one.
	Count(ctx context.Context, key string, window time.Duration) (int, error)

	// Spend marks id as used for ttl. It returns true the first time, false ever after (until
	// ttl passes): single-use tokens across every replica that shares the store.
	Spend(ctx context.Context, id string, ttl time.Duration) (bool, error)
}
