package providerschema

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// testdata/pkg is a trimmed package of the generated shape: a resource
// aws_thing with every kind of argument and block, and a data source.
func fixture(t *testing.T) *Schema {
	t.Helper()
	s, err := Extract("testdata/pkg", func(string, string) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestExtract(t *testing.T) {
	s := fixture(t)
	if s.Version != "9.9.9" || s.Source != "@cdktn/provider-aws@0.0.1" {
		t.Fatalf("version %q source %q", s.Version, s.Source)
	}
	thing, ok := s.Lookup(KindResource, "aws_thing")
	if !ok {
		t.Fatal("aws_thing not extracted")
	}
	attrs := []struct {
		name     string
		ty       cty.Type
		required bool
	}{
		{"name", cty.String, true},
		{"port", cty.Number, false},
		{"get_enabled", cty.Bool, false}, // TypeScript calls it fetchEnabled
		{"subnets", cty.Set(cty.String), false},
		{"tags", cty.Map(cty.String), false},
	}
	for _, want := range attrs {
		got, ok := thing.Attributes[want.name]
		if !ok {
			t.Errorf("attribute %s missing", want.name)
			continue
		}
		if !got.Type.Equals(want.ty) || got.Required != want.required {
			t.Errorf("%s: type %s required %v, want %s %v", want.name, got.Type.FriendlyName(), got.Required, want.ty.FriendlyName(), want.required)
		}
	}
	blocks := []struct {
		name                  string
		nesting               string
		min, max              int
		attrSyntax, unchecked bool
	}{
		{"action", "list", 1, 0, false, false},
		{"ingress", "set", 0, 0, true, false},
		{"timeouts", "single", 0, 1, false, false},
		{"deep", "list", 0, 0, true, true}, // typed `any` by the bindings
	}
	for _, want := range blocks {
		got, ok := thing.BlockTypes[want.name]
		if !ok {
			t.Errorf("block %s missing", want.name)
			continue
		}
		if got.Nesting != want.nesting || got.MinItems != want.min || got.MaxItems != want.max || got.AttributeSyntax != want.attrSyntax || (got.Block == nil) != want.unchecked {
			t.Errorf("block %s = %+v", want.name, got)
		}
	}
	redirect := thing.BlockTypes["action"].Block.BlockTypes["redirect"]
	if redirect == nil || redirect.MaxItems != 1 || !redirect.Block.Attributes["status_code"].Required {
		t.Errorf("action.redirect = %+v, want a single block with a required status_code", redirect)
	}
	if _, ok := s.Lookup(KindData, "aws_thing"); !ok {
		t.Error("data source aws_thing not extracted")
	}
	if _, err := Extract("testdata/pkg", func(kind, _ string) bool { return kind == KindData }); err != nil {
		t.Fatal(err)
	}
}

func TestSchemaRoundTrip(t *testing.T) {
	s := fixture(t)
	path := filepath.Join(t.TempDir(), "aws.json")
	if err := s.Save(path); err != nil {
		t.Fatal(err)
	}
	back, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(s)
	b, _ := json.Marshal(back)
	if string(a) != string(b) {
		t.Errorf("schema changed through Save/Load:\n%s\n%s", a, b)
	}
}

func TestCheckBody(t *testing.T) {
	s := fixture(t)
	const valid = `
resource "aws_thing" "x" {
  count      = 1
  name       = "a"
  port       = "5432"
  subnets    = ["a", "b"]
  tags       = { A = "b" }
  depends_on = []

  action {
    type = "forward"
    redirect {
      status_code = "HTTP_301"
    }
  }

  dynamic "ingress" {
    for_each = [1]
    iterator = rule
    content {
      from_port = rule.value
    }
  }

  deep {
    anything = "unchecked"
  }

  lifecycle {
    ignore_changes = [port]
  }
}

resource "aws_thing" "attribute_syntax" {
  name    = var.name
  ingress = [{ from_port = 1 }]
  action {
    type = "x"
  }
}

data "aws_thing" "y" {
  name = "z"
}

resource "random_password" "not_aws" {
  anything = true
}
`
	cases := []struct {
		name, src, want string
	}{
		{"valid", valid, ""},
		{"typo", `resource "aws_thing" "x" {
  name = "a"
  prot = 1
  action { type = "x" }
}`, `unsupported argument "prot"; did you mean "port"?`},
		{"argument as block", `resource "aws_thing" "x" {
  name = "a"
  tags { A = "b" }
  action { type = "x" }
}`, `"tags" is an argument, not a block`},
		{"block as argument", `resource "aws_thing" "x" {
  name   = "a"
  action = [{ type = "x" }]
}`, `"action" is a block, not an argument`},
		{"misplaced block", `resource "aws_thing" "x" {
  name = "a"
  redirect { status_code = "x" }
  action { type = "x" }
}`, `unsupported block type "redirect"`},
		{"missing required argument", `resource "aws_thing" "x" {
  action { type = "x" }
}`, `missing required argument "name"`},
		{"missing required nested argument", `resource "aws_thing" "x" {
  name = "a"
  action {
    type = "x"
    redirect {}
  }
}`, `aws_thing.x.action.redirect: missing required argument "status_code"`},
		{"missing required block", `resource "aws_thing" "x" {
  name = "a"
}`, "missing required block action"},
		{"too many single blocks", `resource "aws_thing" "x" {
  name = "a"
  action {
    type = "x"
    redirect { status_code = "a" }
    redirect { status_code = "b" }
  }
}`, "at most 1 redirect block(s) allowed, found 2"},
		{"dynamic unknown block", `resource "aws_thing" "x" {
  name = "a"
  action { type = "x" }
  dynamic "ingres" {
    for_each = []
    content {}
  }
}`, `unsupported block type "ingres"`},
		{"dynamic content typo", `resource "aws_thing" "x" {
  name = "a"
  dynamic "action" {
    for_each = []
    content { typ = "x" }
  }
}`, `unsupported argument "typ"`},
		{"dynamic without content", `resource "aws_thing" "x" {
  name = "a"
  action { type = "x" }
  dynamic "ingress" {
    for_each = []
  }
}`, `dynamic "ingress" has no content block`},
		{"wrong literal type", `resource "aws_thing" "x" {
  name        = "a"
  get_enabled = "maybe"
  action { type = "x" }
}`, "get_enabled: a bool is required, got string"},
		{"list for a string", `resource "aws_thing" "x" {
  name = ["a"]
  action { type = "x" }
}`, "name: a string is required, got tuple"},
		{"unknown type", `resource "aws_thingy" "x" {}`, `resource type "aws_thingy" is not in the resource schema of provider 9.9.9; did you mean "aws_thing"?`},
		{"meta-argument out of place", `resource "aws_thing" "x" {
  name = "a"
  action {
    type  = "x"
    count = 2
  }
}`, `unsupported argument "count"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, diags := hclsyntax.ParseConfig([]byte(tc.src), "x.tf", hcl.InitialPos)
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			var got []string
			for _, p := range s.CheckBody(f.Body.(*hclsyntax.Body), "aws_") {
				got = append(got, p.String())
			}
			if tc.want == "" {
				if len(got) != 0 {
					t.Fatalf("want no problem, got %v", got)
				}
				return
			}
			for _, g := range got {
				if strings.Contains(g, tc.want) {
					return
				}
			}
			t.Fatalf("want a problem containing %q, got %v", tc.want, got)
		})
	}
}
