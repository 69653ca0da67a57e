package terraform_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/hellosvc/hello/deploy/terraform/internal/providerschema"
)

// providerSchemas loads every committed schema, oldest provider first.
func providerSchemas(t *testing.T) []*providerschema.Schema {
	t.Helper()
	paths, err := filepath.Glob("schema/aws-*.json")
	if err != nil {
		t.Fatal(err)
	}
	var out []*providerschema.Schema
	for _, p := range paths {
		s, err := providerschema.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		t.Fatal("no schema/aws-*.json: run schema/regenerate")
	}
	sort.Slice(out, func(i, j int) bool { return versionLess(out[i].Version, out[j].Version) })
	return out
}

// checkSchema checks every aws_* block of the files against s.
func checkSchema(s *providerschema.Schema, files []*tfFile) []string {
	var out []string
	for _, f := range files {
		if !strings.HasSuffix(f.Path, ".tf") {
			continue
		}
		for _, p := range s.CheckBody(f.Body, "aws_") {
			out = append(out, p.String())
		}
	}
	return out
}

// What `terraform validate` would say about the AWS blocks, offline: every
// argument and nested block exists in the provider's schema, at the floor
// release of versions.tf and at the newest one checked.
func TestProviderSchema(t *testing.T) {
	files := parseAll(t)
	for _, s := range providerSchemas(t) {
		for _, p := range checkSchema(s, files) {
			t.Errorf("hashicorp/aws %s: %s", s.Version, p)
		}
	}
}

// The check catches what it claims to: each mutation of a copy of a real
// module must produce a problem naming it, and the unmutated copy none.
func TestProviderSchemaCatchesInjectedTypos(t *testing.T) {
	schemas := providerSchemas(t)
	latest := schemas[len(schemas)-1]
	cases := []struct {
		name, file, old, new, want string
	}{
		{"unknown argument", "modules/database/main.tf",
			"storage_encrypted     = true", "storage_encryptd      = true", `unsupported argument "storage_encryptd"; did you mean "storage_encrypted"?`},
		{"argument written as a block", "modules/database/main.tf",
			"  tags = {\n    Shard = each.key\n  }", "  tags {\n    Shard = each.key\n  }", `"tags" is an argument, not a block`},
		{"block written as an argument", "modules/edge/main.tf",
			"  health_check {\n", "  health_check = {\n", `"health_check" is a block, not an argument`},
		{"misplaced nested block", "modules/edge/main.tf",
			"  access_logs {\n    bucket  = aws_s3_bucket.access_logs.id", "  redirect {\n    bucket  = aws_s3_bucket.access_logs.id", `unsupported block type "redirect"`},
		{"unknown dynamic block", "modules/edge/main.tf",
			`dynamic "redirect" {`, `dynamic "redirects" {`, `unsupported block type "redirects"; did you mean "redirect"?`},
		{"typo inside a dynamic block's content", "modules/backup/main.tf",
			"destination_vault_arn = copy_action.value", "destination_vault_ar = copy_action.value", `unsupported argument "destination_vault_ar"`},
		{"missing required argument", "modules/service/main.tf",
			"  family                   = var.name\n", "", `missing required argument "family"`},
		{"missing required block", "modules/edge/main.tf",
			"  default_action {\n    type             = \"forward\"\n    target_group_arn = aws_lb_target_group.this.arn\n  }\n", "", "missing required block default_action"},
		{"literal of the wrong type", "modules/database/main.tf",
			"publicly_accessible    = false", `publicly_accessible    = "nope"`, "publicly_accessible: a bool is required, got string"},
		{"unknown resource type", "modules/cache/main.tf",
			`resource "aws_elasticache_parameter_group"`, `resource "aws_elasticache_parameter_grup"`, `"aws_elasticache_parameter_grup" is not in the resource schema`},
		{"unknown ephemeral argument", "modules/cache/main.tf",
			"  version_id = aws_secretsmanager_secret_version.auth_token.version_id", "  version_idd = aws_secretsmanager_secret_version.auth_token.version_id", `unsupported argument "version_idd"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(string(src), tc.old); n != 1 {
				t.Fatalf("%s: the text to mutate occurs %d times, want once: %q", tc.file, n, tc.old)
			}
			copyPath := filepath.Join(t.TempDir(), filepath.Base(tc.file))
			mutated := strings.Replace(string(src), tc.old, tc.new, 1)
			if err := os.WriteFile(copyPath, []byte(mutated), 0o644); err != nil {
				t.Fatal(err)
			}
			if clean := checkSchema(latest, []*tfFile{parseSource(t, tc.file, src)}); len(clean) != 0 {
				t.Fatalf("unmutated %s already fails: %v", tc.file, clean)
			}
			got := checkSchema(latest, []*tfFile{parseFile(t, copyPath)})
			for _, p := range got {
				if strings.Contains(p, tc.want) {
					return
				}
			}
			t.Errorf("mutation not caught: want a problem containing %q, got %v", tc.want, got)
		})
	}
}

// The provider floor every versions.tf names is the oldest release the
// schema check ran against, so each argument used is known to exist there,
// and it is no later than the newest schema.
func TestProviderFloorIsTheCheckedRelease(t *testing.T) {
	schemas := providerSchemas(t)
	floor := schemas[0].Version
	parts := strings.Split(floor, ".")
	want := "~> " + parts[0] + "." + parts[1]
	if parts[2] != "0" {
		t.Fatalf("oldest schema %s is a patch release; ~> cannot express it as a floor", floor)
	}
	for dir, c := range providerConstraints(t) {
		if c["aws"] != want {
			t.Errorf("%s: aws = %q, want %q (the oldest schema in schema/, %s)", dir, c["aws"], want, schemas[0].Source)
		}
	}
}

// Every required_providers block in the tree names the same constraint for
// each provider: one module cannot quietly accept an older provider.
func TestRequiredProvidersAgree(t *testing.T) {
	seen := map[string]map[string][]string{} // provider -> constraint -> dirs
	for dir, c := range providerConstraints(t) {
		for provider, constraint := range c {
			if seen[provider] == nil {
				seen[provider] = map[string][]string{}
			}
			seen[provider][constraint] = append(seen[provider][constraint], dir)
		}
	}
	if len(seen["aws"]) == 0 {
		t.Fatal("no aws constraint found")
	}
	for provider, byConstraint := range seen {
		if len(byConstraint) > 1 {
			t.Errorf("provider %s has different constraints: %v", provider, byConstraint)
		}
	}
}

// providerConstraints returns directory -> provider -> version constraint
// of every required_providers block.
func providerConstraints(t *testing.T) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for _, tb := range blocksOf(parseAll(t), "terraform", "") {
		for _, rp := range tb.Block.Body.Blocks {
			if rp.Type != "required_providers" {
				continue
			}
			for name, a := range rp.Body.Attributes {
				v, ok := literal(a.Expr)
				if !ok || !v.Type().IsObjectType() || !v.Type().HasAttribute("version") {
					t.Errorf("%s: provider %s has no literal version", tb.File.Path, name)
					continue
				}
				if out[tb.File.Dir()] == nil {
					out[tb.File.Dir()] = map[string]string{}
				}
				out[tb.File.Dir()][name] = v.GetAttr("version").AsString()
			}
		}
	}
	return out
}

func parseSource(t *testing.T, name string, src []byte) *tfFile {
	t.Helper()
	f, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("%s: %s", name, diags.Error())
	}
	return &tfFile{Path: name, Src: src, Body: f.Body.(*hclsyntax.Body)}
}

// versionLess compares dotted release numbers numerically.
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		if len(pa[i]) != len(pb[i]) {
			return len(pa[i]) < len(pb[i])
		}
		if pa[i] != pb[i] {
			return pa[i] < pb[i]
		}
	}
	return len(pa) < len(pb)
}
