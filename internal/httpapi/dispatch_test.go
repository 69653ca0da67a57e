package httpapi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// dispatch serves every request a pattern matches (or would match after the mux's redirect)
// exactly as ServeMux.ServeHTTP does: the same handler, status, headers and r.Pattern, and the
// same path values.
func TestDispatchServesAsTheMux(t *testing.T) {
	s := &server{mux: http.NewServeMux()}
	s.routes()
	// The same patterns, each answering with what the request looked like to it.
	mux := http.NewServeMux()
	s2 := &server{mux: mux}
	echo := func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s|%s|%s", r.Pattern, r.PathValue("file"), r.URL)
	}
	for _, p := range patterns(t, s) {
		mux.HandleFunc(p, echo)
	}
	for _, tt := range []struct{ method, target string }{
		{"POST", "/api/login"}, {"GET", "/api/hello"}, {"HEAD", "/api/hello"}, {"GET", "/"},
		{"GET", "/captcha/abc.png"}, {"GET", "/static/app.css"}, {"POST", "/api//login"},
		{"POST", "/api/./login"}, {"GET", "/api/../api/hello?x=1"}, {"GET", "/static"},
		{"GET", "/healthz"}, {"POST", "/login"}, {"GET", "//"}, {"GET", "/captcha/"},
	} {
		want := httptest.NewRecorder()
		r1 := httptest.NewRequest(tt.method, tt.target, nil)
		mux.ServeHTTP(want, r1)
		got := httptest.NewRecorder()
		r2 := httptest.NewRequest(tt.method, tt.target, nil)
		if _, pattern := mux.Handler(r2); pattern == "" {
			continue // not found or not allowed: answered by dispatch itself, as before
		}
		s2.dispatch(got, r2)
		if got.Code != want.Code || got.Body.String() != want.Body.String() ||
			got.Header().Get("Location") != want.Header().Get("Location") || r2.Pattern != r1.Pattern {
			t.Errorf("%s %s: dispatch %d %q %q pattern %q, mux %d %q %q pattern %q", tt.method, tt.target,
				got.Code, got.Body, got.Header().Get("Location"), r2.Pattern,
				want.Code, want.Body, want.Header().Get("Location"), r1.Pattern)
		}
	}
}

// patterns lists the patterns s.routes registers.
func patterns(t *testing.T, s *server) []string {
	t.Helper()
	list := []string{
		"GET /api/hello", "POST /api/signup", "POST /api/login", "POST /api/logout", "GET /api/me",
		"POST /api/devices/forget", "POST /api/captcha", "GET /captcha/{file}", "GET /{$}", "GET /signup",
		"POST /signup", "GET /login", "POST /login", "POST /logout", "GET /static/{file}", "GET /healthz", "GET /readyz",
	}
	for _, p := range list {
		method, path, _ := strings.Cut(p, " ")
		path = strings.NewReplacer("{$}", "", "{file}", "x.png").Replace(path)
		if _, got := s.mux.Handler(httptest.NewRequest(method, path, nil)); got != p {
			t.Fatalf("routes() no longer registers %q (got %q): update this list", p, got)
		}
	}
	return list
}
