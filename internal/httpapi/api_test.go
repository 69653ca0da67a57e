package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hellosvc/hello/internal/testenv"
)

func creds(user, pass string) string {
	b, _ := json.Marshal(map[string]string{"username": user, "password": pass})
	return string(b)
}

func TestAccountLifecycle(t *testing.T) {
	h := testenv.StartHello(t, nil)
	c := testenv.NewClient(t, h.URL)

	if r := c.Get("/api/hello"); r.Status != 200 || r.JSON(t)["message"] != "Hello, World!" {
		t.Fatalf("GET /api/hello = %d %s", r.Status, r.Body)
	}
	r := c.PostJSON("/api/signup", creds("Alice", "correct horse battery"))
	if r.Status != http.StatusCreated || r.JSON(t)["username"] != "alice" {
		t.Fatalf("signup = %d %s, want 201 with the normalised name", r.Status, r.Body)
	}
	r = c.PostJSON("/api/login", creds("ALICE", "correct horse battery"))
	if r.Status != http.StatusOK {
		t.Fatalf("login = %d %s", r.Status, r.Body)
	}
	body := r.JSON(t)
	token, _ := body["token"].(string)
	if token == "" || body["expires_at"] == nil {
		t.Fatalf("login body = %s, want token and expires_at", r.Body)
	}
	cookie := r.Header.Get("Set-Cookie")
	for _, attr := range []string{"hello_session=", "HttpOnly", "SameSite=Lax"} {
		if !strings.Contains(cookie, attr) {
			t.Errorf("Set-Cookie %q lacks %s", cookie, attr)
		}
	}
	if strings.Contains(cookie, "Secure") {
		t.Errorf("Set-Cookie %q is Secure over plain HTTP from an untrusted peer", cookie)
	}

	bearer := testenv.NewClient(t, h.URL) // no cookies: the token alone
	if r := bearer.Get("/api/me", "Authorization", "Bearer "+token); r.Status != 200 || r.JSON(t)["username"] != "alice" {
		t.Fatalf("me with bearer = %d %s", r.Status, r.Body)
	}
	if r := c.Get("/api/me"); r.Status != 200 || r.JSON(t)["username"] != "alice" {
		t.Fatalf("me with cookie = %d %s", r.Status, r.Body)
	}
	if r := bearer.PostJSON("/api/logout", "", "Authorization", "Bearer "+token); r.Status != http.StatusNoContent {
		t.Fatalf("logout = %d %s", r.Status, r.Body)
	}
	for name, cl := range map[string]*testenv.Client{"bearer": bearer, "cookie": c} {
		r := cl.Get("/api/me", "Authorization", "Bearer "+token)
		if name == "cookie" {
			r = cl.Get("/api/me")
		}
		if r.Status != http.StatusUnauthorized || r.Code() != "unauthenticated" {
			t.Errorf("me (%s) after logout = %d %s, want 401 unauthenticated", name, r.Status, r.Body)
		}
	}
	if r := bearer.PostJSON("/api/logout", "", "Authorization", "Bearer "+token); r.Status != http.StatusUnauthorized || r.Code() != "unauthenticated" {
		t.Fatalf("second logout = %d %s, want 401 unauthenticated", r.Status, r.Body)
	}

	// Secrets never reach the log.
	for _, secret := range []string{"correct horse battery", token, strings.SplitN(token, ".", 2)[1]} {
		if h.Logs.Contains(secret) {
			t.Errorf("the log contains a secret %q", secret)
		}
	}
}

func TestDuplicateNamesCollide(t *testing.T) {
	h := testenv.StartHello(t, nil)
	c := testenv.NewClient(t, h.URL)
	if r := c.PostJSON("/api/signup", creds("Alice", "correct horse")); r.Status != http.StatusCreated {
		t.Fatalf("first signup = %d %s", r.Status, r.Body)
	}
	for _, name := range []string{"Alice", "alice", "ALICE", "ＡＬＩＣＥ"} {
		r := c.PostJSON("/api/signup", creds(name, "another password"))
		if r.Status != http.StatusConflict || r.Code() != "username_taken" {
			t.Errorf("signup %q = %d %s, want 409 username_taken", name, r.Status, r.Body)
		}
	}
}

func TestBadInput(t *testing.T) {
	h := testenv.StartHello(t, nil)
	c := testenv.NewClient(t, h.URL)
	huge := `{"username":"bigbody","password":"` + strings.Repeat("x", 1<<20) + `"}`
	tests := []struct {
		name, path, contentType, body string
		status                        int
		code                          string
	}{
		{"empty body", "/api/signup", "application/json", "", 400, "invalid_request"},
		{"oversize body", "/api/signup", "application/json", huge, 413, "request_too_large"},
		{"malformed JSON", "/api/signup", "application/json", `{"username":`, 400, "invalid_request"},
		{"not an object", "/api/signup", "application/json", `["alice","pw"]`, 400, "invalid_request"},
		{"null", "/api/signup", "application/json", `null`, 400, "invalid_request"},
		{"two objects", "/api/signup", "application/json", `{}{}`, 400, "invalid_request"},
		{"wrong type", "/api/signup", "application/json", `{"username":42,"password":"correct horse"}`, 400, "invalid_request"},
		{"unknown field", "/api/signup", "application/json", `{"username":"zed","password":"correct horse","admin":true}`, 400, "invalid_request"},
		// Issue 9: one body, one meaning: exact field names, each once.
		{"field name in capitals", "/api/signup", "application/json", `{"USERNAME":"zed","password":"correct horse"}`, 400, "invalid_request"},
		{"field name in mixed case", "/api/login", "application/json", `{"username":"zed","Password":"correct horse"}`, 400, "invalid_request"},
		{"duplicate field", "/api/signup", "application/json", `{"username":"zed","password":"correct horse","username":"adm"}`, 400, "invalid_request"},
		{"null login", "/api/login", "application/json", `null`, 400, "invalid_request"},
		{"invalid UTF-8", "/api/signup", "application/json", "{\"username\":\"zed\",\"password\":\"correct\xff horse\"}", 400, "invalid_request"},
		{"text content type", "/api/signup", "text/plain", creds("zed", "correct horse"), 415, "unsupported_media_type"},
		{"no content type", "/api/signup", "", creds("zed", "correct horse"), 415, "unsupported_media_type"},
		{"form to the API", "/api/login", "application/x-www-form-urlencoded", "username=zed&password=correct+horse", 415, "unsupported_media_type"},
		{"name too short", "/api/signup", "application/json", creds("ab", "correct horse"), 400, "invalid_request"},
		{"name too long", "/api/signup", "application/json", creds(strings.Repeat("a", 65), "correct horse"), 400, "invalid_request"},
		{"name with space", "/api/signup", "application/json", creds("bob smith", "correct horse"), 400, "invalid_request"},
		{"SQL-looking name", "/api/signup", "application/json", creds("bob'; DROP TABLE accounts;--", "correct horse"), 400, "invalid_request"},
		{"password too short", "/api/signup", "application/json", creds("zed", "1234567"), 400, "invalid_request"},
		{"password too long", "/api/signup", "application/json", creds("zed", strings.Repeat("x", 257)), 400, "invalid_request"},
		{"missing password", "/api/signup", "application/json", `{"username":"zed"}`, 400, "invalid_request"},
		{"login malformed", "/api/login", "application/json", `{"username":"zed","password":}`, 400, "invalid_request"},
		{"longest name", "/api/signup", "application/json", creds(strings.Repeat("n", 64), "correct horse"), 201, ""},
		{"longest password", "/api/signup", "application/json", creds("longpass", strings.Repeat("é", 256)), 201, ""},
		{"SQL-looking password", "/api/signup", "application/json", creds("sqlpass", "' OR '1'='1"), 201, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.Do(http.MethodPost, tt.path, tt.contentType, tt.body)
			if r.Status != tt.status || r.Code() != tt.code {
				t.Fatalf("= %d %s, want %d %q", r.Status, r.Body, tt.status, tt.code)
			}
			if tt.code != "" {
				m := r.JSON(t)
				if msg, _ := m["message"].(string); msg == "" {
					t.Errorf("error body %s has no message", r.Body)
				}
				if ct := r.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type = %q, want application/json", ct)
				}
			}
		})
	}
	// The SQL-looking password was stored as a password, not run as SQL.
	if r := c.PostJSON("/api/login", creds("sqlpass", "' OR '1'='1")); r.Status != 200 {
		t.Fatalf("login with the SQL-looking password = %d %s", r.Status, r.Body)
	}
	if r := c.PostJSON("/api/login", creds("sqlpass", "' OR '1'='2")); r.Status != 401 {
		t.Fatalf("login with a wrong SQL-looking password = %d %s, want 401", r.Status, r.Body)
	}
}

func TestLoginDoesNotRevealWhetherTheUserExists(t *testing.T) {
	h := testenv.StartHello(t, nil)
	c := testenv.NewClient(t, h.URL)
	if r := c.PostJSON("/api/signup", creds("alice", "correct horse")); r.Status != http.StatusCreated {
		t.Fatal(r.Status)
	}
	wrong := c.PostJSON("/api/login", creds("alice", "wrong password"))
	unknown := c.PostJSON("/api/login", creds("nobody", "wrong password"))
	if wrong.Status != http.StatusUnauthorized || wrong.Code() != "invalid_credentials" {
		t.Fatalf("wrong password = %d %s, want 401 invalid_credentials", wrong.Status, wrong.Body)
	}
	if unknown.Status != wrong.Status || !bytes.Equal(unknown.Body, wrong.Body) {
		t.Fatalf("unknown user and wrong password differ:\n%d %s\n%d %s", unknown.Status, unknown.Body, wrong.Status, wrong.Body)
	}
	for _, k := range []string{"Content-Type", "Content-Length", "Set-Cookie", "Retry-After"} {
		if unknown.Header.Get(k) != wrong.Header.Get(k) {
			t.Errorf("header %s differs: %q vs %q", k, unknown.Header.Get(k), wrong.Header.Get(k))
		}
	}
}

func TestUnknownRoutesAndMethods(t *testing.T) {
	h := testenv.StartHello(t, nil)
	c := testenv.NewClient(t, h.URL)
	tests := []struct {
		method, path string
		status       int
		code         string // JSON error code, or "" for an HTML page
		allow        string
	}{
		{"GET", "/api/nope", 404, "not_found", ""},
		{"GET", "/nope", 404, "", ""},
		{"DELETE", "/api/signup", 405, "method_not_allowed", "POST"},
		{"GET", "/api/login", 405, "method_not_allowed", "POST"},
		{"POST", "/api/hello", 405, "method_not_allowed", "GET, HEAD"},
		{"PUT", "/login", 405, "", "GET, HEAD, POST"},
	}
	for _, tt := range tests {
		r := c.Do(tt.method, tt.path, "", "")
		if r.Status != tt.status {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, r.Status, tt.status)
		}
		ct := r.Header.Get("Content-Type")
		if tt.code != "" && (r.Code() != tt.code || ct != "application/json") {
			t.Errorf("%s %s = %s %s, want JSON %s", tt.method, tt.path, ct, r.Body, tt.code)
		}
		if tt.code == "" && !strings.HasPrefix(ct, "text/html") {
			t.Errorf("%s %s Content-Type = %s, want an HTML page", tt.method, tt.path, ct)
		}
		if tt.allow != "" && r.Header.Get("Allow") != tt.allow {
			t.Errorf("%s %s Allow = %q, want %q", tt.method, tt.path, r.Header.Get("Allow"), tt.allow)
		}
	}
}

func TestHTMLForms(t *testing.T) {
	h := testenv.StartHello(t, nil)
	c := testenv.NewClient(t, h.URL)
	if r := c.Get("/"); r.Status != 200 || !bytes.Contains(r.Body, []byte("Hello, World!")) || !bytes.Contains(r.Body, []byte(`href="/signup"`)) {
		t.Fatalf("GET / = %d %s", r.Status, r.Body)
	}
	for _, p := range []string{"/signup", "/login"} {
		if r := c.Get(p); r.Status != 200 || !bytes.Contains(r.Body, []byte(`<form method="post" action="`+p+`"`)) {
			t.Fatalf("GET %s = %d %s", p, r.Status, r.Body)
		}
	}
	form := func(u, p string) string { return url.Values{"username": {u}, "password": {p}}.Encode() }

	r := c.PostForm("/signup", form("x", "correct horse"))
	if r.Status != 400 || !bytes.Contains(r.Body, []byte("username must be 3 to 64 characters")) {
		t.Fatalf("bad signup form = %d %s, want 400 with the error on the form", r.Status, r.Body)
	}
	r = c.PostForm("/signup", form("Dora", "correct horse"))
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/login?signed_up=1" {
		t.Fatalf("signup form = %d %v", r.Status, r.Header)
	}
	r = c.PostForm("/signup", form("dora", "correct horse"))
	if r.Status != http.StatusConflict || !bytes.Contains(r.Body, []byte("this username is taken")) {
		t.Fatalf("duplicate signup form = %d %s", r.Status, r.Body)
	}
	r = c.PostForm("/login", form("dora", "wrong horse"))
	if r.Status != http.StatusUnauthorized || !bytes.Contains(r.Body, []byte("invalid username or password")) || !bytes.Contains(r.Body, []byte(`value="dora"`)) {
		t.Fatalf("wrong login form = %d %s, want 401 with the error and the name kept", r.Status, r.Body)
	}
	r = c.PostForm("/login", form("Dora", "correct horse"))
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/" {
		t.Fatalf("login form = %d %v", r.Status, r.Header)
	}
	if r := c.Get("/"); !bytes.Contains(r.Body, []byte(`<strong id="username">dora</strong>`)) {
		t.Fatalf("home page after login does not show the name:\n%s", r.Body)
	}
	if r := c.PostForm("/logout", ""); r.Status != http.StatusSeeOther {
		t.Fatalf("logout form = %d", r.Status)
	}
	if r := c.Get("/"); bytes.Contains(r.Body, []byte(`id="username"`)) {
		t.Fatalf("home page after logout still shows a user:\n%s", r.Body)
	}
}

func TestCrossSiteFormPostIsRefused(t *testing.T) {
	h := testenv.StartHello(t, nil)
	c := testenv.NewClient(t, h.URL)
	r := c.PostForm("/login", "username=alice&password=correct+horse", "Sec-Fetch-Site", "cross-site")
	if r.Status != http.StatusForbidden {
		t.Fatalf("cross-site login post = %d, want 403", r.Status)
	}
	r = c.PostJSON("/api/signup", creds("alice", "correct horse"), "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	if r.Status != http.StatusForbidden || r.Code() != "forbidden" {
		t.Fatalf("cross-site API post = %d %s, want 403 forbidden", r.Status, r.Body)
	}
}

func TestSecureCookieBehindTrustedProxy(t *testing.T) {
	h := testenv.StartHello(t, map[string]string{"HELLO_TRUSTED_PROXIES": "127.0.0.0/8"})
	c := testenv.NewClient(t, h.URL)
	if r := c.PostJSON("/api/signup", creds("alice", "correct horse")); r.Status != http.StatusCreated {
		t.Fatal(r.Status)
	}
	r := c.PostJSON("/api/login", creds("alice", "correct horse"), "X-Forwarded-Proto", "https", "X-Forwarded-For", "203.0.113.9")
	if !strings.Contains(r.Header.Get("Set-Cookie"), "Secure") {
		t.Fatalf("Set-Cookie %q is not Secure behind a trusted TLS proxy", r.Header.Get("Set-Cookie"))
	}
}

func TestPagesAreHardened(t *testing.T) {
	h := testenv.StartHello(t, nil)
	c := testenv.NewClient(t, h.URL)
	r := c.Get("/login")
	for k, want := range map[string]string{
		"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
		"Content-Security-Policy": "frame-ancestors 'none'", "Referrer-Policy": "same-origin",
	} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if r := c.Get("/static/style.css"); r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/css") {
		t.Errorf("stylesheet = %d %s", r.Status, r.Header.Get("Content-Type"))
	}
	if r := c.Get("/static/"); r.Status != 404 {
		t.Errorf("GET /static/ = %d, want 404 (no directory listing)", r.Status)
	}
}

func TestProbesAndMetrics(t *testing.T) {
	h := testenv.StartHello(t, nil)
	c := testenv.NewClient(t, h.URL)
	if r := c.Get("/healthz"); r.Status != 200 {
		t.Fatalf("/healthz = %d", r.Status)
	}
	if r := c.Get("/readyz"); r.Status != 200 || r.JSON(t)["status"] != "ok" {
		t.Fatalf("/readyz = %d %s", r.Status, r.Body)
	}
	c.PostJSON("/api/login", creds("nobody", "wrong password"))
	if r := c.Get("/metrics"); r.Status != 404 {
		t.Fatalf("/metrics on the public listener = %d, want 404", r.Status)
	}
	m := testenv.NewClient(t, h.AdminURL).Get("/metrics")
	for _, want := range []string{
		`hello_http_requests_total{method="GET",route="/healthz",status="200"} 1`,
		`hello_http_request_duration_seconds_bucket{method="POST",route="/api/login"`,
		`hello_logins_total{outcome="invalid_credentials"} 1`,
	} {
		if !bytes.Contains(m.Body, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
