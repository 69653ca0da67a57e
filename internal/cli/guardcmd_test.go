package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/hellosvc/hello/internal/cli"
	"github.com/hellosvc/hello/internal/config"
	"github.com/hellosvc/hello/internal/testenv"
)

const adminToken = "admin-token-for-tests-0123456789abcdef"

func lockAlice(t *testing.T, h *testenv.Hello) {
	t.Helper()
	c := testenv.NewClient(t, h.URL)
	c.PostJSON("/api/signup", `{"username":"alice","password":"right password"}`)
	for i := range 3 {
		c.PostJSON("/api/login", fmt.Sprintf(`{"username":"alice","password":"wrong %d password"}`, i))
	}
	if r := c.PostJSON("/api/login", `{"username":"alice","password":"right password"}`); r.Status != http.StatusTooManyRequests {
		t.Fatalf("alice not locked: %d", r.Status)
	}
}

func runGuard(t *testing.T, env []string, args ...string) (string, error) {
	var out bytes.Buffer
	err := cli.Run(context.Background(), append([]string{"guard"}, args...), env, &out)
	return out.String(), err
}

// Issue 10: everything on the admin listener but /metrics needs HELLO_ADMIN_TOKEN, and is off
// without it; operators see and clear a name's lock through it (in-process store).
func TestAdminListenerAndGuardCommandInProcess(t *testing.T) {
	h := testenv.StartHello(t, map[string]string{"HELLO_ADMIN_TOKEN": adminToken, "HELLO_LOGIN_MAX_FAILURES": "3"})
	admin := testenv.NewClient(t, h.AdminURL)
	if r := admin.Get("/metrics"); r.Status != 200 {
		t.Fatalf("/metrics = %d", r.Status)
	}
	for _, path := range []string{"/debug/pprof/", "/admin/guard/status?name=alice"} {
		if r := admin.Get(path); r.Status != http.StatusUnauthorized {
			t.Errorf("%s without the token = %d, want 401", path, r.Status)
		}
		if r := admin.Get(path, "Authorization", "Bearer wrong-token"); r.Status != http.StatusUnauthorized {
			t.Errorf("%s with a wrong token = %d, want 401", path, r.Status)
		}
	}
	if r := admin.Get("/debug/pprof/", "Authorization", "Bearer "+adminToken); r.Status != 200 {
		t.Errorf("pprof with the token = %d", r.Status)
	}
	lockAlice(t, h)

	env := []string{"HELLO_ADMIN_ADDR=" + strings.TrimPrefix(h.AdminURL, "http://"), "HELLO_ADMIN_TOKEN=" + adminToken}
	out, err := runGuard(t, env, "status", "ALICE")
	var st struct {
		Username    string `json:"username"`
		Failures    int    `json:"failures"`
		Locked      bool   `json:"locked"`
		LockedUntil string `json:"locked_until"`
	}
	if err != nil || json.Unmarshal([]byte(out), &st) != nil || st.Username != "alice" || st.Failures != 3 || !st.Locked || st.LockedUntil == "" {
		t.Fatalf("guard status = %q, %v", out, err)
	}
	if _, err := runGuard(t, env, "unlock", "alice"); err != nil {
		t.Fatalf("guard unlock: %v", err)
	}
	if testenv.NewClient(t, h.URL).PostJSON("/api/login", `{"username":"alice","password":"right password"}`).Status != 200 {
		t.Fatal("alice still locked after unlock")
	}
	if n := countMsg(h, "guard unlock"); n != 1 {
		t.Fatalf("%d audit lines, want 1", n)
	}
	if _, err := runGuard(t, []string{"HELLO_ADMIN_ADDR=" + strings.TrimPrefix(h.AdminURL, "http://")}, "status", "alice"); !errors.Is(err, config.ErrUsage) {
		t.Fatalf("guard status without a token = %v, want a usage error", err)
	}
}

func TestAdminEndpointsAreOffWithoutAToken(t *testing.T) {
	h := testenv.StartHello(t, nil)
	admin := testenv.NewClient(t, h.AdminURL)
	for _, path := range []string{"/debug/pprof/", "/admin/guard/status?name=alice"} {
		if r := admin.Get(path, "Authorization", "Bearer "); r.Status != http.StatusNotFound {
			t.Errorf("%s without HELLO_ADMIN_TOKEN = %d, want 404", path, r.Status)
		}
	}
}

// With Redis, the command reads and clears the shared log directly.
func TestGuardCommandOnRedis(t *testing.T) {
	rd := testenv.StartRedis(t)
	h := testenv.StartHello(t, map[string]string{"HELLO_REDIS_URL": rd.URL(), "HELLO_LOGIN_MAX_FAILURES": "3"})
	lockAlice(t, h)
	env := []string{"HELLO_REDIS_URL=" + rd.URL(), "HELLO_SECRET=" + testenv.Secret, "HELLO_LOGIN_MAX_FAILURES=3"}
	if out, err := runGuard(t, env, "status", "alice"); err != nil || !strings.Contains(out, `"failures":3`) {
		t.Fatalf("guard status = %q, %v", out, err)
	}
	if _, err := runGuard(t, env, "unlock", "alice"); err != nil {
		t.Fatal(err)
	}
	if testenv.NewClient(t, h.URL).PostJSON("/api/login", `{"username":"alice","password":"right password"}`).Status != 200 {
		t.Fatal("alice still locked after unlock")
	}
}

func countMsg(h *testenv.Hello, msg string) int {
	n := 0
	for _, r := range h.Logs.Records() {
		if r["msg"] == msg {
			n++
		}
	}
	return n
}
