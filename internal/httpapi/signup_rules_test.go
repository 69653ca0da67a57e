package httpapi_test

import (
	"bytes"
	"html"
	"net/http"
	"testing"

	"github.com/hellosvc/hello/internal/testenv"
)

// Signup refusals a person must understand: a common password (400 weak_password) and a
// look-alike name (400 invalid_request), each with its reason, in JSON and on the form.
func TestSignupRefusalsReachTheUser(t *testing.T) {
	h := testenv.StartHello(t, nil)
	c := testenv.NewClient(t, h.URL)
	if r := c.PostJSON("/api/signup", creds("alice", "correct horse battery")); r.Status != http.StatusCreated {
		t.Fatalf("signup alice = %d %s", r.Status, r.Body)
	}
	tests := []struct {
		name, user, pass string
		code, message    string
	}{
		{"common password", "dora", "password1234", "weak_password", "list of common and breached passwords"},
		{"common password, other case", "dora", "PassWord1234", "weak_password", "list of common and breached passwords"},
		{"Cyrillic а in alice", "\u0430lice", "correct horse battery", "invalid_request", "could pass for another name"},
	}
	for _, tt := range tests {
		r := c.PostJSON("/api/signup", creds(tt.user, tt.pass))
		msg, _ := r.JSON(t)["message"].(string)
		if r.Status != http.StatusBadRequest || r.Code() != tt.code || !bytes.Contains([]byte(msg), []byte(tt.message)) {
			t.Errorf("%s: POST /api/signup = %d %s, want 400 %s saying %q", tt.name, r.Status, r.Body, tt.code, tt.message)
		}
		r = c.PostForm("/signup", form(tt.user, tt.pass))
		if r.Status != http.StatusBadRequest || !bytes.Contains(r.Body, []byte(html.EscapeString(tt.message))) {
			t.Errorf("%s: POST /signup = %d, want 400 with %q on the form:\n%s", tt.name, r.Status, tt.message, r.Body)
		}
	}
	// A weak password is no reason to refuse a login: it is checked as any other.
	if r := c.PostJSON("/api/login", creds("nobody", "password1234")); r.Status != http.StatusUnauthorized || r.Code() != "invalid_credentials" {
		t.Errorf("login with a common password = %d %s, want 401 invalid_credentials", r.Status, r.Body)
	}
}
