// Package providerschema holds the argument schema of the Terraform AWS
// provider (resources, data sources and ephemeral resources) and checks HCL
// blocks against it, so that `terraform validate`'s schema errors are found
// without downloading the provider plugin.
//
// The schema is extracted from the prebuilt @cdktn/provider-aws bindings
// (see Extract), which are generated from the provider's own schema; the
// repository commits only the part its configuration uses.
package providerschema

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// Kinds of top-level blocks the schema describes, named as in HCL.
const (
	KindResource  = "resource"
	KindData      = "data"
	KindEphemeral = "ephemeral"
)

// Schema is the argument schema of one provider release.
type Schema struct {
	Provider           string            `json:"provider"` // e.g. registry.terraform.io/hashicorp/aws
	Version            string            `json:"version"`  // provider release, e.g. 6.66.0
	Source             string            `json:"source"`   // where it was extracted from, e.g. @cdktn/provider-aws@25.7.0
	Resources          map[string]*Block `json:"resource_schemas"`
	DataSources        map[string]*Block `json:"data_source_schemas"`
	EphemeralResources map[string]*Block `json:"ephemeral_resource_schemas"`
}

// Block is the body of a resource, data source or nested block.
type Block struct {
	Attributes map[string]*Attribute   `json:"attributes,omitempty"`
	BlockTypes map[string]*NestedBlock `json:"block_types,omitempty"`
}

// Attribute is one argument.
type Attribute struct {
	Type     Type `json:"type"`
	Required bool `json:"required,omitempty"`
}

// NestedBlock is a nested block type.
type NestedBlock struct {
	Nesting  string `json:"nesting_mode"` // list, set or single
	MinItems int    `json:"min_items,omitempty"`
	MaxItems int    `json:"max_items,omitempty"` // 0: unlimited
	// AttributeSyntax is set when the provider declares the block as an
	// attribute of object type that Terraform also accepts in block syntax
	// (SDKv2 "attributes as blocks"): both `name { ... }` and `name = [...]`
	// are valid.
	AttributeSyntax bool `json:"attribute_syntax,omitempty"`
	// Block is nil where a recursive type repeats itself: its content is not checked.
	Block *Block `json:"block"`
}

// Type is a cty type that marshals as Terraform's JSON type notation
// ("string", ["list","string"], "dynamic", ...).
type Type struct{ cty.Type }

// MarshalJSON implements json.Marshaler.
func (t Type) MarshalJSON() ([]byte, error) { return ctyjson.MarshalType(t.Type) }

// UnmarshalJSON implements json.Unmarshaler.
func (t *Type) UnmarshalJSON(b []byte) error {
	ty, err := ctyjson.UnmarshalType(b)
	if err != nil {
		return err
	}
	t.Type = ty
	return nil
}

// Load reads a schema written by Save.
func Load(path string) (*Schema, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s Schema
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if s.Version == "" || len(s.Resources) == 0 {
		return nil, fmt.Errorf("%s: no provider version or no resources", path)
	}
	return &s, nil
}

// Save writes the schema as indented JSON with sorted keys (stable diffs).
func (s *Schema) Save(path string) error {
	b, err := json.MarshalIndent(s, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Lookup returns the schema of a top-level block kind and type.
func (s *Schema) Lookup(kind, typ string) (*Block, bool) {
	var m map[string]*Block
	switch kind {
	case KindResource:
		m = s.Resources
	case KindData:
		m = s.DataSources
	case KindEphemeral:
		m = s.EphemeralResources
	}
	b, ok := m[typ]
	return b, ok
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ParseTree parses every .tf file below root (skipping .terraform), keyed by
// slash-separated path relative to root.
func ParseTree(root string) (map[string]*hclsyntax.Body, error) {
	out := map[string]*hclsyntax.Body{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".terraform" {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".tf") {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		f, diags := hclsyntax.ParseConfig(src, filepath.ToSlash(rel), hcl.InitialPos)
		if diags.HasErrors() {
			return diags
		}
		out[filepath.ToSlash(rel)] = f.Body.(*hclsyntax.Body)
		return nil
	})
	return out, err
}

// UsedTypes lists the types (with prefix, e.g. "aws_") of the resource,
// data and ephemeral blocks in bodies: kind -> type -> true.
func UsedTypes(bodies map[string]*hclsyntax.Body, prefix string) map[string]map[string]bool {
	used := map[string]map[string]bool{KindResource: {}, KindData: {}, KindEphemeral: {}}
	for _, body := range bodies {
		for _, b := range body.Blocks {
			if m, ok := used[b.Type]; ok && len(b.Labels) == 2 && strings.HasPrefix(b.Labels[0], prefix) {
				m[b.Labels[0]] = true
			}
		}
	}
	return used
}
