package httpapi_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"

	"github.com/hellosvc/hello/internal/testenv"
)

func TestSenderLimitOnEveryEndpoint(t *testing.T) {
	h := testenv.StartHello(t, map[string]string{"HELLO_SENDER_LIMIT": "5/1m"})
	c := testenv.NewClient(t, h.URL)
	for i := range 5 {
		// A client from an untrusted peer cannot pick its own address.
		r := c.Get("/api/hello", "X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i))
		if r.Status != 200 {
			t.Fatalf("request %d = %d", i+1, r.Status)
		}
		if got := r.Header.Get("RateLimit-Remaining"); got != strconv.Itoa(4-i) {
			t.Errorf("request %d RateLimit-Remaining = %q, want %d", i+1, got, 4-i)
		}
		if r.Header.Get("RateLimit-Limit") != "5" || r.Header.Get("RateLimit-Reset") == "" {
			t.Errorf("request %d RateLimit headers = %v", i+1, r.Header)
		}
	}
	r := c.Get("/api/hello", "X-Forwarded-For", "198.51.100.99")
	if r.Status != http.StatusTooManyRequests || r.Code() != "rate_limited" {
		t.Fatalf("6th request = %d %s, want 429 rate_limited", r.Status, r.Body)
	}
	if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 12 {
		t.Fatalf("Retry-After = %q, want whole seconds until the next token (12 s at 5/min)", r.Header.Get("Retry-After"))
	}
	if r := c.Get("/login"); r.Status != http.StatusTooManyRequests || !bytes.Contains(r.Body, []byte("too many requests")) {
		t.Fatalf("HTML page over the limit = %d, want a 429 page", r.Status)
	}
}

func TestForwardedForIsHonouredOnlyFromTrustedProxies(t *testing.T) {
	h := testenv.StartHello(t, map[string]string{"HELLO_SENDER_LIMIT": "2/1m", "HELLO_TRUSTED_PROXIES": "127.0.0.1/32"})
	c := testenv.NewClient(t, h.URL)
	for i := range 2 {
		if r := c.Get("/api/hello", "X-Forwarded-For", "203.0.113.1"); r.Status != 200 {
			t.Fatalf("request %d = %d", i, r.Status)
		}
	}
	if r := c.Get("/api/hello", "X-Forwarded-For", "203.0.113.1"); r.Status != http.StatusTooManyRequests {
		t.Fatalf("3rd request from 203.0.113.1 = %d, want 429", r.Status)
	}
	if r := c.Get("/api/hello", "X-Forwarded-For", "203.0.113.2"); r.Status != 200 {
		t.Fatalf("another client behind the proxy = %d, want 200", r.Status)
	}
	// A forged left part does not help: the proxy appended the real address on the right.
	if r := c.Get("/api/hello", "X-Forwarded-For", "10.9.9.9, 203.0.113.1"); r.Status != http.StatusTooManyRequests {
		t.Fatalf("forged X-Forwarded-For = %d, want 429", r.Status)
	}
}

func TestAuthEndpointsHaveAStricterSenderLimit(t *testing.T) {
	h := testenv.StartHello(t, map[string]string{"HELLO_AUTH_SENDER_LIMIT": "3/1m"})
	c := testenv.NewClient(t, h.URL)
	c.PostJSON("/api/login", creds("nobody", "wrong password"))
	c.PostForm("/login", "username=nobody&password=wrong+password")
	c.PostJSON("/api/signup", creds("someone", "correct horse"))
	if r := c.PostForm("/signup", "username=other&password=correct+horse"); r.Status != http.StatusTooManyRequests {
		t.Fatalf("4th auth submission = %d, want 429", r.Status)
	}
	if r := c.Get("/api/hello"); r.Status != 200 {
		t.Fatalf("a plain request after the auth limit = %d, want 200", r.Status)
	}
}

func TestFailedLoginsLockTheNameOnEveryPath(t *testing.T) {
	h := testenv.StartHello(t, map[string]string{"HELLO_LOGIN_MAX_FAILURES": "3", "HELLO_DEVICE_COOKIES": "off"})
	c := testenv.NewClient(t, h.URL)
	c.PostJSON("/api/signup", creds("alice", "right password"))
	c.PostJSON("/api/signup", creds("bobby", "right password"))

	// API path: 3 distinct failures, then even the right password is refused.
	for i := range 3 {
		if r := c.PostJSON("/api/login", creds("alice", fmt.Sprintf("wrong password %d", i))); r.Status != 401 {
			t.Fatalf("failure %d = %d", i+1, r.Status)
		}
	}
	r := c.PostJSON("/api/login", creds("alice", "right password"))
	if r.Status != http.StatusTooManyRequests || r.Code() != "too_many_attempts" {
		t.Fatalf("locked API login = %d %s, want 429 too_many_attempts", r.Status, r.Body)
	}
	if ra, _ := strconv.Atoi(r.Header.Get("Retry-After")); ra < 3590 || ra > 3600 {
		t.Fatalf("Retry-After = %q, want about an hour", r.Header.Get("Retry-After"))
	}
	// The form is the same gate: alice is locked there too.
	if r := c.PostForm("/login", form("alice", "right password")); r.Status != http.StatusTooManyRequests {
		t.Fatalf("locked form login = %d, want 429", r.Status)
	}
	// Form path alone: bobby gets 3 tries through the form.
	for i := range 3 {
		if r := c.PostForm("/login", form("bobby", fmt.Sprintf("wrong password %d", i))); r.Status != 401 {
			t.Fatalf("form failure %d = %d", i+1, r.Status)
		}
	}
	r = c.PostForm("/login", form("bobby", "right password"))
	if r.Status != http.StatusTooManyRequests || !bytes.Contains(r.Body, []byte("too many failed logins")) {
		t.Fatalf("locked form login = %d %s", r.Status, r.Body)
	}
	if r := c.PostJSON("/api/login", creds("bobby", "right password")); r.Status != http.StatusTooManyRequests {
		t.Fatalf("bobby via the API after form failures = %d, want 429", r.Status)
	}
	m := testenv.NewClient(t, h.AdminURL).Get("/metrics")
	for _, want := range []string{`hello_guard_lockouts_total 2`, `hello_logins_total{outcome="too_many_attempts"} 4`} {
		if !bytes.Contains(m.Body, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if n := countLogs(h, "login locked"); n != 2 {
		t.Errorf("%d lockout log events, want one per lockout (2)", n)
	}
}

func countLogs(h *testenv.Hello, msg string) int {
	n := 0
	for _, r := range h.Logs.Records() {
		if r["msg"] == msg {
			n++
		}
	}
	return n
}

func form(u, p string) string { return url.Values{"username": {u}, "password": {p}}.Encode() }

func TestParallelLoginsCannotSlipPastTheLimit(t *testing.T) {
	h := testenv.StartHello(t, map[string]string{"HELLO_LOGIN_MAX_FAILURES": "3"})
	c := testenv.NewClient(t, h.URL)
	c.PostJSON("/api/signup", creds("alice", "right password"))
	const n = 24
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := testenv.NewClient(t, h.URL)
			if i%2 == 0 {
				statuses <- cl.PostJSON("/api/login", creds("alice", fmt.Sprintf("parallel guess %d", i))).Status
			} else {
				statuses <- cl.PostForm("/login", form("alice", fmt.Sprintf("parallel guess %d", i))).Status
			}
		}()
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	if count[401] != 3 || count[429] != n-3 {
		t.Fatalf("statuses = %v, want exactly 3× 401 and %d× 429", count, n-3)
	}
}

func TestDeviceCookieKeepsTheOwnerIn(t *testing.T) {
	h := testenv.StartHello(t, map[string]string{"HELLO_LOGIN_MAX_FAILURES": "3", "HELLO_DEVICE_COOKIES": "on"})
	owner := testenv.NewClient(t, h.URL)
	owner.PostJSON("/api/signup", creds("alice", "right password"))
	r := owner.PostJSON("/api/login", creds("alice", "right password"))
	if r.Status != 200 || !bytes.Contains([]byte(fmt.Sprint(r.Header.Values("Set-Cookie"))), []byte("hello_device=")) {
		t.Fatalf("login = %d, Set-Cookie %v: want a device cookie", r.Status, r.Header.Values("Set-Cookie"))
	}
	attacker := testenv.NewClient(t, h.URL)
	for i := range 4 {
		attacker.PostJSON("/api/login", creds("alice", fmt.Sprintf("attacker guess %d", i)))
	}
	if r := attacker.PostJSON("/api/login", creds("alice", "right password")); r.Status != http.StatusTooManyRequests {
		t.Fatalf("name should be locked for cookieless clients: %d", r.Status)
	}
	if r := owner.PostJSON("/api/login", creds("alice", "right password")); r.Status != 200 {
		t.Fatalf("the owner's browser, with its device cookie = %d %s, want 200", r.Status, r.Body)
	}
}

func TestCaptchaOverHTTP(t *testing.T) {
	h := testenv.StartHello(t, map[string]string{"HELLO_CAPTCHA": "on"})
	c := testenv.NewClient(t, h.URL)

	r := c.PostJSON("/api/signup", creds("alice", "right password"))
	if r.Status != http.StatusForbidden || r.Code() != "captcha_required" {
		t.Fatalf("signup without captcha = %d %s, want 403 captcha_required", r.Status, r.Body)
	}
	ch := challenge(t, r)
	img := c.Get(ch["image_url"].(string))
	if img.Status != 200 || img.Header.Get("Content-Type") != "image/png" || !bytes.HasPrefix(img.Body, []byte("\x89PNG")) {
		t.Fatalf("captcha image = %d %s", img.Status, img.Header.Get("Content-Type"))
	}
	wav := c.Get(ch["audio_url"].(string))
	if wav.Status != 200 || wav.Header.Get("Content-Type") != "audio/wav" || !bytes.HasPrefix(wav.Body, []byte("RIFF")) {
		t.Fatalf("captcha audio = %d %s", wav.Status, wav.Header.Get("Content-Type"))
	}
	if r := c.Get("/captcha/forged.png"); r.Status != 404 {
		t.Fatalf("forged captcha image = %d, want 404", r.Status)
	}

	id := ch["captcha_id"].(string)
	answer := testenv.SolveCaptcha(t, id)
	wrong := "000000"
	if answer == wrong {
		wrong = "999999"
	}
	r = c.PostJSON("/api/signup", fmt.Sprintf(`{"username":"alice","password":"right password","captcha_id":%q,"captcha_answer":%q}`, id, wrong))
	if r.Status != http.StatusForbidden || r.Code() != "captcha_invalid" {
		t.Fatalf("wrong answer = %d %s, want 403 captcha_invalid", r.Status, r.Body)
	}
	if next := challenge(t, r); next["captcha_id"] == id {
		t.Fatal("captcha_invalid did not carry a new challenge")
	}

	fresh := c.PostJSON("/api/captcha", "")
	if fresh.Status != http.StatusCreated {
		t.Fatalf("POST /api/captcha = %d %s", fresh.Status, fresh.Body)
	}
	fc := fresh.JSON(t)
	for _, k := range []string{"captcha_id", "image_url", "audio_url", "expires_at"} {
		if fc[k] == nil || fc[k] == "" {
			t.Fatalf("POST /api/captcha body %s lacks %s", fresh.Body, k)
		}
	}
	id = fc["captcha_id"].(string)
	body := fmt.Sprintf(`{"username":"alice","password":"right password","captcha_id":%q,"captcha_answer":%q}`, id, testenv.SolveCaptcha(t, id))
	if r := c.PostJSON("/api/signup", body); r.Status != http.StatusCreated {
		t.Fatalf("signup with a solved captcha = %d %s", r.Status, r.Body)
	}
	replay := fmt.Sprintf(`{"username":"alice2","password":"right password","captcha_id":%q,"captcha_answer":%q}`, id, testenv.SolveCaptcha(t, id))
	if r := c.PostJSON("/api/signup", replay); r.Code() != "captcha_invalid" {
		t.Fatalf("a solved captcha replayed = %d %s, want captcha_invalid", r.Status, r.Body)
	}
	// A clean login needs no captcha; after a failure it does.
	if r := c.PostJSON("/api/login", creds("alice", "right password")); r.Status != 200 {
		t.Fatalf("clean login = %d %s", r.Status, r.Body)
	}
	c.PostJSON("/api/login", creds("alice", "wrong password"))
	if r := c.PostJSON("/api/login", creds("alice", "right password")); r.Code() != "captcha_required" {
		t.Fatalf("login after a failure = %d %s, want captcha_required", r.Status, r.Body)
	}
}

func challenge(t *testing.T, r testenv.Response) map[string]any {
	t.Helper()
	ch, ok := r.JSON(t)["captcha"].(map[string]any)
	if !ok {
		t.Fatalf("no captcha challenge in %s", r.Body)
	}
	for _, k := range []string{"captcha_id", "image_url", "audio_url", "expires_at"} {
		if s, _ := ch[k].(string); s == "" {
			t.Fatalf("challenge %v lacks %s", ch, k)
		}
	}
	return ch
}

func TestThirdPartyCaptchaProvider(t *testing.T) {
	var mu sync.Mutex
	var seen []url.Values
	siteverify := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		mu.Lock()
		seen = append(seen, r.PostForm)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"success":%v}`, r.PostForm.Get("response") == "good-token" && r.PostForm.Get("secret") == "provider-secret")
	}))
	defer siteverify.Close()
	h := testenv.StartHello(t, map[string]string{
		"HELLO_CAPTCHA": "on", "HELLO_CAPTCHA_PROVIDER": "turnstile", "HELLO_CAPTCHA_SITE_KEY": "site-key-1",
		"HELLO_CAPTCHA_SECRET_KEY": "provider-secret", "HELLO_CAPTCHA_VERIFY_URL": siteverify.URL,
	})
	c := testenv.NewClient(t, h.URL)
	r := c.PostJSON("/api/signup", creds("alice", "right password"))
	if r.Code() != "captcha_required" || !bytes.Contains(r.Body, []byte(`"provider":"turnstile"`)) || !bytes.Contains(r.Body, []byte(`"site_key":"site-key-1"`)) {
		t.Fatalf("signup without token = %d %s", r.Status, r.Body)
	}
	if r := c.PostJSON("/api/signup", `{"username":"alice","password":"right password","captcha_token":"bad-token"}`); r.Code() != "captcha_invalid" {
		t.Fatalf("bad token = %d %s, want captcha_invalid", r.Status, r.Body)
	}
	if r := c.PostJSON("/api/signup", `{"username":"alice","password":"right password","captcha_token":"good-token"}`); r.Status != http.StatusCreated {
		t.Fatalf("good token = %d %s, want 201", r.Status, r.Body)
	}
	if r := c.PostForm("/signup", "username=bobby&password=right+password&cf-turnstile-response=good-token"); r.Status != http.StatusSeeOther {
		t.Fatalf("form with the widget's token = %d %s", r.Status, r.Body)
	}
	if p := c.Get("/signup"); !bytes.Contains(p.Body, []byte(`class="cf-turnstile" data-sitekey="site-key-1"`)) {
		t.Fatalf("signup form lacks the Turnstile widget:\n%s", p.Body)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 || seen[0].Get("remoteip") != "127.0.0.1" {
		t.Fatalf("siteverify calls = %v, want 3 with remoteip", seen)
	}
	siteverify.Close()
	if r := c.PostJSON("/api/signup", `{"username":"carol","password":"right password","captcha_token":"good-token"}`); r.Status != http.StatusServiceUnavailable || r.Code() != "captcha_unavailable" {
		t.Fatalf("provider down = %d %s, want 503 captcha_unavailable", r.Status, r.Body)
	}
}
