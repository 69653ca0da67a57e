package account

import (
	"bytes"
	"testing"
	"unicode/utf8"

	"github.com/hellosvc/hello/internal/b64url"
)

// FuzzParseToken: a token is accepted only in its canonical spelling, and names its user.
func FuzzParseToken(f *testing.F) {
	tok, _, _ := newToken(bytes.NewReader(make([]byte, 64)), "alice")
	f.Add(tok)
	f.Add(tok + "=")
	f.Add("YWxpY2U.\n" + tok[6:])
	f.Fuzz(func(t *testing.T, token string) {
		name, hash, ok := parseToken(token)
		if !ok {
			return
		}
		if len(hash) != 32 || name == "" {
			t.Fatalf("parseToken(%q) = %q, %x", token, name, hash)
		}
		if want := b64url.Encode([]byte(name)); token[:len(want)] != want || token[len(want)] != '.' {
			t.Fatalf("accepted %q, not the canonical spelling of user %q", token, name)
		}
	})
}

// FuzzNormalizeUsername: normalisation is idempotent and its output obeys the rules.
func FuzzNormalizeUsername(f *testing.F) {
	for _, s := range []string{"Alice", "ＡＬＩＣＥ", "аlice", "bob.smith_1-2", "ß", "ǅ", "ﬁ", "Ꭱၡ၁", "Bob.SMITH_1-2", "K\u212a", "\x00Az[`@{"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if fast, full := foldNFKC(raw), foldUnicode(raw); fast != full {
			t.Fatalf("%q folds to %q, but to %q by NFKC and case folding", raw, fast, full)
		}
		name, err := NormalizeUsername(raw)
		if err != nil {
			return
		}
		again, err := NormalizeUsername(name)
		if err != nil || again != name {
			t.Fatalf("NormalizeUsername(%q) = %q, but %q normalises to %q (%v)", raw, name, name, again, err)
		}
		if n := utf8.RuneCountInString(name); n < MinUsernameLen || n > MaxUsernameLen {
			t.Fatalf("NormalizeUsername(%q) = %q of %d characters", raw, name, n)
		}
	})
}

// FuzzValidatePassword: no input panics, and what passes is valid UTF-8 of a bounded length.
func FuzzValidatePassword(f *testing.F) {
	for _, s := range []string{"correct horse", "\xff\xfe", "ﬀﬀﬀﬀ", "１２３４５６７８"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pw string) {
		if ValidatePassword(pw) == nil && (!utf8.ValidString(pw) || len(pw) > 4*MaxPasswordLen*18) {
			t.Fatalf("ValidatePassword accepted %q", pw)
		}
	})
}
