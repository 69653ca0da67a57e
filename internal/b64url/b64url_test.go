package b64url

import (
	"bytes"
	"testing"
)

func TestDecodeRefusesEverySpellingButOne(t *testing.T) {
	raw := []byte("0123456789abcdefghij") // 20 bytes: 27 characters, 2 trailing bits unused
	good := Encode(raw)
	if b, ok := Decode(good, len(raw), 0); !ok || !bytes.Equal(b, raw) {
		t.Fatalf("canonical spelling refused: %q", good)
	}
	bad := []string{
		good[:5] + "\n" + good[5:],      // base64 decoders skip newlines
		good[:5] + "\r" + good[5:],      // and carriage returns
		good + "\n",                     // trailing newline
		good + "=",                      // padding
		sameBytesOtherBits(good),        // same bytes, non-zero unused bits
		good[:len(good)-1],              // too short
		good + "A",                      // too long
		"",                              // empty
		good[:10] + "+" + good[11:],     // std alphabet
		good[:10] + " " + good[11:],     // space
		string(make([]byte, len(good))), // NULs
	}
	for _, s := range bad {
		if _, ok := Decode(s, len(raw), 0); ok {
			t.Errorf("Decode(%q) accepted a non-canonical spelling", s)
		}
	}
	if _, ok := Decode(good, 0, len(good)-1); ok {
		t.Error("maxLen not enforced")
	}
	if b, ok := Decode(good, 0, len(good)); !ok || !bytes.Equal(b, raw) {
		t.Error("variable-length canonical spelling refused")
	}
}

// sameBytesOtherBits sets an unused trailing bit of s's last character.
func sameBytesOtherBits(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	v := bytes.IndexByte([]byte(alphabet), s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[v|1])
}

func FuzzDecode(f *testing.F) {
	f.Add(Encode([]byte("hello")), 5)
	f.Add("aGVsbG8\n", 5)
	f.Add("aGVsbG9=", 0)
	f.Fuzz(func(t *testing.T, s string, n int) {
		n %= 64
		b, ok := Decode(s, n, 128)
		if !ok {
			return
		}
		if Encode(b) != s {
			t.Fatalf("accepted %q, which is not the canonical spelling %q of its bytes", s, Encode(b))
		}
		if n > 0 && len(b) != n {
			t.Fatalf("accepted %d bytes, want %d", len(b), n)
		}
	})
}
