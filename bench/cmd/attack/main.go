// Command attack shows what brute force achieves against hello: it starts a hello service
// in-process on a loopback port with the production defaults (captchas on, 3 failures per hour
// per name, OWASP argon2id), creates a victim account, then runs three attacks and prints, for
// each, how many guesses the server actually evaluated and what the refusals cost.
//
//	go run ./cmd/attack -guesses 2000
//
// Traffic goes to 127.0.0.1 only, and every loop is bounded by -guesses.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hellosvc/hello/internal/captcha"
	"github.com/hellosvc/hello/internal/cli"
	"github.com/hellosvc/hello/internal/guard/memory"
)

const secret = "attack-demo-secret-attack-demo-secret-0123"

func main() {
	guesses := flag.Int("guesses", 2000, "login attempts per attack")
	workers := flag.Int("c", 8, "concurrent attackers")
	flag.Parse()
	if err := run(*guesses, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "attack:", err)
		os.Exit(1)
	}
}

func run(guesses, workers int) error {
	dir, err := os.MkdirTemp("", "hello-attack-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr := make(chan string, 1)
	done := make(chan error, 1)
	logs := &listenWatcher{addr: addr}
	go func() {
		done <- cli.Run(ctx, nil, []string{
			"HELLO_ADDR=127.0.0.1:0", "HELLO_ADMIN_ADDR=", "HELLO_DB=sqlite:" + dir + "/hello.db",
			"HELLO_SECRET=" + secret, "HELLO_LOG_LEVEL=info",
			// The attackers rotate X-Forwarded-For from "behind" a trusted local proxy, as a
			// botnet of many addresses would look.
			"HELLO_TRUSTED_PROXIES=127.0.0.1/32",
		}, logs)
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case err := <-done:
		return fmt.Errorf("hello stopped: %w", err)
	case <-time.After(60 * time.Second):
		return errors.New("hello did not start within 60s")
	}
	if err := signup(base, "alice", "the real password 42"); err != nil {
		return err
	}
	fmt.Printf("hello at %s, production defaults; victims: alice and bobby\n\n", base)
	fmt.Println("| attack | attempts | passwords evaluated | refused: too_many_attempts | rate_limited | captcha_required | other | median refusal | median evaluation |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	solver, err := captcha.New(captcha.Options{Secret: []byte(secret), Spent: memory.New(memory.Options{})})
	if err != nil {
		return err
	}
	attacks := []struct {
		name   string
		solve  bool // the attacker solves every captcha (a captcha farm, or perfect OCR)
		target func(i int) (user, sender string)
	}{
		{"dictionary on one name, one sender", false, func(int) (string, string) { return "alice", "203.0.113.7" }},
		{"dictionary on one name, a botnet (a new IP per guess)", false, func(int) (string, string) { return "alice", randomIP() }},
		{"the same, solving every captcha", true, func(int) (string, string) { return "bobby", randomIP() }},
		{"password spraying: a new name and IP per guess", false, func(i int) (string, string) { return fmt.Sprintf("user%05d", i), randomIP() }},
	}
	if err := signup(base, "bobby", "the real password 43"); err != nil {
		return err
	}
	for _, a := range attacks {
		var s *captcha.Service
		if a.solve {
			s = solver
		}
		r := attack(base, guesses, workers, s, a.target)
		fmt.Printf("| %s | %d | %d | %d | %d | %d | %d | %s | %s |\n", a.name, guesses, r.count[401],
			r.codes["too_many_attempts"], r.codes["rate_limited"], r.codes["captcha_required"], r.other,
			median(r.refused), median(r.evaluated))
	}
	cancel()
	return <-done
}

type result struct {
	count              map[int]int
	codes              map[string]int
	other              int
	refused, evaluated []time.Duration
}

func attack(base string, n, workers int, solver *captcha.Service, target func(int) (string, string)) result {
	r := result{count: map[int]int{}, codes: map[string]int{}}
	var mu sync.Mutex
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				user, ip := target(i)
				start := time.Now()
				status, code, challenge := login(base, user, fmt.Sprintf("guess-%06d", i), ip, "", "")
				if code == "captcha_required" && solver != nil {
					answer, _ := solver.Answer(challenge)
					status, code, _ = login(base, user, fmt.Sprintf("guess-%06d", i), ip, challenge, answer)
				}
				took := time.Since(start)
				mu.Lock()
				r.count[status]++
				switch {
				case status == http.StatusUnauthorized:
					r.evaluated = append(r.evaluated, took)
				case code != "":
					r.codes[code]++
					r.refused = append(r.refused, took)
				default:
					r.other++
				}
				mu.Unlock()
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return r
}

// login posts one attempt; it returns the status, the error code and, when a captcha is
// asked for, the challenge id.
func login(base, user, password, ip, captchaID, answer string) (int, string, string) {
	fields := map[string]string{"username": user, "password": password}
	if captchaID != "" {
		fields["captcha_id"], fields["captcha_answer"] = captchaID, answer
	}
	body, _ := json.Marshal(fields)
	req, _ := http.NewRequest(http.MethodPost, base+"/api/login", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", ip)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", ""
	}
	defer func() { _ = resp.Body.Close() }()
	var e struct {
		Error   string `json:"error"`
		Captcha struct {
			ID string `json:"captcha_id"`
		} `json:"captcha"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&e)
	if resp.StatusCode == http.StatusUnauthorized {
		return resp.StatusCode, "", ""
	}
	return resp.StatusCode, e.Error, e.Captcha.ID
}

// signup creates the victim, solving the captcha with the server's secret.
func signup(base, user, password string) error {
	resp, err := http.Post(base+"/api/captcha", "application/json", nil)
	if err != nil {
		return err
	}
	var ch struct {
		ID string `json:"captcha_id"`
	}
	err = json.NewDecoder(resp.Body).Decode(&ch)
	_ = resp.Body.Close()
	if err != nil {
		return err
	}
	c, err := captcha.New(captcha.Options{Secret: []byte(secret), Spent: memory.New(memory.Options{})})
	if err != nil {
		return err
	}
	answer, err := c.Answer(ch.ID) // read with the server's secret, as a person reads the image
	if err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]string{"username": user, "password": password, "captcha_id": ch.ID, "captcha_answer": answer})
	resp, err = http.Post(base+"/api/signup", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("signup: %s %s", resp.Status, b)
	}
	return nil
}

func randomIP() string {
	return fmt.Sprintf("%d.%d.%d.%d", 11+rand.IntN(200), rand.IntN(256), rand.IntN(256), 1+rand.IntN(254))
}

func median(d []time.Duration) string {
	if len(d) == 0 {
		return "–"
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[len(d)/2].Round(time.Microsecond).String()
}

// listenWatcher reads hello's JSON log for the "listening" line and sends its address.
type listenWatcher struct {
	addr chan<- string
	once sync.Once
}

func (w *listenWatcher) Write(p []byte) (int, error) {
	for _, line := range strings.Split(string(p), "\n") {
		if !strings.Contains(line, `"listening"`) {
			continue
		}
		var rec struct{ Msg, Addr string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
			w.once.Do(func() { w.addr <- rec.Addr })
		}
	}
	return len(p), nil
}
