// Command gencommonpasswords builds internal/account/commonpasswords.txt.gz from a password
// list (gzip, one password per line): it keeps what a signup could choose (8 to 256 characters,
// counted as ValidatePassword counts), in account.CommonPasswordForm, deduplicated and sorted,
// so the output is the same for the same input. scripts/gen-common-passwords runs it.
package main

import (
	"bufio"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/hellosvc/hello/internal/account"
)

func main() {
	in := flag.String("in", "", "source list, gzip-compressed, one password per line")
	out := flag.String("out", "internal/account/commonpasswords.txt.gz", "file to write")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gencommonpasswords:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	src, err := os.Open(in)
	if err != nil {
		return err
	}
	forms, read, err := usable(src)
	_ = src.Close() // read-only: a failed close loses nothing
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	zw, err := gzip.NewWriterLevel(f, gzip.BestCompression)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(zw)
	for _, p := range forms {
		_, _ = w.WriteString(p + "\n") // a write error resurfaces at Flush
	}
	for _, step := range []func() error{w.Flush, zw.Close, f.Close} {
		if err := step(); err != nil {
			return fmt.Errorf("%s: %w", out, err)
		}
	}
	fmt.Printf("%s: %d passwords read, %d kept\n", out, read, len(forms))
	return nil
}

// usable returns the distinct comparison forms of the passwords a signup could choose.
func usable(r io.Reader) (forms []string, read int, err error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, 0, err
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		pw := strings.TrimSuffix(sc.Text(), "\r") // part of the list has CRLF line ends
		read++
		if !utf8.ValidString(pw) {
			continue
		}
		form := account.CommonPasswordForm(pw)
		if account.ValidatePassword(pw) != nil && account.ValidatePassword(form) != nil {
			continue
		}
		if !seen[form] {
			seen[form] = true
			forms = append(forms, form)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, 0, err
	}
	slices.Sort(forms)
	return forms, read, nil
}
