package httpapi

import (
	"bytes"
	"net/http"
	"strings"

	"github.com/hellosvc/hello/internal/account"
	"github.com/hellosvc/hello/internal/captcha"
)

var errCaptchaOff = account.Errorf(codeNotFound, "captchas are off")

// apiCaptcha issues a fresh challenge: 201 {"captcha_id","image_url","audio_url","expires_at"}.
func (s *server) apiCaptcha(w http.ResponseWriter, r *http.Request) {
	if s.captcha == nil {
		s.fail(w, r, errCaptchaOff)
		return
	}
	ch, err := s.captcha.Issue()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, ch)
}

// captchaMedia serves GET /captcha/{id}.png and /captcha/{id}.wav.
func (s *server) captchaMedia(w http.ResponseWriter, r *http.Request) {
	if s.captcha == nil {
		s.fail(w, r, errCaptchaOff)
		return
	}
	file := r.PathValue("file")
	var (
		buf         bytes.Buffer
		err         error
		contentType string
	)
	switch {
	case strings.HasSuffix(file, ".png"):
		contentType, err = "image/png", s.captcha.WriteImage(&buf, strings.TrimSuffix(file, ".png"))
	case strings.HasSuffix(file, ".wav"):
		contentType, err = "audio/wav", s.captcha.WriteAudio(&buf, strings.TrimSuffix(file, ".wav"))
	default:
		s.fail(w, r, errNotFound)
		return
	}
	if err != nil { // expired or forged id: nothing to show
		s.fail(w, r, errNotFound)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = buf.WriteTo(w)
}

// challengeOf returns the captcha challenge carried by a refusal, if any.
func challengeOf(err error) *captcha.Challenge {
	return asCoded(err).Captcha
}

// freshChallenge returns a new challenge for a form, or nil when captchas are off.
func (s *server) freshChallenge(r *http.Request) *captcha.Challenge {
	if s.captcha == nil {
		return nil
	}
	ch, err := s.captcha.Issue()
	if err != nil {
		s.log.ErrorContext(r.Context(), "issuing a captcha", "err", err)
		return nil
	}
	return &ch
}
