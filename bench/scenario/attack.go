package scenario

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Kind is a kind of attacker.
type Kind string

// The attacker kinds.
const (
	Brute    Kind = "brute"    // dictionary on the real users' names from a few addresses
	Botnet   Kind = "botnet"   // the same from a new address per guess
	Stuffing Kind = "stuffing" // leaked name/password pairs, some of real users, a new address each
	Spray    Kind = "spray"    // one common password over many names per round, a new address each
	Solver   Kind = "solver"   // the botnet, answering a share of the captchas it is asked right
	Flood    Kind = "flood"    // requests to the cheapest endpoints
)

// Kinds lists the attacker kinds in report order.
func Kinds() []Kind { return []Kind{Brute, Botnet, Stuffing, Spray, Solver, Flood} }

// Load is how hard one kind strikes: Workers concurrent attackers, each sending its next
// request as soon as the last is answered, or an open-loop Rate of requests per second.
type Load struct {
	Workers int
	Rate    float64
}

// ParseLoad reads "16" (workers), "300/s" (a rate) or "0" (off).
func ParseLoad(s string) (Load, error) {
	if r, ok := strings.CutSuffix(s, "/s"); ok {
		v, err := strconv.ParseFloat(r, 64)
		if err != nil || v <= 0 || v > 1e6 {
			return Load{}, fmt.Errorf("load %q: a rate is a positive number per second, like 300/s", s)
		}
		return Load{Rate: v}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 100_000 {
		return Load{}, fmt.Errorf("load %q: a number of workers (0 for none) or a rate like 300/s", s)
	}
	return Load{Workers: n}, nil
}

func (l Load) String() string {
	switch {
	case l.Rate > 0:
		return strconv.FormatFloat(l.Rate, 'f', -1, 64) + "/s"
	case l.Workers > 0:
		return fmt.Sprintf("%d workers", l.Workers)
	}
	return "off"
}

func (l Load) off() bool { return l.Rate <= 0 && l.Workers <= 0 }

// maxInFlight bounds the requests one kind at a rate has outstanding; beyond it the client,
// not the server, is the limit, and the requests it could not send are reported.
const maxInFlight = 512

// sprayNames is how many names a sprayer goes through per password: the real users' and
// others it does not know to be unused. Few enough that at 100/s the fourth password comes
// within a short attack, so spraying can succeed if the protection fails.
const sprayNames = 200

// dictionary is every attacker's list of guesses: common passwords, with each victim's real
// password at a random position after the third guess, so a success is possible whenever the
// protection lets a fourth guess through.
type dictionary struct {
	victims map[string]victim
	names   []string // the victims' names, in user order
}

type victim struct {
	password string
	pos      int // the real password is guess pos (0-based), 3 ≤ pos < 3+spread
}

func newDictionary(users []*user, spread int, rng *rand.Rand) *dictionary {
	d := &dictionary{victims: make(map[string]victim, len(users))}
	for _, u := range users {
		d.victims[u.name] = victim{password: u.password, pos: 3 + rng.IntN(spread)}
		d.names = append(d.names, u.name)
	}
	return d
}

// guess is guess k (0-based) against name.
func (d *dictionary) guess(name string, k int) string {
	if v, ok := d.victims[name]; ok && v.pos == k {
		return v.password
	}
	common := [...]string{"123456789", "password1", "qwerty123", "iloveyou1", "sunshine1",
		"football1", "princess1", "welcome123", "Password1!", "letmein12"}
	if k < len(common) {
		return common[k]
	}
	return fmt.Sprintf("Summer%04d!", k)
}

// attacker is one kind at its load.
type attacker struct {
	kind    Kind
	load    Load
	cl      *client
	dict    *dictionary
	cfg     *Config
	cursors map[string]*atomic.Int64 // per victim: the next guess (advanced once one is evaluated)
	spray   []string
	next    atomic.Int64 // the sprayer's position
	dropped atomic.Int64 // requests a rate could not send in time: maxInFlight were outstanding
}

// army is every attacker kind of the run.
type army struct {
	attackers []*attacker
	rec       *recorder
	seed      uint64
}

func newArmy(c Config, dict *dictionary, cl *client, rec *recorder, seed uint64) *army {
	a := &army{rec: rec, seed: seed}
	rng := rand.New(rand.NewPCG(seed, 1<<32))
	for _, k := range Kinds() {
		l := c.Attackers[k]
		if l.off() {
			continue
		}
		at := &attacker{kind: k, load: l, cl: cl, dict: dict, cfg: &c, cursors: map[string]*atomic.Int64{}}
		for _, n := range dict.names {
			at.cursors[n] = new(atomic.Int64)
		}
		if k == Spray {
			at.spray = append(at.spray, dict.names...)
			for i := len(at.spray); i < sprayNames; i++ {
				at.spray = append(at.spray, fmt.Sprintf("spray%04d", i))
			}
			rng.Shuffle(len(at.spray), func(i, j int) { at.spray[i], at.spray[j] = at.spray[j], at.spray[i] })
		}
		a.attackers = append(a.attackers, at)
	}
	return a
}

// connections is the most connections the attackers can use at once: one per request in flight.
func (a *army) connections() int {
	n := 0
	for _, at := range a.attackers {
		if at.load.Rate > 0 {
			n += maxInFlight
		} else {
			n += at.load.Workers
		}
	}
	return n
}

// run strikes from from until to.
func (a *army) run(ctx context.Context, from, to time.Time) {
	if !sleepUntil(ctx, from) {
		return
	}
	var wg sync.WaitGroup
	for i, at := range a.attackers {
		stream := a.seed ^ uint64(i+1)<<40
		if at.load.Rate > 0 {
			wg.Go(func() { at.runRate(ctx, from, to, a.rec, stream) })
			continue
		}
		for w := range at.load.Workers {
			rng := rand.New(rand.NewPCG(stream, uint64(w)))
			wg.Go(func() {
				for ctx.Err() == nil && time.Now().Before(to) {
					at.strikeOnce(ctx, rng, a.rec)
				}
			})
		}
	}
	wg.Wait()
}

// runRate sends at the kind's rate from up to maxInFlight goroutines.
func (at *attacker) runRate(ctx context.Context, from, to time.Time, rec *recorder, stream uint64) {
	tokens := make(chan struct{}, maxInFlight) // a stalled sender catches up, within the in-flight bound
	var wg sync.WaitGroup
	for w := range maxInFlight {
		rng := rand.New(rand.NewPCG(stream, uint64(w)))
		wg.Go(func() {
			for range tokens {
				if !time.Now().Before(to) { // queued too long: the attack is over
					at.dropped.Add(1)
					continue
				}
				at.strikeOnce(ctx, rng, rec)
			}
		})
	}
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	sent := 0
	for ctx.Err() == nil {
		now := <-tick.C
		if !now.Before(to) {
			break
		}
		for due := int(at.load.Rate*now.Sub(from).Seconds()) - sent; due > 0; due-- {
			select {
			case tokens <- struct{}{}:
			default:
				at.dropped.Add(1)
			}
			sent++
		}
	}
	close(tokens)
	wg.Wait()
}

func (at *attacker) strikeOnce(ctx context.Context, rng *rand.Rand, rec *recorder) {
	t := time.Now()
	r := at.strike(ctx, rng)
	if ctx.Err() != nil {
		return // the run was interrupted: not an outcome of the server's
	}
	if at.kind == Flood { // its answers are no logins: kept apart from the guessers' in tables and plots
		rec.add(string(at.kind), t, time.Since(t), floodPrefix+r.outcome(), false)
		return
	}
	rec.add(string(at.kind), t, time.Since(t), r.outcome(), r.ok())
}

// floodPrefix marks the outcomes of the flood's requests.
const floodPrefix = "flood: "

func (at *attacker) strike(ctx context.Context, rng *rand.Rand) reply {
	switch at.kind {
	case Brute:
		ip := fmt.Sprintf("203.0.113.%d", 1+rng.IntN(at.cfg.BruteIPs)%254)
		return at.guess(ctx, rng, at.dict.names[rng.IntN(len(at.dict.names))], ip, false)
	case Botnet, Solver:
		return at.guess(ctx, rng, at.dict.names[rng.IntN(len(at.dict.names))], randomIP(rng), at.kind == Solver)
	case Stuffing:
		if rng.Float64() < at.cfg.StuffingRealShare {
			return at.guess(ctx, rng, at.dict.names[rng.IntN(len(at.dict.names))], randomIP(rng), false)
		}
		return at.cl.login(ctx, at.cl.attacker, loginRequest{
			name: fmt.Sprintf("leak%07d", rng.IntN(10_000_000)), password: fmt.Sprintf("leaked-%08x", rng.Uint32()),
			ip: randomIP(rng),
		})
	case Spray:
		i := int(at.next.Add(1) - 1)
		name := at.spray[i%len(at.spray)]
		return at.cl.login(ctx, at.cl.attacker, loginRequest{name: name, password: at.dict.guess(name, i/len(at.spray)), ip: randomIP(rng)})
	case Flood:
		ip := randomIP(rng)
		if at.cfg.FloodIPs > 0 {
			ip = fmt.Sprintf("192.0.2.%d", 1+rng.IntN(at.cfg.FloodIPs)%254)
		}
		path := [...]string{"/api/hello", "/healthz", "/api/me"}[rng.IntN(3)]
		return at.cl.do(ctx, at.cl.attacker, http.MethodGet, path, ip, nil, nil, nil)
	}
	panic("unknown attacker kind " + at.kind)
}

// guess tries name's next dictionary entry; the entry counts as tried (the cursor moves on)
// only once the server evaluated it, so a refused guess is sent again, as a patient attacker
// would. A solver answers a captcha it is asked, right for SolveFraction of them.
func (at *attacker) guess(ctx context.Context, rng *rand.Rand, name, ip string, solve bool) reply {
	cur := at.cursors[name]
	k := cur.Load()
	req := loginRequest{name: name, password: at.dict.guess(name, int(k)), ip: ip}
	r := at.cl.login(ctx, at.cl.attacker, req)
	if solve && r.needsCaptcha() {
		answer, img := at.cl.readCaptcha(ctx, at.cl.attacker, r, ip)
		if !img.ok() {
			return img
		}
		if rng.Float64() >= at.cfg.SolveFraction {
			answer = wrong(answer)
		}
		req.captchaID, req.answer = r.captchaID, answer
		r = at.cl.login(ctx, at.cl.attacker, req)
	}
	if r.ok() || r.status == http.StatusUnauthorized {
		cur.CompareAndSwap(k, k+1)
	}
	return r
}

// wrong is a misread answer: its first digit off by one.
func wrong(answer string) string {
	if answer == "" {
		return "0"
	}
	return string('0'+(answer[0]-'0'+1)%10) + answer[1:]
}

// randomIP is a botnet's address: public-looking IPv4, away from the ranges the runner gives
// real users (198.18.0.0/15), the brute-force attacker (203.0.113.0/24) and the flood
// (192.0.2.0/24). It only ever travels in X-Forwarded-For.
func randomIP(rng *rand.Rand) string {
	first := 11 + rng.IntN(180)
	switch first {
	case 127, 172, 192, 198, 203:
		first = 45
	}
	return fmt.Sprintf("%d.%d.%d.%d", first, rng.IntN(256), rng.IntN(256), 1+rng.IntN(254))
}
