package helm

import (
	"strings"
	"testing"
)

// TestStrictDecoding proves that the decoder used on every rendered object refuses what
// the API server would drop or reject, so the other tests cannot pass on a typo.
func TestStrictDecoding(t *testing.T) {
	const head = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: hello\n"
	cases := map[string]string{
		"unknown field":                        head + "spec:\n  replica: 2\n",
		"wrong type":                           head + "spec:\n  replicas: two\n",
		"misplaced field":                      head + "spec:\n  template:\n    spec:\n      containers:\n        - name: a\n          runAsNonRoot: true\n",
		"duplicate key":                        head + "spec:\n  replicas: 2\n  replicas: 3\n",
		"unknown kind":                         "apiVersion: v1\nkind: Secrte\nmetadata:\n  name: x\n",
		"no name":                              "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n",
		"ServiceMonitor typo":                  "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata:\n  name: x\nspec:\n  endpoints:\n    - port: metrics\n      intervall: 30s\n",
		"PrometheusRule typo":                  "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata:\n  name: x\nspec:\n  groups:\n    - name: g\n      rules:\n        - alert: A\n          expr: up == 0\n          fro: 5m\n",
		"PrometheusRule rules outside a group": "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata:\n  name: x\nspec:\n  rules:\n    - alert: A\n      expr: up == 0\n",
	}
	for name, doc := range cases {
		if _, err := decodeObject(doc); err == nil {
			t.Errorf("%s: decoded without error:\n%s", name, doc)
		}
	}
	if _, err := decodeObject(head + "spec:\n  replicas: 2\n  selector:\n    matchLabels: {a: b}\n"); err != nil {
		t.Errorf("a valid Deployment fails: %v", err)
	}
}

func TestSplitDocuments(t *testing.T) {
	got := splitDocuments("# only a comment\n---\na: 1\n---\n\n---\nb: 2\n")
	if len(got) != 2 || !strings.Contains(got[0], "a: 1") || !strings.Contains(got[1], "b: 2") {
		t.Errorf("splitDocuments = %q", got)
	}
}
