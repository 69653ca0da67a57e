package providerschema

import (
	"fmt"
	"strings"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Problem is one schema violation, located in the source.
type Problem struct {
	Range hcl.Range
	Msg   string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s:%d: %s", p.Range.Filename, p.Range.Start.Line, p.Msg)
}

// Meta-arguments Terraform itself accepts in each kind of block.
var (
	metaAttributes = map[string]map[string]bool{
		KindResource:  {"count": true, "for_each": true, "provider": true, "depends_on": true},
		KindData:      {"count": true, "for_each": true, "provider": true, "depends_on": true},
		KindEphemeral: {"count": true, "for_each": true, "provider": true, "depends_on": true},
	}
	metaBlocks = map[string]map[string]bool{
		KindResource:  {"lifecycle": true, "provisioner": true, "connection": true},
		KindData:      {"lifecycle": true},
		KindEphemeral: {"lifecycle": true},
	}
)

// CheckBody checks every resource, data and ephemeral block of a file body
// whose type starts with prefix (e.g. "aws_") against the schema.
func (s *Schema) CheckBody(body *hclsyntax.Body, prefix string) []Problem {
	var out []Problem
	for _, b := range body.Blocks {
		if _, ok := metaAttributes[b.Type]; !ok || len(b.Labels) != 2 || !strings.HasPrefix(b.Labels[0], prefix) {
			continue
		}
		typ := b.Labels[0]
		schema, ok := s.Lookup(b.Type, typ)
		if !ok {
			out = append(out, Problem{b.LabelRanges[0], fmt.Sprintf("%s type %q is not in the %s schema of provider %s%s",
				b.Type, typ, b.Type, s.Version, suggest(typ, s.names(b.Type)))})
			continue
		}
		c := checker{kind: b.Type}
		c.block(schema, b.Body, fmt.Sprintf("%s.%s", typ, b.Labels[1]), true)
		out = append(out, c.problems...)
	}
	return out
}

func (s *Schema) names(kind string) []string {
	switch kind {
	case KindData:
		return sortedKeys(s.DataSources)
	case KindEphemeral:
		return sortedKeys(s.EphemeralResources)
	}
	return sortedKeys(s.Resources)
}

type checker struct {
	kind     string
	problems []Problem
}

func (c *checker) add(r hcl.Range, format string, args ...any) {
	c.problems = append(c.problems, Problem{r, fmt.Sprintf(format, args...)})
}

// block checks body against schema; top is true for the resource body itself
// (where meta-arguments are allowed).
func (c *checker) block(schema *Block, body *hclsyntax.Body, path string, top bool) {
	if schema == nil {
		return // a recursive type cut off at extraction: not checked
	}
	allowed := func() []string { return append(sortedKeys(schema.Attributes), sortedKeys(schema.BlockTypes)...) }
	for name, a := range body.Attributes {
		if top && metaAttributes[c.kind][name] {
			continue
		}
		if attr, ok := schema.Attributes[name]; ok {
			c.value(attr, a, path)
			continue
		}
		if nb, ok := schema.BlockTypes[name]; ok {
			if !nb.AttributeSyntax {
				c.add(a.NameRange, "%s: %q is a block, not an argument: write %s { ... }", path, name, name)
			}
			continue
		}
		c.add(a.NameRange, "%s: unsupported argument %q%s", path, name, suggest(name, allowed()))
	}
	static := map[string]int{}
	dynamic := map[string]bool{}
	for _, b := range body.Blocks {
		if top && metaBlocks[c.kind][b.Type] {
			continue
		}
		name, content := b.Type, b.Body
		if b.Type == "dynamic" {
			if len(b.Labels) != 1 {
				c.add(b.TypeRange, "%s: a dynamic block needs one label, the block type", path)
				continue
			}
			name = b.Labels[0]
			content = c.dynamicContent(b, path)
			dynamic[name] = true
		} else {
			static[name]++
		}
		nb, ok := schema.BlockTypes[name]
		if !ok {
			if _, isAttr := schema.Attributes[name]; isAttr {
				c.add(b.TypeRange, "%s: %q is an argument, not a block: write %s = ...", path, name, name)
			} else {
				c.add(b.TypeRange, "%s: unsupported block type %q%s", path, name, suggest(name, allowed()))
			}
			continue
		}
		if content != nil {
			c.block(nb.Block, content, path+"."+name, false)
		}
	}
	for name, nb := range schema.BlockTypes {
		n := static[name]
		if _, asAttr := body.Attributes[name]; asAttr || dynamic[name] {
			continue // count unknown until plan
		}
		if n < nb.MinItems {
			c.add(body.SrcRange, "%s: missing required block %s { ... }", path, name)
		}
		if nb.MaxItems > 0 && n > nb.MaxItems {
			c.add(body.SrcRange, "%s: at most %d %s block(s) allowed, found %d", path, nb.MaxItems, name, n)
		}
	}
	for name, attr := range schema.Attributes {
		if attr.Required {
			if _, ok := body.Attributes[name]; !ok {
				c.add(body.SrcRange, "%s: missing required argument %q", path, name)
			}
		}
	}
}

// dynamicContent checks a dynamic block's own arguments and returns the body
// of its content block.
func (c *checker) dynamicContent(b *hclsyntax.Block, path string) *hclsyntax.Body {
	for name, a := range b.Body.Attributes {
		switch name {
		case "for_each", "iterator", "labels":
		default:
			c.add(a.NameRange, "%s: dynamic %q: unsupported argument %q (for_each, iterator, labels)", path, b.Labels[0], name)
		}
	}
	if _, ok := b.Body.Attributes["for_each"]; !ok {
		c.add(b.TypeRange, "%s: dynamic %q has no for_each", path, b.Labels[0])
	}
	var content *hclsyntax.Body
	for _, inner := range b.Body.Blocks {
		if inner.Type == "content" && content == nil {
			content = inner.Body
			continue
		}
		c.add(inner.TypeRange, "%s: dynamic %q: unexpected block %q (only one content block)", path, b.Labels[0], inner.Type)
	}
	if content == nil {
		c.add(b.TypeRange, "%s: dynamic %q has no content block", path, b.Labels[0])
	}
	return content
}

// value checks a literal argument value against the argument's type the way
// Terraform converts it ("5432" is a valid number, "yes" is not a bool).
func (c *checker) value(attr *Attribute, a *hclsyntax.Attribute, path string) {
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() || !v.IsWhollyKnown() || v.IsNull() || attr.Type.Type == cty.DynamicPseudoType {
		return // references, functions: known at plan time only
	}
	if _, err := convert.Convert(v, attr.Type.Type); err != nil {
		c.add(a.Expr.Range(), "%s: %s: a %s is required, got %s (%s)", path, a.Name, attr.Type.FriendlyName(), v.Type().FriendlyName(), err)
	}
}

// suggest returns `; did you mean "x"?` for a close known name.
func suggest(name string, known []string) string {
	best, bestDist := "", 4
	for _, k := range known {
		if d := levenshtein.Distance(name, k, nil); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}
