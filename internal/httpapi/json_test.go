package httpapi

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hellosvc/hello/internal/httpapi/jsonbody"
)

// The login body's fast path fills credentials by position: each value must land in the field
// the strict decoder puts it in.
func TestFastCredentialsMatchStrict(t *testing.T) {
	body := `{"captcha_token":"t","username":"u","captcha_answer":"a","password":"p","captcha_id":"i"}`
	r := httptest.NewRequest("POST", "/api/login", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	var fast, strict credentials
	if err := decodeCredentials(r, &fast); err != nil {
		t.Fatal(err)
	}
	if err := jsonbody.Strict([]byte(body), &strict); err != nil {
		t.Fatal(err)
	}
	if fast != strict || fast.Username != "u" {
		t.Fatalf("fast path %+v, strict %+v", fast, strict)
	}
}
