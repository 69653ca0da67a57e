package captcha

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/hellosvc/hello/internal/account"
)

// SiteverifyURLs are the providers' server-side verification endpoints.
var SiteverifyURLs = map[string]string{
	"turnstile": "https://challenges.cloudflare.com/turnstile/v0/siteverify",
	"hcaptcha":  "https://api.hcaptcha.com/siteverify",
	"recaptcha": "https://www.google.com/recaptcha/api/siteverify",
}

// FormFields are the form fields each provider's widget fills with its token.
var FormFields = map[string]string{
	"turnstile": "cf-turnstile-response",
	"hcaptcha":  "h-captcha-response",
	"recaptcha": "g-recaptcha-response",
}

// Provider verifies third-party captcha tokens (all three share one siteverify protocol).
type Provider struct {
	Name      string // turnstile, hcaptcha or recaptcha
	SiteKey   string // public, shown to browsers
	Secret    string // private, sent only to the provider
	VerifyURL string // default: SiteverifyURLs[Name]
	Client    *http.Client
}

var errUnavailable = &account.Error{Code: account.CodeCaptchaUnavailable, Message: "captcha verification is temporarily unavailable", RetryAfter: 5 * time.Second}

// Verify asks the provider whether token is a solved challenge.
func (p *Provider) Verify(ctx context.Context, token string, sender netip.Addr) error {
	endpoint := p.VerifyURL
	if endpoint == "" {
		endpoint = SiteverifyURLs[p.Name]
	}
	form := url.Values{"secret": {p.Secret}, "response": {token}}
	if sender.IsValid() {
		form.Set("remoteip", sender.String())
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	client := p.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		e := *errUnavailable
		e.Err = fmt.Errorf("%s siteverify: %w", p.Name, err)
		return &e
	}
	defer func() { _ = resp.Body.Close() }()
	var out struct {
		Success bool `json:"success"`
	}
	if resp.StatusCode != http.StatusOK {
		e := *errUnavailable
		e.Err = fmt.Errorf("%s siteverify answered %s", p.Name, resp.Status)
		return &e
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&out); err != nil {
		e := *errUnavailable
		e.Err = fmt.Errorf("%s siteverify: %w", p.Name, err)
		return &e
	}
	if !out.Success {
		return ErrInvalid
	}
	return nil
}
