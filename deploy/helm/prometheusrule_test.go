package helm

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

const (
	// observabilityRules is the rule file the alerts are maintained in (and unit-tested
	// with promtool); chartRules is the chart's copy, which .Files.Get can read.
	observabilityRules = "../observability/prometheus/rules.yaml"
	chartRules         = "hello/files/rules.yaml"
)

// readRuleFile decodes a Prometheus rule file strictly into the groups a PrometheusRule
// carries: a field the chart's Go types do not know fails here first.
func readRuleFile(t testing.TB, path string) []RuleGroup {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []RuleGroup `json:"groups"`
	}
	if err := yaml.UnmarshalStrict(raw, &f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(f.Groups) == 0 {
		t.Fatalf("%s has no rule groups", path)
	}
	return f.Groups
}

// TestPrometheusRuleCopy: the chart's copy of the rules is the observability file, byte for
// byte (`go test ./... -update` copies it again).
func TestPrometheusRuleCopy(t *testing.T) {
	want, err := os.ReadFile(observabilityRules)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(chartRules)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if bytes.Equal(got, want) {
		return
	}
	if *update {
		if err := os.MkdirAll(filepath.Dir(chartRules), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(chartRules, want, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("copied %s to %s", observabilityRules, chartRules)
		return
	}
	t.Errorf("%s differs from %s: the chart would render other alerts than the ones maintained and tested there (run `go test ./... -update` in deploy/helm to copy it)", chartRules, observabilityRules)
}

// labelMatcher finds a matcher on job or namespace in a PromQL selector.
var labelMatcher = regexp.MustCompile(`[{,]\s*(job|namespace)\s*(=~|!~|!=|=)`)

// TestPrometheusRule renders the PrometheusRule: absent unless enabled (in every shipped
// environment too), and when enabled every group of the observability file, unchanged and
// in order, then the additional groups, with the chart's labels and the ruleSelector's.
func TestPrometheusRule(t *testing.T) {
	for _, env := range environments(t) {
		if r := render(t, env.layers...); len(r.all("PrometheusRule")) != 0 {
			t.Errorf("%s: a PrometheusRule is rendered without metrics.prometheusRule.enabled", env.name)
		}
	}

	want := readRuleFile(t, observabilityRules)
	extra := map[string]any{
		"name": "site.extra",
		"rules": []any{map[string]any{
			"alert": "HelloSiteCheck", "expr": "vector(1)", "for": "1h30m",
			"labels": map[string]any{"severity": "info"}, "annotations": map[string]any{"summary": "{{ $labels.job }} checked"},
		}},
	}
	layers := []map[string]any{
		dbOverride(),
		set("metrics.serviceMonitor.enabled", true),
		set("metrics.prometheusRule", map[string]any{
			"enabled":          true,
			"labels":           map[string]any{"release": "kube-prometheus-stack"},
			"additionalGroups": []any{extra},
		}),
		set("commonLabels", map[string]any{"team": "accounts"}),
	}
	r := render(t, layers...)
	checkInvariants(t, r, effectiveValues(t, layers...))
	o := r.one(t, "PrometheusRule")
	if o.APIVersion != "monitoring.coreos.com/v1" || o.File != "hello/templates/prometheusrule.yaml" {
		t.Errorf("PrometheusRule %s from %s", o.APIVersion, o.File)
	}
	pr := o.Value.(*PrometheusRule)
	if pr.Name != r.deployment(t).Name {
		t.Errorf("PrometheusRule name %q, want the full name %q", pr.Name, r.deployment(t).Name)
	}
	sm := r.one(t, "ServiceMonitor").Value.(*ServiceMonitor)
	for k, v := range sm.Labels {
		if k != "release" && pr.Labels[k] != v {
			t.Errorf("PrometheusRule lacks the chart label %s=%s", k, v)
		}
	}
	if pr.Labels["release"] != "kube-prometheus-stack" {
		t.Errorf("PrometheusRule labels %v lack metrics.prometheusRule.labels", pr.Labels)
	}

	got := pr.Spec.Groups
	var names []string
	for _, g := range got {
		names = append(names, g.Name)
	}
	for _, g := range want {
		if !slices.Contains(names, g.Name) {
			t.Errorf("rule group %s of %s is not rendered (groups: %v)", g.Name, observabilityRules, names)
		}
	}
	if len(got) != len(want)+1 {
		t.Fatalf("rendered groups %v, want the %d of %s and the additional one", names, len(want), observabilityRules)
	}
	for i, g := range want {
		if !reflect.DeepEqual(got[i], g) {
			t.Errorf("group %s rendered differently from %s:\n got %+v\nwant %+v", g.Name, observabilityRules, got[i], g)
		}
	}
	if last := got[len(got)-1]; last.Name != "site.extra" || len(last.Rules) != 1 || last.Rules[0].For != "1h30m" || last.Rules[0].Annotations["summary"] != "{{ $labels.job }} checked" {
		t.Errorf("additional group rendered as %+v", last)
	}

	// The rules pin no job or namespace: each aggregates by job, which for the chart's
	// ServiceMonitor is the Service name, whatever the release is called. A rule that
	// selected a job would have to be rendered with the chart's Service name instead.
	svc := r.one(t, "Service").Value.(*corev1.Service)
	for _, g := range want {
		for _, rule := range g.Rules {
			if m := labelMatcher.FindString(rule.Expr); m != "" {
				t.Errorf("%s selects on %q: the chart renders the rules as they are, so it would not match the ServiceMonitor's job %q in namespace %q", rule.Alert, m, svc.Name, namespace)
			}
			if rule.Alert != "" && !strings.Contains(rule.Expr, "by (job") {
				t.Errorf("%s does not aggregate by job: one Prometheus watching several releases would mix them", rule.Alert)
			}
		}
	}
}

// TestReadmeMonitoring renders the values the chart README gives for the Prometheus
// Operator: the example works, and its own rule names the job and namespace the chart's
// ServiceMonitor gives the targets (the Service name, the release namespace).
func TestReadmeMonitoring(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(chartDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	section := regexp.MustCompile("(?s)\n### Monitoring\n(.*?)\n### ").FindSubmatch(raw)
	if section == nil {
		t.Fatal("README.md has no section \"### Monitoring\"")
	}
	block := regexp.MustCompile("(?s)```yaml\n# values-monitoring.yaml\n(.*?)```").FindSubmatch(section[1])
	if block == nil {
		t.Fatal("the Monitoring section has no ```yaml block starting with # values-monitoring.yaml")
	}
	var vals map[string]any
	if err := yaml.Unmarshal(block[1], &vals); err != nil {
		t.Fatal(err)
	}
	layers := []map[string]any{dbOverride(), vals}
	r := render(t, layers...)
	checkInvariants(t, r, effectiveValues(t, layers...))
	svc := r.one(t, "Service").Value.(*corev1.Service)
	r.one(t, "ServiceMonitor")
	groups := r.one(t, "PrometheusRule").Value.(*PrometheusRule).Spec.Groups
	if n := len(readRuleFile(t, observabilityRules)); len(groups) <= n {
		t.Fatalf("the example adds no rule group")
	}
	for _, g := range groups[len(readRuleFile(t, observabilityRules)):] {
		for _, rule := range g.Rules {
			job := regexp.MustCompile(`job="([^"]*)"`).FindStringSubmatch(rule.Expr)
			ns := regexp.MustCompile(`namespace="([^"]*)"`).FindStringSubmatch(rule.Expr)
			if job == nil || job[1] != svc.Name || ns == nil || ns[1] != namespace {
				t.Errorf("example rule %s: %s, want job=%q (the Service) and namespace=%q", rule.Alert, rule.Expr, svc.Name, namespace)
			}
		}
	}
}
