package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzDecodeJSON: whatever the body, decodeJSON never panics, and what it accepts is one
// object whose keys are exactly the struct's field names, each once.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"username":"alice","password":"correct horse"}`,
		`{"USERNAME":"alice"}`, `{"username":"a","username":"b"}`, `null`, `[]`, `{}{}`,
		`{"username":"\u0061","captcha_id":"x\ny"}`, "{\"password\":\"\xff\"}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/api/login", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		var c credentials
		if decodeJSON(r, &c) != nil {
			return
		}
		var top map[string]json.RawMessage
		dec := json.NewDecoder(bytes.NewReader([]byte(body)))
		if err := dec.Decode(&top); err != nil || top == nil {
			t.Fatalf("accepted %q, which is not a JSON object", body)
		}
		fields := fieldsOf(&c)
		for k := range top {
			if !fields[k] {
				t.Fatalf("accepted %q with key %q", body, k)
			}
		}
	})
}
