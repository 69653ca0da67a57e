package terraform_test

import (
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

var update = flag.Bool("update", false, "rewrite the module README tables")

// tfFile is one parsed .tf or .tfvars file.
type tfFile struct {
	Path string // relative to the deploy/terraform root, slash-separated
	Src  []byte
	Body *hclsyntax.Body
}

// Dir is the slash-separated directory of the file.
func (f *tfFile) Dir() string { return filepath.ToSlash(filepath.Dir(f.Path)) }

func (f *tfFile) text(r hcl.Range) string { return string(f.Src[r.Start.Byte:r.End.Byte]) }

// sourceFiles lists every .tf and .tfvars file below the root, skipping
// .terraform directories.
func sourceFiles(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".terraform" || d.Name() == ".git") {
			return filepath.SkipDir
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".tf") || strings.HasSuffix(p, ".tfvars")) {
			out = append(out, filepath.ToSlash(p))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	if len(out) == 0 {
		t.Fatal("no .tf files found")
	}
	return out
}

func parseAll(t *testing.T) []*tfFile {
	t.Helper()
	var files []*tfFile
	for _, p := range sourceFiles(t) {
		files = append(files, parseFile(t, p))
	}
	return files
}

func parseFile(t *testing.T, p string) *tfFile {
	t.Helper()
	src, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	f, diags := hclsyntax.ParseConfig(src, p, hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("%s: %s", p, diags.Error())
	}
	return &tfFile{Path: p, Src: src, Body: f.Body.(*hclsyntax.Body)}
}

func filesIn(files []*tfFile, dir string) []*tfFile {
	var out []*tfFile
	for _, f := range files {
		if f.Dir() == dir {
			out = append(out, f)
		}
	}
	return out
}

// blocks returns the top-level blocks of the given type (and first label,
// when label is not empty) across files.
type fileBlock struct {
	File  *tfFile
	Block *hclsyntax.Block
}

func blocksOf(files []*tfFile, typ, label string) []fileBlock {
	var out []fileBlock
	for _, f := range files {
		for _, b := range f.Body.Blocks {
			if b.Type != typ {
				continue
			}
			if label != "" && (len(b.Labels) == 0 || b.Labels[0] != label) {
				continue
			}
			out = append(out, fileBlock{f, b})
		}
	}
	return out
}

// walkBlocks calls fn for every block at any depth, with the chain of
// enclosing blocks (outermost first).
func walkBlocks(body *hclsyntax.Body, parents []*hclsyntax.Block, fn func(b *hclsyntax.Block, parents []*hclsyntax.Block)) {
	for _, b := range body.Blocks {
		fn(b, parents)
		walkBlocks(b.Body, append(append([]*hclsyntax.Block{}, parents...), b), fn)
	}
}

// walkAttrs calls fn for every attribute at any depth.
func walkAttrs(body *hclsyntax.Body, parents []*hclsyntax.Block, fn func(a *hclsyntax.Attribute, parents []*hclsyntax.Block)) {
	for _, a := range body.Attributes {
		fn(a, parents)
	}
	for _, b := range body.Blocks {
		walkAttrs(b.Body, append(append([]*hclsyntax.Block{}, parents...), b), fn)
	}
}

// literal evaluates an expression without context; ok is false when it
// needs variables or functions.
func literal(e hclsyntax.Expression) (cty.Value, bool) {
	v, diags := e.Value(nil)
	if diags.HasErrors() || !v.IsWhollyKnown() {
		return cty.NilVal, false
	}
	return v, true
}

func literalString(e hclsyntax.Expression) (string, bool) {
	v, ok := literal(e)
	if !ok || v.IsNull() || v.Type() != cty.String {
		return "", false
	}
	return v.AsString(), true
}

func literalBool(e hclsyntax.Expression) (bool, bool) {
	v, ok := literal(e)
	if !ok || v.IsNull() || v.Type() != cty.Bool {
		return false, false
	}
	return v.True(), true
}

// objectKey returns the literal key of an object constructor item.
func objectKey(item hclsyntax.ObjectConsItem) (string, bool) {
	if k := hcl.ExprAsKeyword(item.KeyExpr); k != "" {
		return k, true
	}
	return literalString(item.KeyExpr)
}

// tfvars parses environments/<env>/terraform.tfvars into literal values.
func tfvars(t *testing.T, env string) map[string]cty.Value {
	t.Helper()
	f := parseFile(t, "environments/"+env+"/terraform.tfvars")
	out := map[string]cty.Value{}
	for name, a := range f.Body.Attributes {
		v, ok := literal(a.Expr)
		if !ok {
			t.Fatalf("%s: %s is not a literal value", f.Path, name)
		}
		out[name] = v
	}
	return out
}

func environments(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("environments")
	if err != nil {
		t.Fatal(err)
	}
	var envs []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != "common" { // common/ holds the code the environments link to
			envs = append(envs, e.Name())
		}
	}
	sort.Strings(envs)
	return envs
}

func moduleDirs(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("modules")
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, "modules/"+e.Name())
		}
	}
	sort.Strings(dirs)
	return dirs
}
