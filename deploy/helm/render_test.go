package helm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

const (
	chartDir    = "hello"
	releaseName = "hello"
	namespace   = "hello"
)

// testDB stands for the database location that Terraform hands over at deploy time
// (the values files leave it out on purpose: the chart refuses to start without one).
const testDB = "postgres://hello@hello-db.example.internal:5432/hello?sslmode=require"

// dbOverride is what `--set database.url=...` adds to an environment.
func dbOverride() map[string]any {
	return map[string]any{"database": map[string]any{"url": testDB}}
}

// testImage is the image every rendering names (the chart has no default: image.repository
// is required).
const testImage = "hello"

func imageOverride() map[string]any { return set("image.repository", testImage) }

func loadChart(t testing.TB) *chart.Chart {
	t.Helper()
	c, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	return c
}

func readValuesFile(t testing.TB, name string) map[string]any {
	t.Helper()
	v, err := chartutil.ReadValuesFile(filepath.Join(chartDir, name))
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return v.AsMap()
}

// mergeValues merges the layers like `helm -f a.yaml -f b.yaml --set ...`: later layers
// win, maps merge key by key, anything else is replaced.
func mergeValues(layers ...map[string]any) map[string]any {
	out := map[string]any{}
	for _, l := range layers {
		mergeInto(out, l)
	}
	return out
}

func mergeInto(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				mergeInto(dm, sm)
				continue
			}
			cp := map[string]any{}
			mergeInto(cp, sm)
			dst[k] = cp
			continue
		}
		dst[k] = v
	}
}

// set builds a nested override from a dotted path, like `--set a.b=v`.
func set(path string, v any) map[string]any {
	parts := strings.Split(path, ".")
	m := map[string]any{parts[len(parts)-1]: v}
	for i := len(parts) - 2; i >= 0; i-- {
		m = map[string]any{parts[i]: m}
	}
	return m
}

// renderValues coalesces the chart defaults with the overrides, validates them against
// values.schema.json (as helm install does) and renders the templates offline (lookup
// finds nothing, as in `helm template`).
func renderValues(c *chart.Chart, overrides map[string]any) (map[string]string, error) {
	return renderRelease(c, releaseName, overrides, nil)
}

// renderRelease renders like renderValues, for a release name, with lookup answered by
// cluster (nil: offline).
func renderRelease(c *chart.Chart, release string, overrides map[string]any, cluster engine.ClientProvider) (map[string]string, error) {
	opts := chartutil.ReleaseOptions{Name: release, Namespace: namespace, Revision: 1, IsInstall: true}
	rv, err := chartutil.ToRenderValues(c, overrides, opts, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	if cluster != nil {
		return engine.RenderWithClientProvider(c, rv, cluster)
	}
	return engine.Render(c, rv)
}

// Rendered is one rendering of the chart, decoded.
type Rendered struct {
	Files   map[string]string // template path -> rendered text
	Objects []Object
}

// Object is one Kubernetes object of a rendering: its strictly decoded typed value.
type Object struct {
	File       string
	APIVersion string
	Kind       string
	Name       string
	Value      any
}

func (r *Rendered) all(kind string) []Object {
	var out []Object
	for _, o := range r.Objects {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

func (r *Rendered) one(t testing.TB, kind string) Object {
	t.Helper()
	objs := r.all(kind)
	if len(objs) != 1 {
		t.Fatalf("want exactly one %s, got %d", kind, len(objs))
	}
	return objs[0]
}

// byName returns the object of a kind and name, or nil.
func (r *Rendered) byName(t testing.TB, kind, name string) *Object {
	t.Helper()
	for _, o := range r.all(kind) {
		if o.Name == name {
			return &o
		}
	}
	return nil
}

func (r *Rendered) deployment(t testing.TB) *appsv1.Deployment {
	return r.one(t, "Deployment").Value.(*appsv1.Deployment)
}

func (r *Rendered) configMap(t testing.TB) *corev1.ConfigMap {
	return r.one(t, "ConfigMap").Value.(*corev1.ConfigMap)
}

// render renders the chart with the test image and the given value layers and fails the
// test on any error, including an object that does not decode strictly.
func render(t testing.TB, layers ...map[string]any) *Rendered {
	t.Helper()
	return renderIn(t, releaseName, nil, layers...)
}

// renderIn renders like render, for a release name and with lookup answered by cluster
// (nil: offline). With -manifests, the rendering is also saved for kubeconform and
// kube-score (see ./check).
func renderIn(t testing.TB, release string, cluster engine.ClientProvider, layers ...map[string]any) *Rendered {
	t.Helper()
	files, err := renderRelease(loadChart(t), release, mergeValues(append([]map[string]any{imageOverride()}, layers...)...), cluster)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	saveManifests(t, files)
	r := &Rendered{Files: files}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if !strings.HasSuffix(name, ".yaml") {
			continue // NOTES.txt, _helpers.tpl
		}
		for i, doc := range splitDocuments(files[name]) {
			o, err := decodeObject(doc)
			if err != nil {
				t.Fatalf("%s, document %d: %v\n%s", name, i, err, doc)
			}
			o.File = name
			r.Objects = append(r.Objects, o)
		}
	}
	return r
}

var docSep = regexp.MustCompile(`(?m)^---\s*$`)

// splitDocuments splits a rendered template into its YAML documents, dropping empty ones
// (comments and whitespace only).
func splitDocuments(s string) []string {
	var out []string
	for _, d := range docSep.Split(s, -1) {
		empty := true
		for _, line := range strings.Split(d, "\n") {
			line = strings.TrimSpace(line)
			if line != "" && !strings.HasPrefix(line, "#") {
				empty = false
				break
			}
		}
		if !empty {
			out = append(out, d)
		}
	}
	return out
}

// ServiceMonitor is the part of monitoring.coreos.com/v1 ServiceMonitor the chart uses.
// There is no Go type imported for it: the strict decoder below makes any field the
// chart renders outside this subset (or with the wrong type) fail the test.
type ServiceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              ServiceMonitorSpec `json:"spec"`
}

// ServiceMonitorSpec mirrors the used fields of the operator's ServiceMonitorSpec.
type ServiceMonitorSpec struct {
	Selector          metav1.LabelSelector `json:"selector"`
	NamespaceSelector struct {
		Any        bool     `json:"any,omitempty"`
		MatchNames []string `json:"matchNames,omitempty"`
	} `json:"namespaceSelector"`
	Endpoints []ServiceMonitorEndpoint `json:"endpoints"`
}

// ServiceMonitorEndpoint mirrors the used fields of the operator's Endpoint.
type ServiceMonitorEndpoint struct {
	Port          string `json:"port"`
	Path          string `json:"path,omitempty"`
	Scheme        string `json:"scheme,omitempty"`
	Interval      string `json:"interval,omitempty"`
	ScrapeTimeout string `json:"scrapeTimeout,omitempty"`
}

// PrometheusRule is the part of monitoring.coreos.com/v1 PrometheusRule the chart uses,
// decoded strictly like ServiceMonitor.
type PrometheusRule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Groups []RuleGroup `json:"groups"`
	} `json:"spec"`
}

// RuleGroup mirrors the operator's RuleGroup (and a rule file's group: the same fields,
// spelt the same).
type RuleGroup struct {
	Name        string            `json:"name"`
	Interval    string            `json:"interval,omitempty"`
	QueryOffset string            `json:"query_offset,omitempty"`
	Limit       *int              `json:"limit,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Rules       []Rule            `json:"rules"`
}

// Rule mirrors the operator's Rule: an alerting or a recording rule.
type Rule struct {
	Alert         string            `json:"alert,omitempty"`
	Record        string            `json:"record,omitempty"`
	Expr          string            `json:"expr"`
	For           string            `json:"for,omitempty"`
	KeepFiringFor string            `json:"keep_firing_for,omitempty"`
	Labels        map[string]string `json:"labels,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

// newTyped returns a pointer to the Go type of an apiVersion/kind, or nil.
func newTyped(apiVersion, kind string) any {
	switch apiVersion + "/" + kind {
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}
	case "v1/Service":
		return &corev1.Service{}
	case "v1/ServiceAccount":
		return &corev1.ServiceAccount{}
	case "v1/Pod":
		return &corev1.Pod{}
	case "v1/Secret":
		return &corev1.Secret{}
	case "v1/PersistentVolumeClaim":
		return &corev1.PersistentVolumeClaim{}
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}
	case "batch/v1/Job":
		return &batchv1.Job{}
	case "policy/v1/PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}
	case "autoscaling/v2/HorizontalPodAutoscaler":
		return &autoscalingv2.HorizontalPodAutoscaler{}
	case "networking.k8s.io/v1/NetworkPolicy":
		return &networkingv1.NetworkPolicy{}
	case "networking.k8s.io/v1/Ingress":
		return &networkingv1.Ingress{}
	case "monitoring.coreos.com/v1/ServiceMonitor":
		return &ServiceMonitor{}
	case "monitoring.coreos.com/v1/PrometheusRule":
		return &PrometheusRule{}
	}
	return nil
}

// decodeObject converts one YAML document to JSON (duplicate keys are an error) and
// decodes it into its Go type with unknown fields refused, so a misspelt or misplaced
// field, or a value of the wrong type, fails.
func decodeObject(doc string) (Object, error) {
	j, err := yaml.YAMLToJSONStrict([]byte(doc))
	if err != nil {
		return Object{}, fmt.Errorf("not YAML: %w", err)
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(j, &tm); err != nil {
		return Object{}, fmt.Errorf("no apiVersion/kind: %w", err)
	}
	v := newTyped(tm.APIVersion, tm.Kind)
	if v == nil {
		return Object{}, fmt.Errorf("unexpected object %s %s: add its type to newTyped", tm.APIVersion, tm.Kind)
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return Object{}, fmt.Errorf("%s %s: %w", tm.APIVersion, tm.Kind, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Object{}, fmt.Errorf("%s %s: trailing data", tm.APIVersion, tm.Kind)
	}
	meta, ok := v.(metav1.Object)
	if !ok {
		return Object{}, fmt.Errorf("%s %s: no object metadata", tm.APIVersion, tm.Kind)
	}
	if meta.GetName() == "" {
		return Object{}, fmt.Errorf("%s %s: no metadata.name", tm.APIVersion, tm.Kind)
	}
	return Object{APIVersion: tm.APIVersion, Kind: tm.Kind, Name: meta.GetName(), Value: v}, nil
}

// environments are the shipped values files, each with the database that Terraform
// provides at deploy time.
type environment struct {
	name   string
	layers []map[string]any
}

// environments are the shipped values files. Defaults alone are the SQLite trial;
// staging gets its database from Terraform at deploy time; production carries its shard
// map (CloudNativePG clusters) and takes Redis from its Secret.
func environments(t testing.TB) []environment {
	return []environment{
		{"default", nil},
		{"staging", []map[string]any{readValuesFile(t, "values-staging.yaml"), dbOverride()}},
		{"production", []map[string]any{readValuesFile(t, "values-production.yaml")}},
	}
}

func kinds(r *Rendered) []string {
	var out []string
	for _, o := range r.Objects {
		out = append(out, o.Kind+"/"+o.Name)
	}
	sort.Strings(out)
	return out
}

func yamlUnmarshalStrict(s string, v any) error {
	return yaml.UnmarshalStrict([]byte(s), v)
}
