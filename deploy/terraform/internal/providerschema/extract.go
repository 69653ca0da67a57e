package providerschema

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/zclconf/go-cty/cty"
)

// Extract reads the schema of the types keep accepts from an unpacked
// @cdktn/provider-aws npm package (the directory holding package.json).
//
// Every resource, data source and ephemeral resource is one directory under
// lib/ whose index.js has a class with `static tfResourceType = "aws_..."`.
// Its synthesizeHclAttributes() lists every configurable argument and nested
// block with its Terraform name, whether it is a block, its nesting and its
// value type; nested blocks have a `<struct>ToHclTerraform` function of the
// same shape. Whether an argument is required is only visible in index.d.ts
// (a property without `?` in the config or struct interface).
func Extract(pkgDir string, keep func(kind, typ string) bool) (*Schema, error) {
	var pkg struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		Cdktn   struct {
			Provider struct {
				Name    string `json:"name"`
				Version string `json:"version"`
			} `json:"provider"`
		} `json:"cdktn"`
	}
	raw, err := os.ReadFile(filepath.Join(pkgDir, "package.json"))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &pkg); err != nil {
		return nil, fmt.Errorf("package.json: %w", err)
	}
	if pkg.Cdktn.Provider.Version == "" {
		return nil, fmt.Errorf("package.json: no cdktn.provider.version (is %s a @cdktn/provider-* package?)", pkgDir)
	}
	s := &Schema{
		Provider:           pkg.Cdktn.Provider.Name,
		Version:            pkg.Cdktn.Provider.Version,
		Source:             pkg.Name + "@" + pkg.Version,
		Resources:          map[string]*Block{},
		DataSources:        map[string]*Block{},
		EphemeralResources: map[string]*Block{},
	}
	dirs, err := filepath.Glob(filepath.Join(pkgDir, "lib", "*", "index.js"))
	if err != nil {
		return nil, err
	}
	for _, js := range dirs {
		src, err := os.ReadFile(js)
		if err != nil {
			return nil, err
		}
		m := classRE.FindSubmatch(src)
		if m == nil {
			continue // provider configuration, shared helpers
		}
		className, kind, typ := string(m[1]), baseKinds[string(m[2])], string(m[3])
		if !keep(kind, typ) {
			continue
		}
		dts, err := os.ReadFile(strings.TrimSuffix(js, ".js") + ".d.ts")
		if err != nil {
			return nil, err
		}
		// The largest resources keep their structs in index-structs/*.
		split, err := filepath.Glob(filepath.Join(filepath.Dir(js), "index-structs", "*.js"))
		if err != nil {
			return nil, err
		}
		for _, f := range split {
			moreJS, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			moreDTS, err := os.ReadFile(strings.TrimSuffix(f, ".js") + ".d.ts")
			if err != nil {
				return nil, err
			}
			src = append(append(src, '\n'), moreJS...)
			dts = append(append(dts, '\n'), moreDTS...)
		}
		mod := newModule(src, dts)
		b, err := mod.block(mod.config, classBody(src, className), map[string]bool{})
		if err != nil {
			return nil, fmt.Errorf("%s %s (%s): %w", kind, typ, js, err)
		}
		switch kind {
		case KindResource:
			s.Resources[typ] = b
		case KindData:
			s.DataSources[typ] = b
		case KindEphemeral:
			s.EphemeralResources[typ] = b
		}
	}
	return s, nil
}

var (
	classRE = regexp.MustCompile(`(?m)^class (\w+) extends cdktn\.(TerraformResource|TerraformDataSource|TerraformEphemeralResource) \{\n(?:.*\n){0,8}?\s*static tfResourceType = "(\w+)";`)

	baseKinds = map[string]string{
		"TerraformResource":          KindResource,
		"TerraformDataSource":        KindData,
		"TerraformEphemeralResource": KindEphemeral,
	}

	// One entry of an `attrs` object literal in synthesizeHclAttributes()
	// or a <struct>ToHclTerraform function.
	entryRE = regexp.MustCompile(`(?m)^\s*(\w+): \{\n\s*value: (.*),\n\s*isBlock: (true|false),\n\s*type: "(\w+)",\n\s*storageClassType: "(\w+)",\n\s*\}`)

	// A struct converter, possibly imported from a split-out structs file
	// (index_1.fooToHclTerraform); cdktn.stringToHclTerraform and the like
	// are cdktn's own primitive converters.
	converterRE = regexp.MustCompile(`(\w+\.)?([a-z]\w*)ToHclTerraform\b`)
	// cdktn.listMapperHcl(fn, isBlockType)
	listMapperRE = regexp.MustCompile(`listMapperHcl\(\w+, (true|false)\)`)

	interfaceRE = regexp.MustCompile(`(?m)^export interface (\w+)(?: extends ([\w.]+))? \{\n((?:.*\n)*?)\}`)
	// A property with its doc link, whose anchor is the Terraform name
	// (the TypeScript name may differ: get_password_data is fetchPasswordData).
	propertyRE = regexp.MustCompile(`(?s)\{@link \S+#(\w+) \w+#\w+\}.*?readonly \w+(\?)?: `)
	structFnRE = regexp.MustCompile(`(?m)^export declare function (\w+)ToHclTerraform\(struct\?: ([^)]*)\): any;`)
)

// module is one parsed index.js / index.d.ts pair.
type module struct {
	js         []byte
	optional   map[string]map[string]bool // interface -> Terraform name -> optional
	structType map[string]string          // converter prefix -> interface
	config     string                     // interface of the top-level arguments
}

func newModule(js, dts []byte) *module {
	m := &module{js: js, optional: map[string]map[string]bool{}, structType: map[string]string{}}
	for _, im := range interfaceRE.FindAllSubmatch(dts, -1) {
		props := map[string]bool{}
		for _, pm := range propertyRE.FindAllSubmatch(im[3], -1) {
			props[string(pm[1])] = len(pm[2]) > 0
		}
		m.optional[string(im[1])] = props
		// The top-level config (usually <Class>Config; ConfigA when that
		// name is taken) is the one carrying the meta-arguments.
		if ext := string(im[2]); ext == "cdktn.TerraformMetaArguments" || ext == "cdktn.TerraformEphemeralMetaArguments" {
			m.config = string(im[1])
		}
	}
	for _, fm := range structFnRE.FindAllSubmatch(dts, -1) {
		for _, alt := range strings.Split(string(fm[2]), "|") {
			alt = strings.TrimSpace(alt)
			if alt != "cdktn.IResolvable" && !strings.HasSuffix(alt, "OutputReference") {
				m.structType[string(fm[1])] = alt
			}
		}
	}
	return m
}

// classBody returns the synthesizeHclAttributes() section of the class.
func classBody(js []byte, className string) []byte {
	start := strings.Index(string(js), "class "+className+" extends")
	if start < 0 {
		return nil
	}
	rest := js[start:]
	if i := strings.Index(string(rest), "synthesizeHclAttributes() {"); i >= 0 {
		rest = rest[i:]
	}
	if end := regexp.MustCompile(`(?m)^(class|function|exports\.) `).FindIndex(rest[1:]); end != nil {
		rest = rest[:end[0]+1]
	}
	return rest
}

// structBody returns the body of function <prefix>ToHclTerraform.
func (m *module) structBody(prefix string) ([]byte, error) {
	head := "function " + prefix + "ToHclTerraform(struct) {"
	i := strings.Index(string(m.js), head)
	if i < 0 {
		return nil, fmt.Errorf("no %sToHclTerraform in index.js", prefix)
	}
	rest := m.js[i+len(head):]
	if end := regexp.MustCompile(`(?m)^(class|function|exports\.) `).FindIndex(rest); end != nil {
		rest = rest[:end[0]]
	}
	return rest, nil
}

// block converts the attrs entries of body; iface names the TypeScript
// interface that says which properties are required. visiting holds the
// interfaces being converted: a recursive block type (WAF statements nest in
// statements) is cut at its second occurrence and left unchecked (nil).
func (m *module) block(iface string, body []byte, visiting map[string]bool) (*Block, error) {
	if visiting[iface] {
		return nil, nil
	}
	visiting[iface] = true
	defer delete(visiting, iface)
	opt, ok := m.optional[iface]
	if !ok {
		return nil, fmt.Errorf("no interface %s in index.d.ts", iface)
	}
	b := &Block{Attributes: map[string]*Attribute{}, BlockTypes: map[string]*NestedBlock{}}
	for _, e := range entryRE.FindAllSubmatch(body, -1) {
		name, value, isBlock, kind, storage := string(e[1]), string(e[2]), string(e[3]) == "true", string(e[4]), string(e[5])
		optional, known := opt[name]
		if !known {
			return nil, fmt.Errorf("%s: no property documented as %s", iface, name)
		}
		if !isBlock && storage == "any" {
			// cdktn types a nested block too deep for its generator as "any"
			// (WAF statements, QuickSight definitions): known to exist, its
			// content unchecked, either syntax accepted.
			b.BlockTypes[name] = &NestedBlock{Nesting: "list", AttributeSyntax: true}
			continue
		}
		if !isBlock {
			ty, err := valueType(kind, storage)
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", iface, name, err)
			}
			b.Attributes[name] = &Attribute{Type: Type{ty}, Required: !optional}
			continue
		}
		if kind == "map" {
			// A map of objects (a framework MapNestedAttribute): always an
			// argument, `name = { key = { ... } }`.
			b.Attributes[name] = &Attribute{Type: Type{cty.Map(cty.DynamicPseudoType)}, Required: !optional}
			continue
		}
		conv := structConverter(value)
		if conv == "" {
			return nil, fmt.Errorf("%s.%s: block without a struct converter in %q", iface, name, value)
		}
		structIface, ok := m.structType[conv]
		if !ok {
			return nil, fmt.Errorf("%s.%s: no declaration of %sToHclTerraform in index.d.ts", iface, name, conv)
		}
		body, err := m.structBody(conv)
		if err != nil {
			return nil, err
		}
		inner, err := m.block(structIface, body, visiting)
		if err != nil {
			return nil, err
		}
		nb := &NestedBlock{Block: inner}
		switch kind {
		case "set":
			nb.Nesting = "set"
		case "struct":
			nb.Nesting, nb.MaxItems = "single", 1
		case "list":
			nb.Nesting = "list"
		default:
			return nil, fmt.Errorf("%s.%s: unknown block type %q", iface, name, kind)
		}
		lm := listMapperRE.FindStringSubmatch(value)
		if lm == nil && kind == "list" {
			nb.MaxItems = 1 // a single struct, not a list mapper: MaxItems 1
		}
		if lm != nil && lm[1] == "false" {
			nb.AttributeSyntax = true
		}
		if !optional {
			nb.MinItems = 1
		}
		b.BlockTypes[name] = nb
	}
	if len(b.Attributes) == 0 {
		b.Attributes = nil
	}
	if len(b.BlockTypes) == 0 {
		b.BlockTypes = nil
	}
	return b, nil
}

func structConverter(value string) string {
	for _, m := range converterRE.FindAllStringSubmatch(value, -1) {
		if m[1] != "cdktn." {
			return m[2]
		}
	}
	return ""
}

// valueType maps cdktn's storage class of a plain argument to its cty type.
func valueType(kind, storage string) (cty.Type, error) {
	elem := map[string]cty.Type{"string": cty.String, "number": cty.Number, "boolean": cty.Bool, "any": cty.DynamicPseudoType}
	if t, ok := elem[storage]; ok {
		return t, nil
	}
	// stringList, numberMap, stringListMap ...: read the suffixes outside-in.
	for _, suffix := range []string{"List", "Map"} {
		if inner, ok := strings.CutSuffix(storage, suffix); ok {
			et, err := valueType("simple", inner)
			if err != nil {
				return cty.NilType, err
			}
			if suffix == "Map" {
				return cty.Map(et), nil
			}
			if kind == "set" {
				return cty.Set(et), nil
			}
			return cty.List(et), nil
		}
	}
	return cty.NilType, fmt.Errorf("unknown storage class %q", storage)
}
