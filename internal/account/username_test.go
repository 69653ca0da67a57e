package account

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestNormalizeUsername(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"alice", "alice", true},
		{"Alice", "alice", true},
		{"ＡＬＩＣＥ", "alice", true}, // fullwidth letters fold to the same name
		{"ﬁsh", "fish", true},    // ligature decomposes under NFKC
		{"Straße", "strasse", true},
		{"józef.k_9-x", "józef.k_9-x", true},
		{"Ӑ123", "ӑ123", true},
		// Cherokee folds to its capital letters (CaseFolding.txt: "AB71; C; 13A1"), so both
		// cases name one account.
		{"Ꭱၡ၁", "Ꭱၡ၁", true},
		{"ꭱၡ၁", "Ꭱၡ၁", true},
		{"ᏸᎡᎢ", "ᏰᎡᎢ", true},
		{"ab", "", false},
		{strings.Repeat("a", 64), strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), "", false},
		{"bob smith", "", false},
		{"bob'; DROP TABLE accounts;--", "", false},
		{"<script>", "", false},
		{"\xff\xfeabc", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, err := NormalizeUsername(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("NormalizeUsername(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && CodeOf(err) != CodeInvalidRequest {
			t.Errorf("NormalizeUsername(%q) error code = %s, want invalid_request", tt.in, CodeOf(err))
		}
	}
}

// The stored form is a fixed point for every character: a name read back from storage and
// normalised again must find the same account (x/text's fold alone swaps Cherokee's cases).
func TestEveryCharacterFoldsToAFixedPoint(t *testing.T) {
	bad := 0
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		once := foldNFKC(string(r))
		if twice := foldNFKC(once); twice != once {
			if bad++; bad <= 5 {
				t.Errorf("%U %q folds to %q, which folds to %q", r, string(r), once, twice)
			}
		}
	}
	if bad > 5 {
		t.Errorf("and %d more characters", bad-5)
	}
}

// A new name may not mix scripts or digit systems (UTS #39 "Highly Restrictive" and mixed-
// number detection): each refused name below reads as a name that uses one script.
func TestValidateNewUsername(t *testing.T) {
	tests := []struct {
		name, in string
		ok       bool
		msg      string // part of the error message
	}{
		{"Latin", "alice", true, ""},
		{"Latin with accents, digits and punctuation", "józef.k_9-x", true, ""},
		{"fullwidth Latin is Latin after NFKC", "ａlice", true, ""},
		{"Cyrillic", "иван", true, ""},
		{"Cyrillic with digits", "Ӑ123", true, ""},
		{"Greek", "ελένη", true, ""},
		{"Cyrillic а (U+0430) in alice", "\u0430lice", false, "Cyrillic and Latin"},
		{"Cyrillic р and а in paypal", "\u0440\u0430ypal", false, "Cyrillic and Latin"},
		{"Cyrillic е in steve", "st\u0435ve", false, "Latin and Cyrillic"},
		{"Greek ο (omicron) in bob", "b\u03bfb", false, "Latin and Greek"},
		{"Greek ν (nu) in kevin", "kevi\u03bd", false, "Latin and Greek"},
		{"Latin, Greek and Cyrillic", "a\u03b1\u0430", false, "Latin and Greek and Cyrillic"},
		{"Armenian օ (U+0585) in bob", "b\u0585b", false, "Latin and Armenian"},
		{"Japanese: Han, Hiragana, Katakana", "やまだタロウ山田", true, ""},
		{"Japanese with Latin and the prolonged sound mark", "tanakaターミナル太郎", true, ""},
		{"Chinese with Bopomofo", "王小明ㄅㄆ", true, ""},
		{"Korean with Han and Latin", "kim김철수金", true, ""},
		{"Hangul with Hiragana", "김やまだ", false, "Hangul and Hiragana"},
		{"Bopomofo with Katakana", "ㄅㄆタ", false, "Bopomofo and Katakana"},
		{"Han with Cyrillic", "山田\u0430", false, "Han and Cyrillic"},
		{"Arabic-Indic digits", "٣٤٥", true, ""},
		{"Devanagari digits", "१२३", true, ""},
		{"mathematical digits are ASCII after NFKC", "user𝟏𝟐𝟑", true, ""},
		{"Latin with an Arabic-Indic digit", "alice\u0661", false, "Latin and Arabic"},
		{"Latin with a Devanagari digit", "bob\u0967", false, "Latin and Devanagari"},
		{"ASCII with Arabic-Indic digits", "\u0661" + "23", false, "different number systems"},
		{"Arabic-Indic with Extended Arabic-Indic (both Arabic script)", "\u0661\u06f2\u0663", false, "different number systems"},
		{"Bengali digits with ASCII", "\u09e7\u09e8" + "3", false, "different number systems"},
	}
	for _, tt := range tests {
		name, err := NormalizeUsername(tt.in)
		if err != nil {
			t.Fatalf("%s: NormalizeUsername(%q) = %v", tt.name, tt.in, err)
		}
		err = validateNewUsername(name)
		if (err == nil) != tt.ok {
			t.Errorf("%s: validateNewUsername(%q) = %v, want ok=%v", tt.name, name, err, tt.ok)
			continue
		}
		if err != nil && (CodeOf(err) != CodeInvalidRequest || !strings.Contains(err.Error(), tt.msg)) {
			t.Errorf("%s: error %v, want invalid_request saying %q", tt.name, err, tt.msg)
		}
	}
}

// digitZero relies on every decimal digit system being ten consecutive code points from its
// zero, so that each range of unicode.Nd is a run of whole systems.
func TestDigitSystems(t *testing.T) {
	for _, rg := range unicode.Nd.R16 {
		if rg.Stride != 1 || (rg.Hi-rg.Lo+1)%10 != 0 {
			t.Errorf("Nd range %U..%U stride %d is not whole digit systems", rg.Lo, rg.Hi, rg.Stride)
		}
	}
	for _, rg := range unicode.Nd.R32 {
		if rg.Stride != 1 || (rg.Hi-rg.Lo+1)%10 != 0 {
			t.Errorf("Nd range %U..%U stride %d is not whole digit systems", rg.Lo, rg.Hi, rg.Stride)
		}
	}
	for r, zero := range map[rune]rune{'7': '0', '\u0663': '\u0660', '\u06f3': '\u06f0', '\u096d': '\u0966', '\U0001d7d9': '\U0001d7d8'} {
		if z, ok := digitZero(r); !ok || z != zero {
			t.Errorf("digitZero(%U) = %U, %v; want %U", r, z, ok, zero)
		}
	}
	if _, ok := digitZero('a'); ok {
		t.Error("digitZero('a') reports a digit")
	}
}

// BenchmarkNormalizeUsername: every login normalises its name, refused ones included. The
// reference is the full NFKC and case-folding path that non-ASCII names take.
func BenchmarkNormalizeUsername(b *testing.B) {
	for _, name := range []string{"Alice.Smith", "Józef.K"} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = NormalizeUsername(name)
			}
		})
	}
	b.Run("reference: full path for Alice.Smith", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = foldUnicode("Alice.Smith")
		}
	})
}
