package internal_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/hellosvc/hello/"

// allowed says which internal packages each package may import: dependencies point one way,
// from the edge (cli, httpapi) to the domain (account) and its small leaves; stores and the
// guard depend on the domain, never the other way. A new import that is not listed fails here:
// add it only if it points the same way.
var allowed = map[string][]string{
	"cmd/hello":                  {"internal/cli"},
	"internal/account":           {"internal/argon2", "internal/b64url"},
	"internal/argon2":            nil,
	"internal/account/storetest": {"internal/account"},
	// A generator run by scripts/gen-common-passwords, not part of the service.
	"internal/account/gencommonpasswords": {"internal/account"},
	"internal/b64url":                     nil,
	"internal/captcha":                    {"internal/account", "internal/b64url", "internal/captcha/voice"},
	"internal/captcha/voice":              nil,
	"internal/config":                     {"internal/dsn", "internal/guard", "internal/realip"},
	"internal/dsn":                        nil,
	"internal/guard":                      {"internal/account", "internal/b64url"},
	"internal/guard/memory":               {"internal/guard"},
	"internal/guard/redis":                {"internal/guard"},
	"internal/guard/storetest":            {"internal/guard"},
	"internal/httpapi":                    {"internal/account", "internal/captcha", "internal/guard", "internal/httpapi/jsonbody", "internal/realip", "internal/reqid", "web"},
	"internal/httpapi/jsonbody":           {"internal/account"},
	"internal/realip":                     nil,
	"internal/reqid":                      nil,
	"internal/store/migrate":              nil,
	"internal/store/postgres":             {"internal/account", "internal/store/migrate", "internal/store/shardkey"},
	"internal/store/shard":                {"internal/account", "internal/dsn", "internal/store/postgres", "internal/store/shardkey"},
	"internal/store/shardkey":             nil,
	"internal/store/sqlite":               {"internal/account", "internal/store/migrate"},
	"web":                                 nil,
	// The wiring and the test harness see everything.
	"internal/cli":     {"*"},
	"internal/testenv": {"*"},
}

// TestImportsPointOneWay reads every non-test Go file of the module's service code and checks
// its internal imports against the allow-list.
func TestImportsPointOneWay(t *testing.T) {
	root := ".."
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel == "bench" || rel == "deploy" || strings.HasPrefix(rel, ".") && rel != "." || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		pkg := filepath.ToSlash(filepath.Dir(rel))
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rules, known := allowed[pkg]
		if !known {
			t.Errorf("package %s is not in the allow-list of internal/imports_test.go", pkg)
			return nil
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			dep, ok := strings.CutPrefix(p, module)
			if !ok || slices.Contains(rules, "*") || slices.Contains(rules, dep) {
				continue
			}
			t.Errorf("%s imports %s, which the layering does not allow", rel, dep)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
