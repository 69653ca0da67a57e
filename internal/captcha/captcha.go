// Package captcha issues and checks captchas without a third party: stateless challenges whose
// answer travels sealed (AES-256-GCM under a key derived from HELLO_SECRET) inside the id, so
// any replica can check any challenge, rendered as PNG images and WAV audio. Each id can be
// answered once across all replicas (spent ids are recorded in the limiter store). Optionally it
// also verifies Cloudflare Turnstile, hCaptcha or reCAPTCHA tokens server-side.
package captcha

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	dchest "github.com/dchest/captcha"

	"github.com/hellosvc/hello/internal/account"
	"github.com/hellosvc/hello/internal/b64url"
)

// Digits is the length of a challenge's answer.
const Digits = 6

// Spender records used ids (guard.Store implements it).
type Spender interface {
	Spend(ctx context.Context, id string, ttl time.Duration) (bool, error)
}

// Challenge is what a client needs to show a captcha.
type Challenge = account.Challenge

// Service issues and verifies captchas.
type Service struct {
	aead     cipher.AEAD
	ttl      time.Duration
	now      func() time.Time
	spent    Spender
	provider *Provider
	render   renderer
}

// Options configure a Service.
type Options struct {
	Secret   []byte        // HELLO_SECRET
	TTL      time.Duration // how long a challenge may be answered; default 10 minutes
	Spent    Spender
	Provider *Provider // optional third-party verifier
	Now      func() time.Time
}

// New returns a Service.
func New(o Options) (*Service, error) {
	if len(o.Secret) == 0 || o.Spent == nil {
		return nil, errors.New("captcha: Secret and Spent are required")
	}
	m := hmac.New(sha256.New, o.Secret)
	m.Write([]byte("hello captcha seal"))
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("captcha: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("captcha: %w", err)
	}
	if o.TTL <= 0 {
		o.TTL = 10 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{aead: aead, ttl: o.TTL, now: o.Now, spent: o.Spent, provider: o.Provider, render: newRenderer(o.Secret)}, nil
}

// Issue issues a fresh challenge.
func (s *Service) Issue() (Challenge, error) {
	exp := s.now().Add(s.ttl).Truncate(time.Second)
	if s.provider != nil {
		return Challenge{Provider: s.provider.Name, SiteKey: s.provider.SiteKey, ExpiresAt: exp.UTC()}, nil
	}
	plain := make([]byte, 8, 8+Digits)
	binary.BigEndian.PutUint64(plain, uint64(exp.Unix()))
	plain = append(plain, dchest.RandomDigits(Digits)...)
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return Challenge{}, fmt.Errorf("captcha nonce: %w", err)
	}
	id := b64url.Encode(s.aead.Seal(nonce, nonce, plain, nil))
	return Challenge{ID: id, ImageURL: "/captcha/" + id + ".png", AudioURL: "/captcha/" + id + ".wav", ExpiresAt: exp.UTC()}, nil
}

// Challenge implements guard.Captcha.
func (s *Service) Challenge() (account.Challenge, error) { return s.Issue() }

// ErrInvalid is the refusal for a wrong, expired, tampered or re-used answer.
var ErrInvalid = account.Errorf(account.CodeCaptchaInvalid, "the captcha answer is wrong or expired")

// idLen is the size of a sealed id: nonce | sealed (expiry, digits) | tag.
const idLen = 12 + 8 + Digits + 16

// IDLen is the length of a challenge id's text; anything else is refused unread.
var IDLen = b64url.EncodedLen(idLen)

// open returns the digits (0–9 values), expiry and nonce sealed in id. Only the canonical
// spelling of an id is accepted, so one challenge has exactly one id.
func (s *Service) open(id string) (digits []byte, exp time.Time, nonce []byte, err error) {
	raw, ok := b64url.Decode(id, idLen, 0)
	ns := s.aead.NonceSize()
	if !ok {
		return nil, time.Time{}, nil, ErrInvalid
	}
	plain, err := s.aead.Open(nil, raw[:ns], raw[ns:], nil)
	if err != nil || len(plain) != 8+Digits {
		return nil, time.Time{}, nil, ErrInvalid
	}
	exp = time.Unix(int64(binary.BigEndian.Uint64(plain)), 0)
	if !s.now().Before(exp) {
		return nil, time.Time{}, nil, ErrInvalid
	}
	return plain[8:], exp, raw[:ns], nil
}

// Answer returns the answer of a live challenge as text. The server renders images with it;
// tests holding the secret use it to solve challenges as a person would.
func (s *Service) Answer(id string) (string, error) {
	digits, _, _, err := s.open(id)
	if err != nil {
		return "", err
	}
	b := make([]byte, len(digits))
	for i, d := range digits {
		b[i] = '0' + d
	}
	return string(b), nil
}

// Verify checks an answer: a self-hosted challenge (id + answer) or a provider token. A
// self-hosted id is spent by its first answer, right or wrong, so it cannot be guessed twice.
func (s *Service) Verify(ctx context.Context, a account.CaptchaAnswer, sender netip.Addr) error {
	if a.Token != "" && s.provider != nil {
		return s.provider.Verify(ctx, a.Token, sender)
	}
	want, exp, nonce, err := s.open(a.ID)
	if err != nil {
		return err
	}
	// Keyed on the nonce, not the text: a fixed-size key that no respelling changes.
	first, err := s.spent.Spend(ctx, "captcha:"+b64url.Encode(nonce), exp.Sub(s.now())+time.Second)
	if err != nil {
		return &account.Error{Code: account.CodeStorageUnavailable, Message: "captcha check is temporarily unavailable", RetryAfter: time.Second, Err: err}
	}
	if !first {
		return ErrInvalid
	}
	got := normalizeAnswer(a.Answer)
	if len(got) != len(want) {
		return ErrInvalid
	}
	for i := range want {
		got[i] -= '0'
	}
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrInvalid
	}
	return nil
}

// normalizeAnswer keeps the digits a person typed, ignoring spaces and dashes.
func normalizeAnswer(s string) []byte {
	var b []byte
	for _, r := range strings.TrimSpace(s) {
		switch {
		case r >= '0' && r <= '9':
			b = append(b, byte(r))
		case r == ' ' || r == '-':
		default:
			return nil
		}
	}
	return b
}

// Image sizes.
const (
	ImageWidth  = 240
	ImageHeight = 80
)

// WriteImage renders challenge id as a PNG.
func (s *Service) WriteImage(w io.Writer, id string) error {
	digits, _, _, err := s.open(id)
	if err != nil {
		return err
	}
	return writePNG(w, drawImage(s.render.rand("image", id), digits))
}

// WriteAudio renders challenge id as spoken digits in a WAV file.
func (s *Service) WriteAudio(w io.Writer, id string) error {
	digits, _, _, err := s.open(id)
	if err != nil {
		return err
	}
	v, err := loadVoice()
	if err != nil {
		return err
	}
	return writeWAV(w, speak(s.render.rand("audio", id), &v, digits).mix())
}
