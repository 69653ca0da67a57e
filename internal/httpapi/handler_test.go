package httpapi_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hellosvc/hello/internal/account"
	"github.com/hellosvc/hello/internal/captcha"
	"github.com/hellosvc/hello/internal/guard"
	"github.com/hellosvc/hello/internal/guard/memory"
	"github.com/hellosvc/hello/internal/httpapi"
	"github.com/hellosvc/hello/internal/realip"
	"github.com/hellosvc/hello/internal/store/sqlite"
)

// handlerEnv is the public handler alone, as serve wires it but without the CLI: a migrated
// SQLite file, an account.Service with cheap argon2id parameters, a guard whose limits never
// refuse, served by httptest.
type handlerEnv struct {
	url   string
	store *sqlite.Store
	skew  atomic.Int64 // added to the Service's clock, in nanoseconds
}

const handlerSessionTTL = time.Hour

// newHandlerEnv starts the handler; withCaptcha mounts a captcha service (the guard asks for
// no captcha either way, so signups and logins never need one).
func newHandlerEnv(t *testing.T, withCaptcha bool) *handlerEnv {
	t.Helper()
	ctx := context.Background()
	e := &handlerEnv{}
	st := httpapi.MigratedSQLite(t)
	e.store = st
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	reg := prometheus.NewRegistry()
	limiter := memory.New(memory.Options{})
	secret := []byte("handler-test-secret-handler-test-secret")
	var cs *captcha.Service
	if withCaptcha {
		var err error
		if cs, err = captcha.New(captcha.Options{Secret: secret, Spent: limiter}); err != nil {
			t.Fatal(err)
		}
	}
	unlimited := guard.Rate{Count: 1 << 20, Period: time.Minute}
	g, err := guard.New(guard.Options{Store: limiter, Secret: secret, Logger: log, Metrics: reg,
		Config: guard.Config{SenderLimit: unlimited, AuthSenderLimit: unlimited, LoginMaxFailures: 3, LoginWindow: time.Hour,
			CaptchaAfterSenderFailures: unlimited, CaptchaGlobalFailures: unlimited}})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := account.NewService(ctx, account.Options{Store: st, Guard: g, Logger: log, SessionTTL: handlerSessionTTL,
		Now:    func() time.Time { return time.Now().Add(time.Duration(e.skew.Load())) },
		Hasher: account.NewHasher(account.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 2, time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	refusals, err := httpapi.NewRefusalLog(log, time.Hour, reg)
	if err != nil {
		t.Fatal(err)
	}
	h, err := httpapi.NewServer(httpapi.Deps{Accounts: svc, Logger: log, Metrics: reg, Guard: g, Captcha: cs, Refusals: refusals,
		Resolver: realip.New([]netip.Prefix{}, realip.XForwardedFor),
		Ready:    func(context.Context) httpapi.Readiness { return httpapi.Readiness{Ready: true, Status: "ok"} }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

// reply is a fully read response.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// req describes one request; a nil body sends none, a body that is not a *strings.Reader goes
// out chunked (its length unknown).
type req struct {
	method, path, contentType string
	body                      io.Reader
	header                    []string // name, value, name, value...
}

func (e *handlerEnv) do(t *testing.T, r req) reply {
	t.Helper()
	hr, err := http.NewRequest(r.method, e.url+r.path, r.body)
	if err != nil {
		t.Fatal(err)
	}
	if r.contentType != "" {
		hr.Header.Set("Content-Type", r.contentType)
	}
	for i := 0; i+1 < len(r.header); i += 2 {
		hr.Header.Set(r.header[i], r.header[i+1])
	}
	resp, err := http.DefaultTransport.RoundTrip(hr) // no cookie jar, no redirects
	if err != nil {
		t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", r.method, r.path, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// raw sends text as it is (for framings the Go client never produces) and reads the answer.
func (e *handlerEnv) raw(t *testing.T, text string) reply {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	if _, err := io.WriteString(conn, text); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

func (e *handlerEnv) postJSON(t *testing.T, path, body string, header ...string) reply {
	t.Helper()
	return e.do(t, req{method: http.MethodPost, path: path, contentType: "application/json", body: strings.NewReader(body), header: header})
}

// session signs name up and logs it in, returning the session token.
func (e *handlerEnv) session(t *testing.T, name string) string {
	t.Helper()
	if r := e.postJSON(t, "/api/signup", creds(name, "correct horse battery")); r.status != http.StatusCreated {
		t.Fatalf("signup %s = %d %s", name, r.status, r.body)
	}
	r := e.postJSON(t, "/api/login", creds(name, "correct horse battery"))
	var body struct{ Token string }
	if r.status != http.StatusOK || json.Unmarshal(r.body, &body) != nil || body.Token == "" {
		t.Fatalf("login %s = %d %s", name, r.status, r.body)
	}
	return body.Token
}

func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

// wantError checks the documented error shape: the status, JSON {"error":code,"message":...}
// with no other field, not cacheable.
func (r reply) wantError(t *testing.T, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status %d, want %d (body %s)", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	var body map[string]any
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("error body %q is not a JSON object: %v", r.body, err)
	}
	msg, _ := body["message"].(string)
	if body["error"] != code || msg == "" || len(body) != 2 {
		t.Errorf("error body %s, want {\"error\":%q,\"message\":\"...\"}", r.body, code)
	}
}

// wantJSON checks a success: the status and a JSON object with exactly the keys given.
func (r reply) wantJSON(t *testing.T, status int, keys ...string) map[string]string {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d (body %s)", r.status, status, r.body)
	}
	if ct, cc := r.header.Get("Content-Type"), r.header.Get("Cache-Control"); ct != "application/json" || cc != "no-store" {
		t.Errorf("Content-Type %q, Cache-Control %q: want application/json, no-store", ct, cc)
	}
	var body map[string]string
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("body %q is not a JSON object of strings: %v", r.body, err)
	}
	for _, k := range keys {
		if body[k] == "" {
			t.Errorf("body %s lacks %q", r.body, k)
		}
	}
	if len(body) != len(keys) {
		t.Errorf("body %s, want exactly the keys %q", r.body, keys)
	}
	return body
}

// setCookie returns the Set-Cookie line for name, or "".
func (r reply) setCookie(name string) string {
	for _, c := range r.header.Values("Set-Cookie") {
		if strings.HasPrefix(c, name+"=") {
			return c
		}
	}
	return ""
}

// Every endpoint that reads a JSON body decodes it strictly: one body has one meaning, and a
// body the server cannot read is refused before any work, with the documented code. forget
// is sent with a valid session: a body it cannot read must not be taken for "this device".
func TestHandlerRefusesBodiesItCannotRead(t *testing.T) {
	e := newHandlerEnv(t, false)
	token := e.session(t, "alice")
	type endpoint struct{ path, valid string }
	endpoints := []endpoint{
		{"/api/signup", creds("bobby", "correct horse battery")},
		{"/api/login", creds("alice", "correct horse battery")},
		{"/api/devices/forget", `{"all":true}`},
	}
	cases := []struct {
		name        string
		contentType string
		body        func(ep endpoint) string
		status      int
		code        string
	}{
		{"malformed JSON", "application/json", func(endpoint) string { return `{"username":` }, 400, "invalid_request"},
		{"truncated object", "application/json", func(ep endpoint) string { return ep.valid[:len(ep.valid)-1] }, 400, "invalid_request"},
		{"null", "application/json", func(endpoint) string { return `null` }, 400, "invalid_request"},
		{"array", "application/json", func(endpoint) string { return `[]` }, 400, "invalid_request"},
		{"string", "application/json", func(endpoint) string { return `"all"` }, 400, "invalid_request"},
		{"unknown field", "application/json", func(ep endpoint) string { return `{"admin":true,` + ep.valid[1:] }, 400, "invalid_request"},
		{"field name in capitals", "application/json", func(ep endpoint) string {
			return strings.Replace(ep.valid, `"`+firstKey(ep.valid)+`"`, `"`+strings.ToUpper(firstKey(ep.valid))+`"`, 1)
		}, 400, "invalid_request"},
		{"duplicate key", "application/json", func(ep endpoint) string {
			return ep.valid[:len(ep.valid)-1] + `,"` + firstKey(ep.valid) + `":` + firstValue(ep.valid) + `}`
		}, 400, "invalid_request"},
		{"duplicate key spelled with an escape", "application/json", func(ep endpoint) string {
			k := firstKey(ep.valid)
			return ep.valid[:len(ep.valid)-1] + `,"` + k[:len(k)-1] + fmt.Sprintf(`\u%04x`, k[len(k)-1]) + `":` + firstValue(ep.valid) + `}`
		}, 400, "invalid_request"},
		{"wrong type", "application/json", func(ep endpoint) string { return `{"` + firstKey(ep.valid) + `":[1]}` }, 400, "invalid_request"},
		{"two objects", "application/json", func(ep endpoint) string { return ep.valid + ep.valid }, 400, "invalid_request"},
		{"trailing garbage", "application/json", func(ep endpoint) string { return ep.valid + ` x` }, 400, "invalid_request"},
		{"invalid UTF-8", "application/json", func(ep endpoint) string { return ep.valid[:len(ep.valid)-1] + ` ` + "\xff" + `}` }, 400, "invalid_request"},
		{"text/plain", "text/plain", func(ep endpoint) string { return ep.valid }, 415, "unsupported_media_type"},
		{"form content type", "application/x-www-form-urlencoded", func(ep endpoint) string { return ep.valid }, 415, "unsupported_media_type"},
		{"no content type", "", func(ep endpoint) string { return ep.valid }, 415, "unsupported_media_type"},
		{"unparsable content type", "application/json;;", func(ep endpoint) string { return ep.valid }, 415, "unsupported_media_type"},
	}
	for _, ep := range endpoints {
		for _, c := range cases {
			t.Run(ep.path+"/"+c.name, func(t *testing.T) {
				r := e.do(t, req{method: http.MethodPost, path: ep.path, contentType: c.contentType,
					body: strings.NewReader(c.body(ep)), header: bearer(token)})
				r.wantError(t, c.status, c.code)
				if r.setCookie(httpapi.SessionCookie) != "" || r.setCookie(httpapi.DeviceCookie) != "" {
					t.Errorf("a refused body set cookies: %q", r.header.Values("Set-Cookie"))
				}
			})
		}
	}
	// Nothing above took effect: bobby was not created, the session is still valid.
	e.postJSON(t, "/api/login", creds("bobby", "correct horse battery")).wantError(t, 401, "invalid_credentials")
	e.do(t, req{method: http.MethodGet, path: "/api/me", header: bearer(token)}).wantJSON(t, 200, "username")
}

// firstKey and firstValue read the first member of a flat JSON object of the tests above.
func firstKey(obj string) string {
	k, _, _ := strings.Cut(strings.TrimPrefix(obj, `{"`), `"`)
	return k
}

func firstValue(obj string) string {
	_, rest, _ := strings.Cut(obj, `":`)
	if strings.HasPrefix(rest, `"`) {
		v, _, _ := strings.Cut(rest[1:], `"`)
		return `"` + v + `"`
	}
	v, _, _ := strings.Cut(rest, ",")
	return strings.TrimSuffix(v, "}")
}

// The spellings of the JSON media type a client may send are accepted.
func TestHandlerAcceptsJSONMediaTypeSpellings(t *testing.T) {
	e := newHandlerEnv(t, false)
	for i, ct := range []string{"application/json; charset=utf-8", "Application/JSON", "application/json ; charset=UTF-8"} {
		name := "carol" + string(rune('a'+i))
		r := e.do(t, req{method: http.MethodPost, path: "/api/signup", contentType: ct, body: strings.NewReader(creds(name, "correct horse battery"))})
		if got := r.wantJSON(t, http.StatusCreated, "username"); got["username"] != name {
			t.Errorf("Content-Type %q: signed up %q, want %q", ct, got["username"], name)
		}
	}
}

// Bodies are bounded at 1 MiB (413 request_too_large), whether the client announces the length
// or sends the body chunked; a body of exactly 1 MiB is read.
func TestHandlerBoundsBodies(t *testing.T) {
	e := newHandlerEnv(t, false)
	token := e.session(t, "alice")
	pad := func(obj string, size int) string { return obj + strings.Repeat(" ", size-len(obj)) }
	type chunked struct{ io.Reader } // hides the length: the client sends the body chunked
	bodies := []struct {
		path, obj string
		fits      int // the status of the body padded to exactly the bound
	}{
		{"/api/signup", creds("bigbody", "correct horse battery"), http.StatusCreated},
		{"/api/login", creds("alice", "correct horse battery"), http.StatusOK},
		{"/api/devices/forget", `{"all":false}`, http.StatusNoContent},
	}
	for _, b := range bodies {
		t.Run(b.path, func(t *testing.T) {
			r := e.postJSON(t, b.path, pad(b.obj, httpapi.MaxBodyBytes), bearer(token)...)
			if r.status != b.fits {
				t.Errorf("a body of exactly %d bytes = %d %s, want %d", httpapi.MaxBodyBytes, r.status, r.body, b.fits)
			}
			over := pad(b.obj, httpapi.MaxBodyBytes+1)
			e.postJSON(t, b.path, over, bearer(token)...).wantError(t, 413, "request_too_large")
			e.do(t, req{method: http.MethodPost, path: b.path, contentType: "application/json",
				body: chunked{strings.NewReader(over)}, header: bearer(token)}).wantError(t, 413, "request_too_large")
		})
	}
	// The bound is on every request, also those that read no body.
	for _, m := range []struct{ method, path string }{{"POST", "/api/logout"}, {"GET", "/api/me"}} {
		r := e.do(t, req{method: m.method, path: m.path, contentType: "application/json",
			body: strings.NewReader(strings.Repeat(" ", httpapi.MaxBodyBytes+1)), header: bearer(token)})
		r.wantError(t, 413, "request_too_large")
	}
	e.do(t, req{method: http.MethodGet, path: "/api/me", header: bearer(token)}).wantJSON(t, 200, "username")
}

// A method a route does not serve is 405 method_not_allowed with Allow naming those it does.
func TestHandlerWrongMethods(t *testing.T) {
	e := newHandlerEnv(t, true)
	for _, tt := range []struct{ method, path, allow string }{
		{"GET", "/api/signup", "POST"},
		{"PUT", "/api/signup", "POST"},
		{"PATCH", "/api/login", "POST"},
		{"GET", "/api/logout", "POST"},
		{"DELETE", "/api/logout", "POST"},
		{"POST", "/api/me", "GET, HEAD"},
		{"DELETE", "/api/me", "GET, HEAD"},
		{"GET", "/api/devices/forget", "POST"},
		{"PUT", "/api/devices/forget", "POST"},
		{"GET", "/api/captcha", "POST"},
		{"OPTIONS", "/api/login", "POST"},
	} {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := e.do(t, req{method: tt.method, path: tt.path})
			r.wantError(t, http.StatusMethodNotAllowed, "method_not_allowed")
			if got := r.header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow %q, want %q", got, tt.allow)
			}
		})
	}
}

// me, logout and devices/forget need a valid session token: anything else is 401
// unauthenticated, and changes nothing.
func TestHandlerSessionRequired(t *testing.T) {
	e := newHandlerEnv(t, false)
	alice := e.session(t, "alice")
	bob := e.session(t, "bobby")
	enc := base64.RawURLEncoding.EncodeToString
	_, bobSecret, _ := strings.Cut(bob, ".")
	credentials := []struct {
		name   string
		header []string
	}{
		{"none", nil},
		{"empty Authorization", []string{"Authorization", ""}},
		{"scheme only", []string{"Authorization", "Bearer"}},
		{"not a token", bearer("not-a-token")},
		{"token without its secret", bearer(strings.SplitN(alice, ".", 2)[0])},
		{"well-formed, unknown secret", bearer(enc([]byte("alice")) + "." + enc(make([]byte, 32)))},
		{"another account's secret under alice's name", bearer(enc([]byte("alice")) + "." + bobSecret)},
		{"unknown account", bearer(enc([]byte("nobody")) + "." + bobSecret)},
		{"Basic scheme", []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:correct horse battery"))}},
		{"token as another scheme", []string{"Authorization", "Token " + alice}},
		// An Authorization header that is not a bearer token is not ignored in favour of a cookie.
		{"Basic header beside a valid cookie", []string{"Authorization", "Basic eDp5", "Cookie", httpapi.SessionCookie + "=" + alice}},
	}
	endpoints := []struct{ method, path, contentType, body string }{
		{"GET", "/api/me", "", ""},
		{"POST", "/api/logout", "", ""},
		{"POST", "/api/devices/forget", "", ""},
		{"POST", "/api/devices/forget", "application/json", `{"all":true}`},
	}
	for _, ep := range endpoints {
		for _, c := range credentials {
			t.Run(ep.method+" "+ep.path+" "+ep.body+"/"+c.name, func(t *testing.T) {
				r := e.do(t, req{method: ep.method, path: ep.path, contentType: ep.contentType, body: strings.NewReader(ep.body), header: c.header})
				r.wantError(t, http.StatusUnauthorized, "unauthenticated")
				if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="hello"` {
					t.Errorf("WWW-Authenticate = %q, want the scheme a 401 must name (RFC 9110)", got)
				}
			})
		}
	}
	// Both sessions survived all of that; the scheme's case does not matter (RFC 9110).
	for _, tok := range []string{alice, bob} {
		e.do(t, req{method: "GET", path: "/api/me", header: []string{"Authorization", "bearer " + tok}}).wantJSON(t, 200, "username")
	}
	// A session ends at its expiry.
	e.skew.Store(int64(handlerSessionTTL))
	for _, ep := range endpoints[:3] {
		e.do(t, req{method: ep.method, path: ep.path, header: bearer(alice)}).wantError(t, http.StatusUnauthorized, "unauthenticated")
	}
}

// The client's whole round: signup → login → me → forget devices → logout, with the
// documented statuses, bodies and cookies.
func TestHandlerSessionRoundTrip(t *testing.T) {
	e := newHandlerEnv(t, false)
	start := time.Now()
	r := e.postJSON(t, "/api/signup", creds("Alice", "correct horse battery"))
	if got := r.wantJSON(t, http.StatusCreated, "username"); got["username"] != "alice" {
		t.Errorf("signup answered username %q, want the stored form alice", got["username"])
	}
	e.postJSON(t, "/api/signup", creds("ALICE", "another horse battery")).wantError(t, http.StatusConflict, "username_taken")

	r = e.postJSON(t, "/api/login", creds("alice", "correct horse battery"))
	login := r.wantJSON(t, http.StatusOK, "token", "expires_at")
	token := login["token"]
	exp, err := time.Parse(time.RFC3339, login["expires_at"])
	if err != nil || exp.Before(start.Add(handlerSessionTTL-time.Second)) || exp.After(time.Now().Add(handlerSessionTTL)) {
		t.Errorf("expires_at %q (%v), want RFC 3339, the session TTL from now", login["expires_at"], err)
	}
	ck := r.setCookie(httpapi.SessionCookie)
	for _, attr := range []string{httpapi.SessionCookie + "=" + token + ";", "Path=/", "HttpOnly", "SameSite=Lax"} {
		if !strings.Contains(ck, attr) {
			t.Errorf("session cookie %q lacks %s", ck, attr)
		}
	}
	e.postJSON(t, "/api/login", creds("alice", "wrong horse battery")).wantError(t, http.StatusUnauthorized, "invalid_credentials")

	r = e.do(t, req{method: "GET", path: "/api/me", header: bearer(token)})
	if got := r.wantJSON(t, http.StatusOK, "username"); got["username"] != "alice" {
		t.Errorf("me = %q, want alice", got["username"])
	}
	r = e.do(t, req{method: "GET", path: "/api/me", header: []string{"Cookie", httpapi.SessionCookie + "=" + token}})
	if got := r.wantJSON(t, http.StatusOK, "username"); got["username"] != "alice" {
		t.Errorf("me with the cookie = %q, want alice", got["username"])
	}

	// forget: an empty body (no content type needed) forgets this browser's device, {"all":true}
	// every device; both clear the device cookie.
	for _, f := range []struct{ contentType, body string }{{"", ""}, {"application/json", `{}`}, {"application/json", `{"all":true}`}} {
		r = e.do(t, req{method: "POST", path: "/api/devices/forget", contentType: f.contentType, body: strings.NewReader(f.body), header: bearer(token)})
		if r.status != http.StatusNoContent || len(r.body) != 0 || !strings.Contains(r.setCookie(httpapi.DeviceCookie), "Max-Age=0") {
			t.Errorf("forget %q = %d %q %q, want 204, no body, the device cookie cleared", f.body, r.status, r.body, r.header.Values("Set-Cookie"))
		}
	}

	r = e.do(t, req{method: "POST", path: "/api/logout", header: bearer(token)})
	if r.status != http.StatusNoContent || len(r.body) != 0 || !strings.Contains(r.setCookie(httpapi.SessionCookie), "Max-Age=0") {
		t.Errorf("logout = %d %q %q, want 204, no body, the session cookie cleared", r.status, r.body, r.header.Values("Set-Cookie"))
	}
	e.do(t, req{method: "GET", path: "/api/me", header: bearer(token)}).wantError(t, http.StatusUnauthorized, "unauthenticated")
	e.do(t, req{method: "POST", path: "/api/logout", header: bearer(token)}).wantError(t, http.StatusUnauthorized, "unauthenticated")
	// Another login opens a new session; the old token stays dead.
	fresh := e.postJSON(t, "/api/login", creds("alice", "correct horse battery")).wantJSON(t, http.StatusOK, "token", "expires_at")["token"]
	if fresh == token {
		t.Error("a new login returned the logged-out token")
	}
	e.do(t, req{method: "GET", path: "/api/me", header: bearer(fresh)}).wantJSON(t, http.StatusOK, "username")
	e.do(t, req{method: "GET", path: "/api/me", header: bearer(token)}).wantError(t, http.StatusUnauthorized, "unauthenticated")
}

// An empty body forgets this browser's device however it is framed: also sent chunked, as
// some clients (and HTTP/2 requests without a length) do.
func TestHandlerForgetEmptyChunkedBody(t *testing.T) {
	e := newHandlerEnv(t, false)
	token := e.session(t, "alice")
	for _, ct := range []string{"", "Content-Type: application/json\r\n"} {
		r := e.raw(t, "POST /api/devices/forget HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+token+"\r\n"+ct+
			"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n")
		if r.status != http.StatusNoContent {
			t.Errorf("forget with an empty chunked body (%q) = %d %s, want 204", ct, r.status, r.body)
		}
	}
	// A chunked body that is not empty is read as any other.
	r := e.raw(t, "POST /api/devices/forget HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+token+
		"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n4\r\nnull\r\n0\r\n\r\n")
	r.wantError(t, http.StatusBadRequest, "invalid_request")
	r = e.raw(t, "POST /api/devices/forget HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+token+
		"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nc\r\n{\"all\":true}\r\n0\r\n\r\n")
	if r.status != http.StatusNoContent {
		t.Fatalf("forget all, chunked = %d %s, want 204", r.status, r.body)
	}
}

// When the database fails under the handler, every endpoint that needs it answers 503
// storage_unavailable with Retry-After (the README's contract; it was 500 internal_error on
// SQLite), tells nothing of the cause, sets no cookie, and the service stays up.
func TestHandlerStorageFailure(t *testing.T) {
	e := newHandlerEnv(t, false)
	token := e.session(t, "alice")
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	const status, code = http.StatusServiceUnavailable, "storage_unavailable"
	for _, tt := range []struct {
		name string
		r    req
	}{
		{"signup", req{method: "POST", path: "/api/signup", contentType: "application/json", body: strings.NewReader(creds("bobby", "correct horse battery"))}},
		{"login", req{method: "POST", path: "/api/login", contentType: "application/json", body: strings.NewReader(creds("alice", "correct horse battery"))}},
		{"login, unknown name", req{method: "POST", path: "/api/login", contentType: "application/json", body: strings.NewReader(creds("nobody", "correct horse battery"))}},
		{"me", req{method: "GET", path: "/api/me", header: bearer(token)}},
		{"logout", req{method: "POST", path: "/api/logout", header: bearer(token)}},
		{"forget", req{method: "POST", path: "/api/devices/forget", contentType: "application/json", body: strings.NewReader(`{"all":true}`), header: bearer(token)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, tt.r)
			r.wantError(t, status, code)
			if r.header.Get("Retry-After") == "" {
				t.Error("no Retry-After on a 503")
			}
			for _, leak := range []string{"sql", "closed", "database"} {
				if strings.Contains(string(r.body), leak) {
					t.Errorf("the error body %s tells the cause (%q)", r.body, leak)
				}
			}
			if len(r.header.Values("Set-Cookie")) != 0 {
				t.Errorf("Set-Cookie %q on a failure", r.header.Values("Set-Cookie"))
			}
		})
	}
	// Requests that need no storage are still served, and input errors are still the client's.
	if r := e.do(t, req{method: "GET", path: "/api/hello"}); r.status != http.StatusOK {
		t.Errorf("/api/hello with the database down = %d, want 200", r.status)
	}
	e.postJSON(t, "/api/login", `{"username":"alice"`).wantError(t, http.StatusBadRequest, "invalid_request")
	e.do(t, req{method: "GET", path: "/api/me"}).wantError(t, http.StatusUnauthorized, "unauthenticated")
}

// The captcha endpoint: 201 with a challenge when captchas are mounted, 404 not_found when
// they are off; it reads no body.
func TestHandlerCaptchaEndpoint(t *testing.T) {
	on := newHandlerEnv(t, true)
	r := on.do(t, req{method: "POST", path: "/api/captcha"})
	ch := r.wantJSON(t, http.StatusCreated, "captcha_id", "image_url", "audio_url", "expires_at")
	if img := on.do(t, req{method: "GET", path: ch["image_url"]}); img.status != http.StatusOK || img.header.Get("Content-Type") != "image/png" {
		t.Errorf("GET %s = %d %s", ch["image_url"], img.status, img.header.Get("Content-Type"))
	}
	off := newHandlerEnv(t, false)
	off.do(t, req{method: "POST", path: "/api/captcha"}).wantError(t, http.StatusNotFound, "not_found")
	if r := off.do(t, req{method: "GET", path: "/captcha/x.png"}); r.status != http.StatusNotFound || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Errorf("GET /captcha/x.png with captchas off = %d %s, want a 404 page", r.status, r.header.Get("Content-Type"))
	}
}
