package httpapi

import (
	"net/http"

	"github.com/hellosvc/hello/web"
)

// routes declares every route of the public listener. GET routes answer HEAD too.
func (s *server) routes() {
	// JSON API
	s.mux.HandleFunc("GET /api/hello", s.apiHello)
	s.mux.HandleFunc("POST /api/signup", s.apiSignup)
	s.mux.HandleFunc("POST /api/login", s.apiLogin)
	s.mux.HandleFunc("POST /api/logout", s.apiLogout)
	s.mux.HandleFunc("GET /api/me", s.apiMe)

	// Server-rendered pages
	s.mux.HandleFunc("GET /{$}", s.pageIndex)
	s.mux.HandleFunc("GET /signup", s.pageSignup)
	s.mux.HandleFunc("POST /signup", s.pageSignupSubmit)
	s.mux.HandleFunc("GET /login", s.pageLogin)
	s.mux.HandleFunc("POST /login", s.pageLoginSubmit)
	s.mux.HandleFunc("POST /logout", s.pageLogout)
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(web.Static())))

	// Probes
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
}
