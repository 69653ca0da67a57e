// Package tfdocs renders terraform-docs style Inputs/Outputs tables for a
// Terraform module from its parsed variables and outputs, and keeps the
// generated section of the module README in sync.
package tfdocs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Markers delimit the generated part of a README.
const (
	BeginMarker = "<!-- BEGIN_TF_DOCS -->"
	EndMarker   = "<!-- END_TF_DOCS -->"
)

// Variable is one input of a module.
type Variable struct {
	Name        string
	Type        string
	Description string
	Default     string // source text, empty when HasDefault is false
	HasDefault  bool
}

// Output is one output of a module.
type Output struct {
	Name        string
	Description string
}

// Module holds the inputs and outputs of one module directory.
type Module struct {
	Variables []Variable
	Outputs   []Output
}

var spaces = regexp.MustCompile(`\s+`)

// collapse turns HCL source text into one line.
func collapse(s string) string {
	return strings.TrimSpace(spaces.ReplaceAllString(s, " "))
}

func srcText(src []byte, r hcl.Range) string {
	return string(src[r.Start.Byte:r.End.Byte])
}

// ParseModule reads every *.tf file of dir and collects variable and output blocks.
func ParseModule(dir string) (*Module, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	m := &Module{}
	for _, path := range files {
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		f, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
		if diags.HasErrors() {
			return nil, fmt.Errorf("%s: %s", path, diags.Error())
		}
		body := f.Body.(*hclsyntax.Body)
		for _, b := range body.Blocks {
			switch {
			case b.Type == "variable" && len(b.Labels) == 1:
				v := Variable{Name: b.Labels[0]}
				if a, ok := b.Body.Attributes["type"]; ok {
					v.Type = collapse(srcText(src, a.Expr.Range()))
				}
				if a, ok := b.Body.Attributes["description"]; ok {
					v.Description = stringValue(src, a.Expr)
				}
				if a, ok := b.Body.Attributes["default"]; ok {
					v.HasDefault = true
					v.Default = collapse(srcText(src, a.Expr.Range()))
				}
				m.Variables = append(m.Variables, v)
			case b.Type == "output" && len(b.Labels) == 1:
				o := Output{Name: b.Labels[0]}
				if a, ok := b.Body.Attributes["description"]; ok {
					o.Description = stringValue(src, a.Expr)
				}
				m.Outputs = append(m.Outputs, o)
			}
		}
	}
	sort.Slice(m.Variables, func(i, j int) bool { return m.Variables[i].Name < m.Variables[j].Name })
	sort.Slice(m.Outputs, func(i, j int) bool { return m.Outputs[i].Name < m.Outputs[j].Name })
	return m, nil
}

// stringValue evaluates a literal string expression, falling back to its source.
func stringValue(src []byte, e hclsyntax.Expression) string {
	v, diags := e.Value(nil)
	if !diags.HasErrors() && v.IsKnown() && !v.IsNull() && v.Type().FriendlyName() == "string" {
		return v.AsString()
	}
	return collapse(srcText(src, e.Range()))
}

func cell(s string) string {
	s = collapse(s)
	s = strings.ReplaceAll(s, "|", `\|`)
	return s
}

func code(s string) string {
	if s == "" {
		return "n/a"
	}
	return "`" + cell(s) + "`"
}

// Render returns the generated Markdown section, markers included.
func Render(m *Module) string {
	var b strings.Builder
	b.WriteString(BeginMarker + "\n")
	b.WriteString("## Inputs\n\n")
	if len(m.Variables) == 0 {
		b.WriteString("No inputs.\n")
	} else {
		b.WriteString("| Name | Description | Type | Default | Required |\n")
		b.WriteString("|------|-------------|------|---------|:--------:|\n")
		for _, v := range m.Variables {
			def, req := "n/a", "yes"
			if v.HasDefault {
				def, req = code(v.Default), "no"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", v.Name, cell(v.Description), code(v.Type), def, req)
		}
	}
	b.WriteString("\n## Outputs\n\n")
	if len(m.Outputs) == 0 {
		b.WriteString("No outputs.\n")
	} else {
		b.WriteString("| Name | Description |\n")
		b.WriteString("|------|-------------|\n")
		for _, o := range m.Outputs {
			fmt.Fprintf(&b, "| %s | %s |\n", o.Name, cell(o.Description))
		}
	}
	b.WriteString(EndMarker + "\n")
	return b.String()
}

// Sync regenerates the section of dir/README.md. It returns the wanted
// README content and whether it differs from the file on disk. With write
// set, a differing README is rewritten. A README without markers gets the
// section appended.
func Sync(dir string, write bool) (want []byte, changed bool, err error) {
	m, err := ParseModule(dir)
	if err != nil {
		return nil, false, err
	}
	path := filepath.Join(dir, "README.md")
	have, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return nil, false, err
	}
	section := Render(m)
	s := string(have)
	start := strings.Index(s, BeginMarker)
	end := strings.Index(s, EndMarker)
	switch {
	case start >= 0 && end > start:
		rest := s[end+len(EndMarker):]
		rest = strings.TrimPrefix(rest, "\n")
		s = s[:start] + section + rest
	case start >= 0 || end >= 0:
		return nil, false, fmt.Errorf("%s: unbalanced %s / %s markers", path, BeginMarker, EndMarker)
	default:
		if s != "" && !strings.HasSuffix(s, "\n\n") {
			s = strings.TrimRight(s, "\n") + "\n\n"
		}
		s += section
	}
	want = []byte(s)
	changed = !bytes.Equal(want, have)
	if changed && write {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			return nil, false, err
		}
	}
	return want, changed, nil
}

// ModuleDirs lists the module directories below root/modules.
func ModuleDirs(root string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(root, "modules"))
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, filepath.Join(root, "modules", e.Name()))
		}
	}
	sort.Strings(dirs)
	return dirs, nil
}
