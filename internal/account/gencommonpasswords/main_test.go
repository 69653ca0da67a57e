package main

import (
	"bytes"
	"compress/gzip"
	"slices"
	"strings"
	"testing"
)

func TestUsable(t *testing.T) {
	src := strings.Join([]string{
		"password1234\r",               // CRLF line ends are part of the source
		"Password1234",                 // the same password once case-folded
		"ＰＡＳＳＷＯＲＤ１２３４",                 // and once NFKC-normalised
		"123456",                       // shorter than any signup accepts
		"ﬀﬀﬀﬀ",                         // 4 typed, 8 after NFKC: a signup accepts it
		"e\u0301e\u0301e\u0301e\u0301", // 8 typed, 4 after NFKC: no signup accepts it
		strings.Repeat("x", 257),
		"iloveyou",
		"invalid \xff utf-8",
	}, "\n")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(src))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	forms, read, err := usable(&gz)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ffffffff", "iloveyou", "password1234"}
	if read != 9 || !slices.Equal(forms, want) {
		t.Fatalf("usable = %q (%d read), want %q (9 read)", forms, read, want)
	}
}
