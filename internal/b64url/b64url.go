// Package b64url decodes the unpadded base64url text of ids, tokens and cookies canonically:
// one byte string has exactly one accepted spelling. encoding/base64 skips '\r' and '\n' and
// ignores non-zero trailing bits, so without this an attacker can respell one id many ways and
// every record keyed on the text (a spent captcha, a cache entry) is fooled.
package b64url

import "encoding/base64"

var enc = base64.RawURLEncoding

// Encode returns the unpadded base64url text of b.
func Encode(b []byte) string { return enc.EncodeToString(b) }

// Decode returns the bytes spelled by s, which must be their canonical encoding: unpadded
// base64url with no other characters, and the one spelling Encode gives for them. n > 0 also
// requires exactly n bytes, checked on the length before anything is decoded; maxLen bounds s
// when n is 0. ok is false otherwise.
func Decode(s string, n, maxLen int) (b []byte, ok bool) {
	switch {
	case n > 0 && len(s) != enc.EncodedLen(n):
		return nil, false
	case n <= 0 && len(s) > maxLen:
		return nil, false
	}
	b, err := enc.DecodeString(s)
	if err != nil || (n > 0 && len(b) != n) || enc.EncodeToString(b) != s {
		return nil, false
	}
	return b, true
}

// EncodedLen is the length of the text of n bytes.
func EncodedLen(n int) int { return enc.EncodedLen(n) }
