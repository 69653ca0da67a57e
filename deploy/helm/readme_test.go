package helm

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite hello/README.md's parameter table from the ## @param comments of values.yaml")

const (
	readmeBegin = "<!-- @params:begin: generated from the ## @param comments of values.yaml; regenerate with `go test ./... -update` in deploy/helm -->"
	readmeEnd   = "<!-- @params:end -->"
)

var (
	sectionRe = regexp.MustCompile(`^\s*## @section\s+(.+?)\s*$`)
	paramRe   = regexp.MustCompile(`^\s*## @param\s+(\S+)\s+(.+?)\s*$`)
	atRe      = regexp.MustCompile(`^\s*## @`)
)

type param struct{ path, desc string }

type section struct {
	title  string
	params []param
}

// parseParams reads the @section and @param comments of values.yaml, in order.
func parseParams(src []byte) ([]section, error) {
	var out []section
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(src))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if m := sectionRe.FindStringSubmatch(line); m != nil {
			out = append(out, section{title: m[1]})
			continue
		}
		if m := paramRe.FindStringSubmatch(line); m != nil {
			if len(out) == 0 {
				return nil, fmt.Errorf("values.yaml:%d: @param before any @section", n)
			}
			if seen[m[1]] {
				return nil, fmt.Errorf("values.yaml:%d: @param %s documented twice", n, m[1])
			}
			seen[m[1]] = true
			out[len(out)-1].params = append(out[len(out)-1].params, param{m[1], m[2]})
			continue
		}
		if atRe.MatchString(line) {
			return nil, fmt.Errorf("values.yaml:%d: malformed annotation %q (want ## @section TITLE or ## @param PATH DESCRIPTION)", n, line)
		}
	}
	return out, sc.Err()
}

// leafPaths lists the documentable values: scalars, lists and empty maps.
func leafPaths(prefix string, m map[string]any) []string {
	var out []string
	for k, v := range m {
		p := strings.TrimPrefix(prefix+"."+k, ".")
		if mm, ok := v.(map[string]any); ok && len(mm) > 0 {
			out = append(out, leafPaths(p, mm)...)
			continue
		}
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// paramTable renders the README's parameter section.
func paramTable(sections []section, vals map[string]any) (string, error) {
	var b strings.Builder
	for i, s := range sections {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "### %s\n\n| Name | Description | Default |\n| --- | --- | --- |\n", s.title)
		for _, p := range s.params {
			def, err := json.Marshal(lookup(vals, p.path))
			if err != nil {
				return "", err
			}
			fmt.Fprintf(&b, "| `%s` | %s | `%s` |\n", p.path, escapeCell(p.desc), escapeCell(string(def)))
		}
	}
	return b.String(), nil
}

func escapeCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func TestReadmeParameters(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sections, err := parseParams(src)
	if err != nil {
		t.Fatal(err)
	}
	vals := readValuesFile(t, "values.yaml")

	// Every value is documented, and every @param names a value.
	var documented []string
	for _, s := range sections {
		if len(s.params) == 0 {
			t.Errorf("@section %q has no @param", s.title)
		}
		for _, p := range s.params {
			documented = append(documented, p.path)
		}
	}
	leaves := leafPaths("", vals)
	for _, l := range leaves {
		if !slices.Contains(documented, l) {
			t.Errorf("values.yaml: %s has no ## @param comment", l)
		}
	}
	for _, d := range documented {
		if !slices.Contains(leaves, d) {
			t.Errorf("values.yaml: ## @param %s names no value (or a map whose keys should be documented instead)", d)
		}
	}

	table, err := paramTable(sections, vals)
	if err != nil {
		t.Fatal(err)
	}
	readmePath := filepath.Join(chartDir, "README.md")
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok1 := strings.Cut(string(readme), readmeBegin)
	_, after, ok2 := strings.Cut(rest, readmeEnd)
	if !ok1 || !ok2 {
		t.Fatalf("%s lacks the markers %q ... %q", readmePath, readmeBegin, readmeEnd)
	}
	want := before + readmeBegin + "\n\n" + table + "\n" + readmeEnd + after
	if want == string(readme) {
		return
	}
	if *update {
		if err := os.WriteFile(readmePath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote %s", readmePath)
		return
	}
	gotLines, wantLines := strings.Split(string(readme), "\n"), strings.Split(want, "\n")
	for i := 0; i < len(gotLines) || i < len(wantLines); i++ {
		var g, w string
		if i < len(gotLines) {
			g = gotLines[i]
		}
		if i < len(wantLines) {
			w = wantLines[i]
		}
		if g != w {
			t.Fatalf("%s's parameter table differs from values.yaml's ## @param comments (run `go test ./... -update` in deploy/helm); first difference at line %d:\n README: %s\n values: %s", readmePath, i+1, g, w)
		}
	}
}
