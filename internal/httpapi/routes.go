package httpapi

import (
	"net/http"

	"github.com/hellosvc/hello/web"
)

// routes declares every route of the public listener. GET routes answer HEAD too. Every
// route is behind the per-sender limit; authRoutes also behind the stricter one.
func (s *server) routes() {
	// JSON API
	s.mux.HandleFunc("GET /api/hello", s.apiHello)
	s.mux.HandleFunc("POST /api/signup", s.apiSignup)
	s.mux.HandleFunc("POST /api/login", s.apiLogin)
	s.mux.HandleFunc("POST /api/logout", s.apiLogout)
	s.mux.HandleFunc("GET /api/me", s.apiMe)
	s.mux.HandleFunc("POST /api/devices/forget", s.apiForgetDevices)
	s.mux.HandleFunc("POST /api/captcha", s.apiCaptcha)
	s.mux.HandleFunc("GET /captcha/{file}", s.captchaMedia)

	// Server-rendered pages
	s.mux.HandleFunc("GET /{$}", s.pageIndex)
	s.mux.HandleFunc("GET /signup", s.pageSignup)
	s.mux.HandleFunc("POST /signup", s.pageSignupSubmit)
	s.mux.HandleFunc("GET /login", s.pageLogin)
	s.mux.HandleFunc("POST /login", s.pageLoginSubmit)
	s.mux.HandleFunc("POST /logout", s.pageLogout)
	s.mux.Handle("GET /static/{file}", http.StripPrefix("/static/", http.FileServerFS(web.Static())))

	// Probes
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
}

// isAuthRoute reports whether r is a signup or login submission (API or form).
func isAuthRoute(r *http.Request) bool {
	if r.Method != http.MethodPost {
		return false
	}
	switch r.URL.Path {
	case "/api/signup", "/api/login", "/signup", "/login":
		return true
	}
	return false
}
