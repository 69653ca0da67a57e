package httpapi

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/hellosvc/hello/internal/account"
	"github.com/hellosvc/hello/internal/guard"
)

type credentials struct {
	Username      string `json:"username"`
	Password      string `json:"password"`
	CaptchaID     string `json:"captcha_id"`
	CaptchaAnswer string `json:"captcha_answer"`
	CaptchaToken  string `json:"captcha_token"` // a Turnstile/hCaptcha/reCAPTCHA token
}

// request turns decoded credentials into the domain's Attempt, adding who sent it.
func (s *server) request(r *http.Request, c credentials) account.Attempt {
	req := account.Attempt{
		Username: c.Username, Password: c.Password, Sender: clientOf(r),
		Captcha: account.CaptchaAnswer{ID: c.CaptchaID, Answer: c.CaptchaAnswer, Token: c.CaptchaToken},
	}
	if ck, err := r.Cookie(DeviceCookie); err == nil {
		req.Device = ck.Value
	}
	return req
}

func (s *server) apiHello(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"message": "Hello, World!"})
}

func (s *server) apiSignup(w http.ResponseWriter, r *http.Request) {
	var c credentials
	if err := decodeCredentials(r, &c); err != nil {
		s.fail(w, r, err)
		return
	}
	a, err := s.accounts.Signup(r.Context(), s.request(r, c))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"username": a.Username})
}

func (s *server) apiLogin(w http.ResponseWriter, r *http.Request) {
	var c credentials
	if err := decodeCredentials(r, &c); err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := s.login(r, c)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.setSessionCookie(w, r, res)
	writeJSON(w, http.StatusOK, map[string]string{"token": res.Token, "expires_at": res.ExpiresAt.Format(time.RFC3339)})
}

// login is the one path both the API and the form take into account.Service.Login.
func (s *server) login(r *http.Request, c credentials) (account.LoginResult, error) {
	start := time.Now()
	req := s.request(r, c)
	res, err := s.accounts.Login(r.Context(), req)
	outcome := "success"
	if err != nil {
		outcome = string(asCoded(err).Code)
	}
	s.metrics.byResult.get(outcome).Inc()
	class := s.metrics.loginOther
	if req.Device != "" {
		if name, nerr := account.NormalizeUsername(req.Username); nerr == nil {
			if _, ok := s.guard.Device(req.Device, name); ok {
				class = s.metrics.loginTrusted
			}
		}
	}
	class.Observe(time.Since(start).Seconds())
	return res, err
}

func (s *server) apiLogout(w http.ResponseWriter, r *http.Request) {
	if err := s.accounts.Logout(r.Context(), sessionToken(r)); err != nil {
		s.fail(w, r, err)
		return
	}
	s.clearSessionCookie(w, r)
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) apiMe(w http.ResponseWriter, r *http.Request) {
	a, err := s.accounts.Me(r.Context(), sessionToken(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"username": a.Username})
}

// sessionToken reads "Authorization: Bearer <token>", else the session cookie.
func sessionToken(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if scheme, tok, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok)
		}
		return ""
	}
	if c, err := r.Cookie(SessionCookie); err == nil {
		return c.Value
	}
	return ""
}

func (s *server) setSessionCookie(w http.ResponseWriter, r *http.Request, res account.LoginResult) {
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: res.Token, Path: "/", Expires: res.ExpiresAt,
		MaxAge: int(time.Until(res.ExpiresAt).Seconds()), HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: s.secureCookie(r),
	})
	if res.Device != "" {
		http.SetCookie(w, &http.Cookie{
			Name: DeviceCookie, Value: res.Device, Path: "/", MaxAge: int(guard.DeviceCookieTTL.Seconds()),
			HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.secureCookie(r),
		})
	}
}

// secureCookie: cookies are Secure on HTTPS requests, and always in staging and production.
func (s *server) secureCookie(r *http.Request) bool { return s.secure || s.resolver.IsHTTPS(r) }

func (s *server) clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	s.clearCookie(w, r, SessionCookie)
}

func (s *server) clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: s.secureCookie(r),
	})
}

// apiForgetDevices ends the trust of this browser's device, or with {"all":true} of every
// device of the session's account: 204. An empty body forgets this device.
func (s *server) apiForgetDevices(w http.ResponseWriter, r *http.Request) {
	var body struct {
		All bool `json:"all"`
	}
	if hasBody(r) {
		if err := decodeJSON(r, &body); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	device := ""
	if c, err := r.Cookie(DeviceCookie); err == nil {
		device = c.Value
	}
	if err := s.accounts.ForgetDevices(r.Context(), sessionToken(r), device, body.All); err != nil {
		s.fail(w, r, err)
		return
	}
	s.clearCookie(w, r, DeviceCookie)
	w.WriteHeader(http.StatusNoContent)
}

// hasBody reports whether r carries a body. One of unknown length (chunked, or HTTP/2 without
// a content-length) may still be empty: its first byte is read to know, and put back.
func hasBody(r *http.Request) bool {
	if r.ContentLength >= 0 {
		return r.ContentLength > 0
	}
	var first [1]byte
	n, err := io.ReadFull(r.Body, first[:])
	if n == 0 && errors.Is(err, io.EOF) {
		return false
	}
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(first[:n]), r.Body), r.Body}
	return true // or unreadable: the decoder reports it
}
