package account

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Username limits, counted in characters (runes) after normalisation.
const (
	MinUsernameLen = 3
	MaxUsernameLen = 64
	MinPasswordLen = 8
	MaxPasswordLen = 256
)

// NormalizeUsername returns the canonical form of a user name, the form that is stored and
// compared: Unicode NFKC, then case-folded (and NFKC again, since folding can denormalise).
// Two spellings of one name ("Alice", "ＡＬＩＣＥ") give the same result. Allowed characters
// are letters, digits, '.', '_' and '-'.
func NormalizeUsername(raw string) (string, error) {
	if !utf8.ValidString(raw) {
		return "", Errorf(CodeInvalidRequest, "username is not valid UTF-8")
	}
	name := norm.NFKC.String(cases.Fold().String(norm.NFKC.String(raw)))
	n := utf8.RuneCountInString(name)
	if n < MinUsernameLen || n > MaxUsernameLen {
		return "", Errorf(CodeInvalidRequest, "username must be %d to %d characters long", MinUsernameLen, MaxUsernameLen)
	}
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '.' && r != '_' && r != '-' {
			return "", Errorf(CodeInvalidRequest, "username may contain only letters, digits, '.', '_' and '-'")
		}
	}
	return name, nil
}

// ValidatePassword applies NIST SP 800-63B length rules: 8 to 256 characters of any Unicode,
// no composition rules.
func ValidatePassword(pw string) error {
	if !utf8.ValidString(pw) {
		return Errorf(CodeInvalidRequest, "password is not valid UTF-8")
	}
	n := utf8.RuneCountInString(pw)
	if n < MinPasswordLen || n > MaxPasswordLen {
		return Errorf(CodeInvalidRequest, "password must be %d to %d characters long", MinPasswordLen, MaxPasswordLen)
	}
	return nil
}
