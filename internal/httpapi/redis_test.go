package httpapi_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hellosvc/hello/internal/testenv"
)

// readyStatus returns /readyz's status field.
func readyStatus(t *testing.T, c *testenv.Client) string {
	t.Helper()
	r := c.Get("/readyz")
	if r.Status != http.StatusOK {
		t.Fatalf("/readyz = %d %s, want 200", r.Status, r.Body)
	}
	s, _ := r.JSON(t)["status"].(string)
	return s
}

// waitReadyStatus polls /readyz until it reports want (the store probes Redis by itself).
func waitReadyStatus(t *testing.T, c *testenv.Client, want string) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, "/readyz status "+want, func() bool { return readyStatus(t, c) == want })
}

func TestReplicasShareLimitsAndCaptchasThroughRedis(t *testing.T) {
	rd := testenv.StartRedis(t)
	env := map[string]string{"HELLO_REDIS_URL": rd.URL(), "HELLO_LOGIN_MAX_FAILURES": "3", "HELLO_CAPTCHA": "on",
		"HELLO_CAPTCHA_AFTER_SENDER_FAILURES": "1000/10m"}
	a := testenv.NewClient(t, testenv.StartHello(t, env).URL)
	bh := testenv.StartHello(t, env)
	b := testenv.NewClient(t, bh.URL)

	// A captcha issued and spent on replica A cannot be spent again on replica B.
	ch := challenge(t, a.PostJSON("/api/signup", creds("alice", "right password")))
	id := ch["captcha_id"].(string)
	body := fmt.Sprintf(`{"username":"alice","password":"right password","captcha_id":%q,"captcha_answer":%q}`, id, testenv.SolveCaptcha(t, id))
	if r := a.PostJSON("/api/signup", body); r.Status != http.StatusCreated {
		t.Fatalf("signup on A = %d %s", r.Status, r.Body)
	}
	replay := fmt.Sprintf(`{"username":"alice2","password":"right password","captcha_id":%q,"captcha_answer":%q}`, id, testenv.SolveCaptcha(t, id))
	if r := b.PostJSON("/api/signup", replay); r.Code() != "captcha_invalid" {
		t.Fatalf("the same captcha on B = %d %s, want captcha_invalid", r.Status, r.Body)
	}

	// Failures on A and B add up: the name locks after 3, wherever they land.
	a.PostJSON("/api/login", creds("alice", "wrong password 1"))
	// login logs in, solving the captcha when one is asked for.
	login := func(c *testenv.Client, name, pw string) testenv.Response {
		r := c.PostJSON("/api/login", creds(name, pw))
		if r.Code() != "captcha_required" {
			return r
		}
		id := challenge(t, r)["captcha_id"].(string)
		return c.PostJSON("/api/login", fmt.Sprintf(`{"username":%q,"password":%q,"captcha_id":%q,"captcha_answer":%q}`, name, pw, id, testenv.SolveCaptcha(t, id)))
	}
	solve := func(c *testenv.Client, pw string) testenv.Response { return login(c, "alice", pw) }
	if r := solve(b, "wrong password 2"); r.Status != http.StatusUnauthorized {
		t.Fatalf("2nd failure on B = %d %s", r.Status, r.Body)
	}
	if r := solve(a, "wrong password 3"); r.Status != http.StatusUnauthorized {
		t.Fatalf("3rd failure on A = %d %s", r.Status, r.Body)
	}
	if r := b.PostJSON("/api/login", creds("alice", "right password")); r.Code() != "too_many_attempts" {
		t.Fatalf("B after 3 failures spread over A and B = %d %s, want too_many_attempts", r.Status, r.Body)
	}
	if s := readyStatus(t, b); s != "ok" {
		t.Fatalf("/readyz status = %q with Redis up, want ok", s)
	}

	// Redis goes away: each replica keeps limiting on its own, and says so. Its local store
	// starts from what the shared log said (issue 9): alice stays locked, no fresh budget.
	rd.Kill()
	waitReadyStatus(t, b, "degraded")
	for i := range 2 {
		if r := solve(b, fmt.Sprintf("offline guess %d", i)); r.Code() != "too_many_attempts" {
			t.Fatalf("guess %d on locked alice while Redis is down = %d %s, want too_many_attempts", i+1, r.Status, r.Body)
		}
	}
	for i := range 3 {
		if r := login(b, "dave", fmt.Sprintf("offline guess %d", i)); r.Status != http.StatusUnauthorized {
			t.Fatalf("failure %d on B while Redis is down = %d %s", i+1, r.Status, r.Body)
		}
	}
	if r := b.PostJSON("/api/login", creds("dave", "right password")); r.Code() != "too_many_attempts" {
		t.Fatalf("B's local fallback after 3 failures = %d %s, want too_many_attempts", r.Status, r.Body)
	}

	// Redis comes back: both replicas return to it by themselves and share counts again.
	rd.Restart()
	waitReadyStatus(t, b, "ok")
	waitReadyStatus(t, a, "ok")
	for i, c := range []*testenv.Client{a, b, a} {
		if r := login(c, "carol", fmt.Sprintf("carol guess %d", i)); r.Status != http.StatusUnauthorized {
			t.Fatalf("carol failure %d = %d %s", i+1, r.Status, r.Body)
		}
	}
	if r := b.PostJSON("/api/login", creds("carol", "carol guess 9")); r.Code() != "too_many_attempts" {
		t.Fatalf("B after carol's 3 failures on A, B, A = %d %s, want too_many_attempts", r.Status, r.Body)
	}
}

func TestDenyModeRefusesLoginsWhileRedisIsAway(t *testing.T) {
	rd := testenv.StartRedis(t)
	h := testenv.StartHello(t, map[string]string{"HELLO_REDIS_URL": rd.URL(), "HELLO_REDIS_FAILURE": "deny"})
	c := testenv.NewClient(t, h.URL)
	c.PostJSON("/api/signup", creds("alice", "right password"))
	if r := c.PostJSON("/api/login", creds("alice", "right password")); r.Status != 200 {
		t.Fatalf("login with Redis up = %d %s", r.Status, r.Body)
	}
	rd.Kill()
	waitReadyStatus(t, c, "degraded")
	r := c.PostJSON("/api/login", creds("alice", "right password"))
	if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
		t.Fatalf("login while Redis is away in deny mode = %d %s, want 503 with Retry-After", r.Status, r.Body)
	}
	if r := c.Get("/api/hello"); r.Status != 200 {
		t.Fatalf("other endpoints while Redis is away = %d, want 200", r.Status)
	}
	rd.Restart()
	waitReadyStatus(t, c, "ok")
	if r := c.PostJSON("/api/login", creds("alice", "right password")); r.Status != 200 {
		t.Fatalf("login after Redis returned = %d %s", r.Status, r.Body)
	}
}
