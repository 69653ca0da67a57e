package account

import (
	"strings"
	"testing"
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

func TestValidatePassword(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"12345678", true},
		{"1234567", false},
		{strings.Repeat("é", 8), true}, // counted in characters, not bytes
		{strings.Repeat("x", 256), true},
		{strings.Repeat("x", 257), false},
		{"' OR '1'='1", true},
		{"pass\xffword", false},
	}
	for _, tt := range tests {
		if err := ValidatePassword(tt.in); (err == nil) != tt.ok {
			t.Errorf("ValidatePassword(%q) = %v, want ok=%v", tt.in, err, tt.ok)
		}
	}
}
