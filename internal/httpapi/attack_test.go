package httpapi_test

// Regression tests for the holes an attacker found by reading the code (issue 9). Each one
// failed before its fix.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hellosvc/hello/internal/testenv"
)

// signupBody is a signup with a captcha answer, marshalled so ids may hold any byte.
func signupBody(user, pass, id, answer string) string {
	b, _ := json.Marshal(map[string]string{"username": user, "password": pass, "captcha_id": id, "captcha_answer": answer})
	return string(b)
}

// respellings are other texts of one base64url id that a lenient decoder reads as the same bytes.
func respellings(id string) []string {
	var out []string
	for _, i := range []int{0, 1, 7, 20, 33, len(id) / 2, len(id) - 1, len(id)} {
		out = append(out, id[:i]+"\n"+id[i:])
	}
	return append(out, id+"\r\n", id+"=")
}

func TestASolvedCaptchaCannotBeRespelledAndReplayed(t *testing.T) {
	h := testenv.StartHello(t, map[string]string{"HELLO_CAPTCHA": "on"})
	c := testenv.NewClient(t, h.URL)
	id := c.PostJSON("/api/captcha", "").JSON(t)["captcha_id"].(string)
	answer := testenv.SolveCaptcha(t, id)
	if r := c.PostJSON("/api/signup", signupBody("alice", "right password", id, answer)); r.Status != http.StatusCreated {
		t.Fatalf("signup with a solved captcha = %d %s", r.Status, r.Body)
	}
	for i, v := range respellings(id) {
		name := fmt.Sprintf("api%d", i)
		if r := c.PostJSON("/api/signup", signupBody(name, "right password", v, answer)); r.Code() != "captcha_invalid" {
			t.Errorf("API signup with respelled id %q = %d %s, want captcha_invalid", v, r.Status, r.Body)
		}
		f := url.Values{"username": {"form" + name}, "password": {"right password"}, "captcha_id": {v}, "captcha_answer": {answer}}
		if r := c.PostForm("/signup", f.Encode()); r.Status != http.StatusForbidden {
			t.Errorf("form signup with respelled id %q = %d, want 403", v, r.Status)
		}
	}
	// An id of any other length is refused before any store is asked: no key is built from it.
	huge := id + strings.Repeat("A", 500_000)
	if r := c.PostJSON("/api/signup", signupBody("huge", "right password", huge, answer)); r.Code() != "captcha_invalid" {
		t.Errorf("a 500 kB captcha id = %d %.200s, want captcha_invalid", r.Status, r.Body)
	}
}

func TestTokensAndCookiesHaveOneSpelling(t *testing.T) {
	h := testenv.StartHello(t, nil)
	c := testenv.NewClient(t, h.URL)
	c.PostJSON("/api/signup", creds("alice", "right password"))
	r := c.PostJSON("/api/login", creds("alice", "right password"))
	tok := r.JSON(t)["token"].(string)
	if r := c.Get("/api/me", "Authorization", "Bearer "+tok); r.Status != 200 {
		t.Fatalf("GET /api/me with the token = %d", r.Status)
	}
	// The same bytes spelled otherwise: padding, or the unused low bits of the last character.
	for _, v := range []string{tok + "=", otherBits(tok)} {
		if r := c.Get("/api/me", "Authorization", "Bearer "+v); r.Status != http.StatusUnauthorized {
			t.Errorf("GET /api/me with the token respelled as %q = %d, want 401", v, r.Status)
		}
	}
}

// otherBits sets an unused low bit of the last character of a base64url text whose byte count
// leaves bits over (a 32-byte secret: 43 characters for 256 bits).
func otherBits(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	v := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[v^1])
}

// Issue 9 (2): behind a proxy that appends X-Forwarded-For (the ALB, ingress-nginx), a client's
// own Forwarded header used to pick its address and void every per-sender limit.
func TestClientCannotPickItsAddressWithAnotherHeader(t *testing.T) {
	h := testenv.StartHello(t, map[string]string{"HELLO_TRUSTED_PROXIES": "127.0.0.1/32", "HELLO_AUTH_SENDER_LIMIT": "5/1m"})
	c := testenv.NewClient(t, h.URL)
	evaluated := 0
	for i := range 30 {
		r := c.PostJSON("/api/login", creds("alice", fmt.Sprintf("guess number %d", i)),
			"X-Forwarded-For", "203.0.113.1", // what the proxy appended
			"Forwarded", fmt.Sprintf("for=198.51.100.%d", i), // what the client sent
			"X-Real-IP", fmt.Sprintf("192.0.2.%d", i))
		if r.Status == http.StatusUnauthorized {
			evaluated++
		} else if r.Code() != "rate_limited" {
			t.Fatalf("guess %d = %d %s", i, r.Status, r.Body)
		}
	}
	if evaluated != 5 {
		t.Fatalf("%d of 30 guesses evaluated, want 5 (the sender's limit)", evaluated)
	}
}

// Issue 9 (6): cookies are Secure in production whatever the transport (TLS ends in front of
// the service there), and HTTPS responses carry HSTS.
func TestCookiesAreSecureInProductionAndHTTPSHasHSTS(t *testing.T) {
	h := testenv.StartHello(t, map[string]string{"HELLO_ENV": "production", "HELLO_TRUSTED_PROXIES": "127.0.0.1/32"})
	c := testenv.NewClient(t, h.URL)
	c.PostJSON("/api/signup", creds("alice", "right password"))
	r := c.PostJSON("/api/login", creds("alice", "right password"))
	cookies := r.Header.Values("Set-Cookie")
	if len(cookies) != 2 {
		t.Fatalf("Set-Cookie = %q, want the session and device cookies", cookies)
	}
	for _, ck := range cookies {
		if !strings.Contains(ck, "; Secure") {
			t.Errorf("cookie %q is not Secure in production", ck)
		}
	}
	if r.Header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS on a plain-HTTP response")
	}
	r = c.Get("/api/hello", "X-Forwarded-Proto", "https")
	if hsts := r.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(hsts, "max-age=") {
		t.Errorf("HTTPS response Strict-Transport-Security = %q", hsts)
	}
}

// Issue 9 (6): a device is trusted only while its account lists it; forgetting it (or all of
// them) ends the trust of a cookie that still has a valid signature.
func TestForgottenDevicesAreNoLongerTrusted(t *testing.T) {
	h := testenv.StartHello(t, map[string]string{"HELLO_LOGIN_MAX_FAILURES": "3"})
	owner := testenv.NewClient(t, h.URL)
	owner.PostJSON("/api/signup", creds("alice", "right password"))
	laptop := owner.PostJSON("/api/login", creds("alice", "right password"))
	token := laptop.JSON(t)["token"].(string)
	var device string
	for _, ck := range laptop.Header.Values("Set-Cookie") {
		if v, ok := strings.CutPrefix(ck, "hello_device="); ok {
			device, _, _ = strings.Cut(v, ";")
		}
	}
	if device == "" {
		t.Fatal("no device cookie")
	}
	attacker := testenv.NewClient(t, h.URL)
	for i := range 3 {
		attacker.PostJSON("/api/login", creds("alice", fmt.Sprintf("attacker guess %d", i)))
	}
	withDevice := func() testenv.Response {
		return testenv.NewClient(t, h.URL).PostJSON("/api/login", creds("alice", "right password"), "Cookie", "hello_device="+device)
	}
	if r := withDevice(); r.Status != http.StatusOK {
		t.Fatalf("the trusted device while the name is locked = %d %s, want 200", r.Status, r.Body)
	}
	if r := testenv.NewClient(t, h.URL).PostJSON("/api/devices/forget", `{"all":true}`); r.Status != http.StatusUnauthorized {
		t.Fatalf("forget without a session = %d, want 401", r.Status)
	}
	r := owner.PostJSON("/api/devices/forget", `{"all":true}`, "Authorization", "Bearer "+token)
	if r.Status != http.StatusNoContent || !strings.Contains(r.Header.Get("Set-Cookie"), "hello_device=;") {
		t.Fatalf("forget all = %d %v, want 204 clearing the cookie", r.Status, r.Header.Values("Set-Cookie"))
	}
	if r := withDevice(); r.Status != http.StatusTooManyRequests {
		t.Fatalf("a forgotten device while the name is locked = %d %s, want 429", r.Status, r.Body)
	}
}
