// Command kubeschema writes strict JSON schemas of the Kubernetes kinds the hello chart
// renders, from the OpenAPI (Swagger 2.0) document of the k8s.io/kubernetes Go module,
// for kubeconform: one small file per kind, named as kubeconform's
// {{.ResourceKind}}{{.KindSuffix}}.json, referring to one _definitions.json that holds
// only the definitions those kinds reach. Strict: every object that lists its properties
// refuses others, as the API server's strict field validation does. Descriptions are
// dropped (size). Run by ./generate; the output is committed, so CI needs no download.
//
// Usage: go run ./kubeschema -swagger api/openapi-spec/swagger.json -out DIR
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// kinds are the apiVersion/kind pairs the chart renders (ServiceMonitor is a CRD: it has
// no schema in the Kubernetes document).
func kinds() []string {
	return []string{
		"v1/ConfigMap", "v1/PersistentVolumeClaim", "v1/Pod", "v1/Secret", "v1/Service", "v1/ServiceAccount",
		"apps/v1/Deployment", "autoscaling/v2/HorizontalPodAutoscaler", "batch/v1/Job",
		"networking.k8s.io/v1/Ingress", "networking.k8s.io/v1/NetworkPolicy", "policy/v1/PodDisruptionBudget",
	}
}

// overrides are definitions whose Swagger form does not say what the API accepts.
func overrides() map[string]any {
	return map[string]any{
		// int-or-string: 8080 and "http", 1 and "50%".
		"io.k8s.apimachinery.pkg.util.intstr.IntOrString": map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}},
		// Quantities: "250m", "1Gi", and plain numbers.
		"io.k8s.apimachinery.pkg.api.resource.Quantity": map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "number"}}},
	}
}

func main() {
	swagger := flag.String("swagger", "", "path of api/openapi-spec/swagger.json in the k8s.io/kubernetes module")
	out := flag.String("out", "", "directory to write the schemas into")
	flag.Parse()
	if err := run(*swagger, *out); err != nil {
		fmt.Fprintln(os.Stderr, "kubeschema:", err)
		os.Exit(1)
	}
}

func run(swaggerPath, out string) error {
	raw, err := os.ReadFile(swaggerPath)
	if err != nil {
		return err
	}
	var doc struct {
		Definitions map[string]map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return err
	}
	byGVK := map[string]string{}
	for name, def := range doc.Definitions {
		gvks, _ := def["x-kubernetes-group-version-kind"].([]any)
		for _, g := range gvks {
			m := g.(map[string]any)
			gv := m["version"].(string)
			if grp := m["group"].(string); grp != "" {
				gv = grp + "/" + gv
			}
			byGVK[gv+"/"+m["kind"].(string)] = name
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	reached := map[string]bool{}
	for _, k := range kinds() {
		name, ok := byGVK[k]
		if !ok {
			return fmt.Errorf("no definition of %s", k)
		}
		reach(doc.Definitions, name, reached)
		i := strings.LastIndex(k, "/")
		apiVersion, kind := k[:i], k[i+1:]
		file := strings.ToLower(kind) + kindSuffix(apiVersion) + ".json"
		entry := map[string]any{"$ref": "_definitions.json#/definitions/" + name}
		if err := writeJSON(filepath.Join(out, file), entry); err != nil {
			return err
		}
	}
	defs := map[string]any{}
	for name := range reached {
		if o, ok := overrides()[name]; ok {
			defs[name] = o
			continue
		}
		defs[name] = strict(doc.Definitions[name])
	}
	return writeDefinitions(filepath.Join(out, "_definitions.json"), defs)
}

// kindSuffix is kubeconform's KindSuffix: -<first label of the group>-<version>, or
// -<version> for the core group.
func kindSuffix(apiVersion string) string {
	group, version, ok := strings.Cut(apiVersion, "/")
	if !ok {
		return "-" + apiVersion
	}
	first, _, _ := strings.Cut(group, ".")
	return "-" + first + "-" + version
}

// reach marks name and every definition it refers to.
func reach(defs map[string]map[string]any, name string, seen map[string]bool) {
	if seen[name] {
		return
	}
	seen[name] = true
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				reach(defs, strings.TrimPrefix(ref, "#/definitions/"), seen)
			}
			for _, vv := range x {
				walk(vv)
			}
		case []any:
			for _, vv := range x {
				walk(vv)
			}
		}
	}
	walk(defs[name])
}

// strict copies a schema without descriptions or x-kubernetes-* extensions, closing
// every object that lists its properties.
func strict(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, vv := range x {
			if k == "description" || strings.HasPrefix(k, "x-kubernetes-") {
				continue
			}
			if k == "$ref" {
				out[k] = vv // a sibling of $ref is ignored: keep it alone
				return out
			}
			out[k] = strict(vv)
		}
		if _, ok := out["properties"]; ok {
			if _, ok := out["additionalProperties"]; !ok {
				out["additionalProperties"] = false
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, vv := range x {
			out[i] = strict(vv)
		}
		return out
	}
	return v
}

func writeJSON(path string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(raw, '\n'), 0o644)
}

// writeDefinitions writes {"definitions": {...}} with one definition per line, sorted, so
// that a regeneration diffs by definition.
func writeDefinitions(path string, defs map[string]any) error {
	var b bytes.Buffer
	b.WriteString("{\"definitions\": {\n")
	names := make([]string, 0, len(defs))
	for n := range defs {
		names = append(names, n)
	}
	slices.Sort(names)
	for i, n := range names {
		raw, err := json.Marshal(defs[n])
		if err != nil {
			return err
		}
		sep := ","
		if i == len(names)-1 {
			sep = ""
		}
		fmt.Fprintf(&b, "%q: %s%s\n", n, raw, sep)
	}
	b.WriteString("}}\n")
	return os.WriteFile(path, b.Bytes(), 0o644)
}
