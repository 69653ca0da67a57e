package httpapi

import (
	"bytes"
	"errors"
	"net/http"

	"github.com/hellosvc/hello/internal/account"
	"github.com/hellosvc/hello/internal/captcha"
	"github.com/hellosvc/hello/web"
)

// pageData is what every template sees.
type pageData struct {
	Title    string
	User     string // the logged-in user, or ""
	Username string // the name typed into a form, shown again after an error
	Error    string
	Notice   string
	Captcha  *captcha.Challenge // shown on the form when set
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
	s.render(w, r, http.StatusOK, web.Signup, pageData{Title: "Sign up", User: s.currentUser(r), Captcha: s.freshChallenge(r)})
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
	c := credentials{
		Username: r.PostForm.Get("username"), Password: r.PostForm.Get("password"),
		CaptchaID: r.PostForm.Get("captcha_id"), CaptchaAnswer: r.PostForm.Get("captcha_answer"),
	}
	for _, field := range captcha.FormFields {
		if tok := r.PostForm.Get(field); tok != "" {
			c.CaptchaToken = tok
		}
	}
	return c, true
}

func (s *server) pageSignupSubmit(w http.ResponseWriter, r *http.Request) {
	c, ok := s.formCredentials(w, r)
	if !ok {
		return
	}
	if _, err := s.accounts.Signup(r.Context(), s.request(r, c)); err != nil {
		// Any captcha sent was spent: the form always comes back with a new one.
		ch := challengeOf(err)
		if ch == nil {
			ch = s.freshChallenge(r)
		}
		s.formError(w, r, web.Signup, pageData{Title: "Sign up", Username: c.Username, Captcha: ch}, err)
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
		ch := challengeOf(err)
		if ch == nil && (account.CodeOf(err) == account.CodeInvalidCredentials || c.CaptchaID != "") {
			ch = s.freshChallenge(r) // after a failure the next try will need one
		}
		s.formError(w, r, web.Login, pageData{Title: "Log in", Username: c.Username, Captcha: ch}, err)
		return
	}
	s.setSessionCookie(w, r, res)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// formError shows the form again with the error, under the error's status.
func (s *server) formError(w http.ResponseWriter, r *http.Request, page string, d pageData, err error) {
	e := asCoded(err)
	markRefused(r, e.Code)
	s.logError(r, e)
	setRetryAfter(w, e)
	d.Error = e.Message
	s.render(w, r, status(e), page, d)
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
