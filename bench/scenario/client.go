package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hellosvc/hello/internal/captcha"
)

// deviceCookie is the name of hello's trusted-device cookie (README: `hello_device`). The
// runner keeps it by hand: in production the cookie is Secure, which a cookie jar would not
// send over the loopback's plain HTTP.
const deviceCookie = "hello_device"

// client sends the scenario's requests. Real users and attackers get separate connection
// pools, so neither waits for a connection the other holds; the attackers' is the leaner
// connTransport when the target is plain HTTP with an explicit port (the loopback targets).
type client struct {
	base            string
	timeout         time.Duration
	users, attacker *http.Client
	solver          *captcha.Service // reads a challenge with the target's secret
}

func newClient(base string, timeout time.Duration, solver *captcha.Service) *client {
	pool := func() *http.Client {
		return &http.Client{Transport: &http.Transport{
			MaxIdleConns: 2048, MaxIdleConnsPerHost: 2048, IdleConnTimeout: time.Minute,
			DisableCompression: true,
		}}
	}
	attacker := pool()
	if host, ok := leanHost(base); ok {
		attacker = &http.Client{Transport: &connTransport{addr: host}}
	}
	return &client{base: base, timeout: timeout, users: pool(), attacker: attacker, solver: solver}
}

// leanHost returns base's host:port when the attackers use connTransport for it: plain HTTP,
// explicit port.
func leanHost(base string) (string, bool) {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" || u.Port() == "" {
		return "", false
	}
	return u.Host, true
}

// warm opens n keep-alive connections for the attackers' client.
func (c *client) warm(ctx context.Context, n int) error {
	t, ok := c.attacker.Transport.(*connTransport)
	if !ok {
		return errors.New("only the attackers' own transport (a plain-HTTP target with a port) keeps connections opened ahead")
	}
	return t.open(ctx, c.base, "/healthz", n)
}

// reply is what one request got.
type reply struct {
	status     int
	code       string // the error code of a JSON error body
	captchaID  string // the challenge offered with captcha_required or captcha_invalid
	imageURL   string
	device     string // a hello_device cookie the response set
	retryAfter bool
	err        error
}

// outcome names a reply for the tables and plots: the status, with the error code when
// there is one.
func (r reply) outcome() string {
	switch {
	case r.err != nil:
		return "error"
	case r.status < 300:
		return "200"
	case r.code == "":
		return fmt.Sprint(r.status)
	case r.status == http.StatusServiceUnavailable && !r.retryAfter:
		return fmt.Sprintf("%d %s (no Retry-After)", r.status, r.code)
	}
	return fmt.Sprintf("%d %s", r.status, r.code)
}

// String is the outcome, with the transport error when there was one.
func (r reply) String() string {
	if r.err != nil {
		return "error: " + r.err.Error()
	}
	return r.outcome()
}

func (r reply) ok() bool { return r.err == nil && r.status == http.StatusOK }

type loginRequest struct {
	name, password, ip, device string
	captchaID, answer          string
}

func (c *client) login(ctx context.Context, hc *http.Client, l loginRequest) reply {
	fields := map[string]string{"username": l.name, "password": l.password}
	if l.captchaID != "" {
		fields["captcha_id"], fields["captcha_answer"] = l.captchaID, l.answer
	}
	body, _ := json.Marshal(fields)
	hdr := http.Header{"Content-Type": {"application/json"}}
	if l.device != "" {
		hdr.Set("Cookie", deviceCookie+"="+l.device)
	}
	return c.do(ctx, hc, http.MethodPost, "/api/login", l.ip, hdr, body, nil)
}

// do sends one request from sender ip (X-Forwarded-For, believed from the trusted loopback
// proxy) and reads the reply, decoding a successful JSON body into into when it is not nil.
func (c *client) do(ctx context.Context, hc *http.Client, method, path, ip string, hdr http.Header, body []byte, into any) reply {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return reply{err: err}
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("X-Forwarded-For", ip)
	resp, err := hc.Do(req)
	if err != nil {
		return reply{err: err}
	}
	defer func() { _ = resp.Body.Close() }()
	r := reply{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After") != ""}
	for _, ck := range resp.Cookies() {
		if ck.Name == deviceCookie && ck.Value != "" {
			r.device = ck.Value
		}
	}
	if resp.StatusCode < 300 && into != nil {
		if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
			r.err = fmt.Errorf("%s: reading the body: %w", resp.Status, err)
		}
	}
	if resp.StatusCode < 400 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if _, err := io.Copy(io.Discard, resp.Body); err != nil && r.err == nil {
			r.err = err
		}
		return r
	}
	var e struct {
		Error   string `json:"error"`
		Captcha struct {
			ID       string `json:"captcha_id"`
			ImageURL string `json:"image_url"`
		} `json:"captcha"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		r.err = fmt.Errorf("%s: reading the error body: %w", resp.Status, err)
		return r
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	r.code, r.captchaID, r.imageURL = e.Error, e.Captcha.ID, e.Captcha.ImageURL
	return r
}

// readCaptcha loads the challenge's image, as a browser shows it, and returns the answer a
// person would type: read with the target's secret (the runner plays the person, not an OCR).
func (c *client) readCaptcha(ctx context.Context, hc *http.Client, r reply, ip string) (string, reply) {
	img := r.imageURL
	if img == "" {
		img = "/captcha/" + r.captchaID + ".png"
	}
	if got := c.do(ctx, hc, http.MethodGet, img, ip, nil, nil, nil); got.err != nil || got.status != http.StatusOK {
		return "", got
	}
	answer, err := c.solver.Answer(r.captchaID)
	if err != nil {
		return "", reply{err: fmt.Errorf("reading captcha: %w", err)}
	}
	return answer, reply{status: http.StatusOK}
}

// needsCaptcha reports whether a refusal asks for a captcha and offers one.
func (r reply) needsCaptcha() bool {
	return r.status == http.StatusForbidden && r.captchaID != "" &&
		(r.code == "captcha_required" || r.code == "captcha_invalid")
}

// errTaken is a signup for a name that exists.
var errTaken = errors.New("username taken")

// signup creates an account, solving the signup captcha as a person would.
func (c *client) signup(ctx context.Context, name, password, ip string) error {
	fields := map[string]string{"username": name, "password": password}
	var ch struct {
		ID string `json:"captcha_id"`
	}
	switch r := c.do(ctx, c.users, http.MethodPost, "/api/captcha", ip, nil, nil, &ch); {
	case r.status == http.StatusNotFound: // HELLO_CAPTCHA=off: signups need none
	case r.err != nil || r.status != http.StatusCreated:
		return fmt.Errorf("POST /api/captcha: %s", r)
	default:
		answer, err := c.solver.Answer(ch.ID)
		if err != nil {
			return fmt.Errorf("reading the signup captcha (is -secret the target's HELLO_SECRET?): %w", err)
		}
		fields["captcha_id"], fields["captcha_answer"] = ch.ID, answer
	}
	body, _ := json.Marshal(fields)
	r := c.do(ctx, c.users, http.MethodPost, "/api/signup", ip, http.Header{"Content-Type": {"application/json"}}, body, nil)
	switch {
	case r.status == http.StatusCreated:
		return nil
	case r.code == "username_taken":
		return errTaken
	}
	return fmt.Errorf("signing up %s: %s", name, r)
}
