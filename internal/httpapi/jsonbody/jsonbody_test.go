package jsonbody

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// creds has the tags of the login body, the body Flat is for.
type creds struct {
	Username      string `json:"username"`
	Password      string `json:"password"`
	CaptchaID     string `json:"captcha_id"`
	CaptchaAnswer string `json:"captcha_answer"`
	CaptchaToken  string `json:"captcha_token"`
}

var credNames = []string{"username", "password", "captcha_id", "captcha_answer", "captcha_token"}

// flatCreds is Flat into creds.
func flatCreds(body []byte) (creds, bool) {
	var v [5]string
	ok := Flat(body, credNames, v[:])
	return creds{v[0], v[1], v[2], v[3], v[4]}, ok
}

// FuzzStrict: whatever the body (valid UTF-8, as the handlers pass it), Strict never panics,
// and what it accepts is one object whose keys are the struct's field names.
func FuzzStrict(f *testing.F) {
	for _, s := range []string{
		`{"username":"alice","password":"correct horse"}`,
		`{"USERNAME":"alice"}`, `{"username":"a","username":"b"}`, `null`, `[]`, `{}{}`,
		`{"username":"\u0061","captcha_id":"x\ny"}`, "{\"password\":\"\xff\"}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		if !utf8.ValidString(body) {
			return
		}
		var c creds
		if Strict([]byte(body), &c) != nil {
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

// FuzzFlatAsStrict: Flat takes only bodies that Strict accepts, and gives the same values; on
// any other body every value is empty.
func FuzzFlatAsStrict(f *testing.F) {
	for _, s := range []string{
		`{"username":"alice","password":"correct horse"}`, `{}`, ` { } `, "\t{\"password\":\"é ü\"}\r\n",
		`{"username":"a" , "password" : "b"}`, `{"username":"a","username":"b"}`, `{"Username":"a"}`,
		`{"username":"a\"b"}`, `{"username":"\u0061"}`, `{"username":1}`, `{"username":null}`,
		`{"username":"a"}x`, `{"username":"a"}{}`, `{"username":"a",}`, `{,}`, `{"captcha_id":"x\ny"}`,
		`{"captcha_id":"1","captcha_answer":"2","captcha_token":"3"}`, "{\"password\":\"\x7f\u2028\"}",
		`{"unknown":"a"}`, `[]`, `null`, `"a"`, `{"username":"a"`, `{"username"}`, `{"username":}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		if !utf8.ValidString(body) {
			return // decodeJSON refuses it before decoding
		}
		fast, ok := flatCreds([]byte(body))
		if !ok {
			if fast != (creds{}) {
				t.Fatalf("refused %q but set values %+v", body, fast)
			}
			return
		}
		var strict creds
		if err := Strict([]byte(body), &strict); err != nil {
			t.Fatalf("fast path accepted %q, strict decoding refuses it: %v", body, err)
		}
		if fast != strict {
			t.Fatalf("%q: fast path %+v, strict %+v", body, fast, strict)
		}
	})
}

// TestFlatMatchesStrict compares the fast path with strict decoding on bodies built near
// the fast path's edge: the credentials' keys and others, in any order, repeated or not, with
// values of every kind, JSON and other whitespace, stray bytes, one byte changed.
func TestFlatMatchesStrict(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(s ...string) string { return s[rng.IntN(len(s))] }
	for n := range 100000 {
		wild := n%2 == 0 // else well formed, but for the changed byte below
		either := func(good, bad string) string {
			if wild && rng.IntN(4) == 0 {
				return bad
			}
			return good
		}
		space := func() string {
			if wild {
				return pick("", "", " ", "\t", "\n", "\r", "  ", "\v", "\u00a0", "\f")
			}
			return pick("", "", "", " ", "\t", "\n", "\r", " \r\n ")
		}
		value := func() string {
			if wild && rng.IntN(3) == 0 {
				return pick("1", "null", "true", "[]", "{}", `"a"`+"\x00", "", `"\"`, `"\\"`, `"\u0041"`, `"\n"`,
					"\"\x01\"", "\"\x1f\"", `"\ud800"`)
			}
			var b strings.Builder
			b.WriteByte('"')
			for range rng.IntN(12) {
				b.WriteString(pick("a", "Z", "0", " ", "é", "€", "😀", "'", "/", "<", "&", "}", ",", ":", "{", "\x7f", "\u2028", "\ufffd"))
			}
			b.WriteByte('"')
			return b.String()
		}
		key := func() string {
			k := pick("username", "password", "captcha_id", "captcha_answer", "captcha_token")
			if wild && rng.IntN(3) == 0 {
				k = pick("Username", "user", "", "usernamex", `user\u006eame`, "all", "USERNAME")
			}
			return `"` + k + `"`
		}
		var b strings.Builder
		b.WriteString(space() + either("{", pick("[", "", "{{")) + space())
		for i := range rng.IntN(6) {
			if i > 0 {
				b.WriteString(space() + either(",", pick("", ";", ",,")) + space())
			}
			b.WriteString(key() + space() + either(":", pick("", "=", "::")) + space() + value())
		}
		b.WriteString(space() + either("}", pick("", "}}", "},")) + space() + either("", pick("x", "{}", "\x00", "null")))
		body := []byte(b.String())
		if n%3 == 0 && len(body) > 0 { // one byte changed
			body[rng.IntN(len(body))] = byte(rng.IntN(128))
		}
		if !utf8.Valid(body) {
			continue
		}
		var strict creds
		fast, ok := flatCreds(body)
		err := Strict(body, &strict)
		switch {
		case !ok && fast != (creds{}):
			t.Fatalf("refused %q but set values %+v", body, fast)
		case ok && err != nil:
			t.Fatalf("fast path accepted %q, strict decoding refuses it: %v", body, err)
		case ok && fast != strict:
			t.Fatalf("%q: fast path %+v, strict %+v", body, fast, strict)
		}
	}
}
