package httpapi

import (
	"bytes"
	"errors"
	"net/http"

	"github.com/hellosvc/hello/internal/account"
	"github.com/hellosvc/hello/web"
)

// pageData is what every template sees.
type pageData struct {
	Title    string
	User     string // the logged-in user, or ""
	Username string // the name typed into a form, shown again after an error
	Error    string
	Notice   string
}

func (s *server) render(w http.ResponseWriter, r *http.Request, code int, page string, d pageData) {
	var buf bytes.Buffer
	if err := s.pages.Render(&buf, page, d); err != nil {
		s.log.ErrorContext(r.Context(), "rendering page", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = buf.WriteTo(w)
}

func (s *server) renderError(w http.ResponseWriter, r *http.Request, e *account.Error) {
	setRetryAfter(w, e)
	if e.Code == codeNotFound {
		s.render(w, r, http.StatusNotFound, web.NotFound, pageData{Title: "Not found"})
		return
	}
	s.render(w, r, status(e), web.Error, pageData{Title: http.StatusText(status(e)), Error: e.Message})
}

// currentUser returns the name of the logged-in user, or "" (any failure means anonymous).
func (s *server) currentUser(r *http.Request) string {
	if tok := sessionToken(r); tok != "" {
		if a, err := s.accounts.Me(r.Context(), tok); err == nil {
			return a.Username
		}
	}
	return ""
}

func (s *server) pageIndex(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, web.Index, pageData{Title: "Hello", User: s.currentUser(r)})
}

func (s *server) pageSignup(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, web.Signup, pageData{Title: "Sign up", User: s.currentUser(r)})
}

func (s *server) pageLogin(w http.ResponseWriter, r *http.Request) {
	d := pageData{Title: "Log in", User: s.currentUser(r)}
	if r.URL.Query().Get("signed_up") != "" {
		d.Notice = "Your account is ready: log in."
	}
	s.render(w, r, http.StatusOK, web.Login, d)
}

// formCredentials parses a form post. A body over the limit fails the whole request.
func (s *server) formCredentials(w http.ResponseWriter, r *http.Request) (credentials, bool) {
	if err := r.ParseForm(); err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			s.fail(w, r, errTooLarge)
		} else {
			s.fail(w, r, account.Errorf(account.CodeInvalidRequest, "malformed form"))
		}
		return credentials{}, false
	}
	return credentials{Username: r.PostForm.Get("username"), Password: r.PostForm.Get("password")}, true
}

func (s *server) pageSignupSubmit(w http.ResponseWriter, r *http.Request) {
	c, ok := s.formCredentials(w, r)
	if !ok {
		return
	}
	if _, err := s.accounts.Signup(r.Context(), c.Username, c.Password); err != nil {
		e := asCoded(err)
		s.logError(r, e)
		setRetryAfter(w, e)
		s.render(w, r, status(e), web.Signup, pageData{Title: "Sign up", Username: c.Username, Error: e.Message})
		return
	}
	http.Redirect(w, r, "/login?signed_up=1", http.StatusSeeOther)
}

func (s *server) pageLoginSubmit(w http.ResponseWriter, r *http.Request) {
	c, ok := s.formCredentials(w, r)
	if !ok {
		return
	}
	res, err := s.login(r, c)
	if err != nil {
		e := asCoded(err)
		s.logError(r, e)
		setRetryAfter(w, e)
		s.render(w, r, status(e), web.Login, pageData{Title: "Log in", Username: c.Username, Error: e.Message})
		return
	}
	s.setSessionCookie(w, r, res)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *server) pageLogout(w http.ResponseWriter, r *http.Request) {
	// Logging out an already-ended session is not an error for a person clicking a button.
	if err := s.accounts.Logout(r.Context(), sessionToken(r)); err != nil && account.CodeOf(err) != account.CodeUnauthenticated {
		s.fail(w, r, err)
		return
	}
	s.clearSessionCookie(w, r)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
