package testenv

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
)

// Client talks to a hello service in tests. It keeps cookies like a browser and never follows
// redirects, so tests see exactly what the server answered.
type Client struct {
	t    testing.TB
	base string
	HTTP *http.Client
}

// Response is a fully read HTTP response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a map (failing the test if it is not a JSON object).
func (r Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response body is not a JSON object: %v\n%s", err, r.Body)
	}
	return m
}

// Code returns the "error" field of a JSON error body, or "".
func (r Response) Code() string {
	var m struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &m)
	return m.Error
}

// NewClient returns a client for the service at base (http://host:port).
func NewClient(t testing.TB, base string) *Client {
	jar, _ := cookiejar.New(nil)
	return &Client{t: t, base: base, HTTP: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Do sends a request; header pairs are name, value, name, value...
func (c *Client) Do(method, path, contentType, body string, header ...string) Response {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// PostJSON posts a JSON body (given as text, so tests can send malformed JSON too).
func (c *Client) PostJSON(path, body string, header ...string) Response {
	c.t.Helper()
	return c.Do(http.MethodPost, path, "application/json", body, header...)
}

// Get sends a GET.
func (c *Client) Get(path string, header ...string) Response {
	c.t.Helper()
	return c.Do(http.MethodGet, path, "", "", header...)
}

// PostForm posts a URL-encoded form.
func (c *Client) PostForm(path, form string, header ...string) Response {
	c.t.Helper()
	return c.Do(http.MethodPost, path, "application/x-www-form-urlencoded", form, header...)
}
