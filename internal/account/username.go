package account

import (
	"slices"
	"strings"
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
	name := foldNFKC(raw)
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

func foldNFKC(s string) string {
	upper := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return foldUnicode(s)
		}
		upper = upper || 'A' <= c && c <= 'Z'
	}
	// ASCII, which most names are: NFKC leaves it as it is and folding lowers A-Z only. This
	// runs for every login, refused ones included, so it skips building a caser.
	if !upper {
		return s
	}
	return strings.ToLower(s)
}

func foldUnicode(s string) string {
	return norm.NFKC.String(strings.Map(cherokeeFold, cases.Fold().String(norm.NFKC.String(s))))
}

// cherokeeFold finishes what x/text's fold gets wrong: Cherokee's small letters, added after
// its capitals, fold to the capitals (CaseFolding.txt "AB70; C; 13A0"), while x/text lowers
// the capitals, so its fold swapped the two cases and was not idempotent.
func cherokeeFold(r rune) rune {
	if unicode.Is(unicode.Cherokee, r) && unicode.IsLower(r) {
		return unicode.ToUpper(r)
	}
	return r
}

// validateSignup applies the rules that only new accounts must meet: names made and passwords
// chosen before a rule existed still log in.
func validateSignup(name, password string) error {
	if err := validateNewUsername(name); err != nil {
		return err
	}
	if err := ValidatePassword(password); err != nil {
		return err
	}
	return checkCommonPassword(password)
}

// validateNewUsername refuses a normalised name that could pass for another one by mixing
// writing systems: "аlice" with a Cyrillic "а" beside "alice", or "١23" with an Arabic-Indic
// one. It applies UTS #39's "Highly Restrictive" level (section 5.2) and its mixed-number
// check (section 5.3).
func validateNewUsername(name string) error {
	if scripts := scriptsOf(name); !highlyRestrictive(scripts) {
		return Errorf(CodeInvalidRequest,
			"username mixes the %s scripts, so it could pass for another name: use the letters of one script (Latin may go with Chinese, Japanese or Korean)",
			strings.Join(scripts, " and "))
	}
	var zero rune = -1
	for _, r := range name {
		z, ok := digitZero(r)
		if !ok {
			continue
		}
		if zero >= 0 && z != zero {
			return Errorf(CodeInvalidRequest,
				"username mixes digits of different number systems (%c and %c), so it could pass for another name: use one", zero, z)
		}
		zero = z
	}
	return nil
}

// scriptsOf lists the scripts of name's characters in order of appearance, leaving out Common
// and Inherited (digits, '.', '_', '-', combining marks), which do not count towards a script.
func scriptsOf(name string) []string {
	var (
		scripts []string
		last    *unicode.RangeTable // most letters share the script of the one before
	)
	for _, r := range name {
		if unicode.In(r, unicode.Common, unicode.Inherited) || last != nil && unicode.Is(last, r) {
			continue
		}
		for script, table := range unicode.Scripts {
			if unicode.Is(table, r) {
				if !slices.Contains(scripts, script) {
					scripts = append(scripts, script)
				}
				last = table
				break
			}
		}
	}
	return scripts
}

// highlyRestrictiveSets are the mixes UTS #39 section 5.2 allows beyond a single script: how
// Japanese, Chinese (with Bopomofo) and Korean are written, each with Latin.
var highlyRestrictiveSets = [][]string{
	{"Latin", "Han", "Hiragana", "Katakana"},
	{"Latin", "Han", "Bopomofo"},
	{"Latin", "Han", "Hangul"},
}

func highlyRestrictive(scripts []string) bool {
	if len(scripts) <= 1 {
		return true
	}
	for _, allowed := range highlyRestrictiveSets {
		covered := true
		for _, s := range scripts {
			covered = covered && slices.Contains(allowed, s)
		}
		if covered {
			return true
		}
	}
	return false
}

// digitZero returns the zero of r's decimal number system (UTS #39 section 5.3), if r is a
// decimal digit. Unicode encodes each system as ten consecutive code points from zero, so in
// the Nd table every range is a run of whole systems (TestDigitSystems checks it).
func digitZero(r rune) (rune, bool) {
	for _, rg := range unicode.Nd.R16 {
		if lo, hi := rune(rg.Lo), rune(rg.Hi); lo <= r && r <= hi {
			return lo + (r-lo)/10*10, true
		}
	}
	for _, rg := range unicode.Nd.R32 {
		if lo, hi := rune(rg.Lo), rune(rg.Hi); lo <= r && r <= hi {
			return lo + (r-lo)/10*10, true
		}
	}
	return 0, false
}
