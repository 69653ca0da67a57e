package helm

import (
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
)

// TestLint runs the SDK's `helm lint` for each environment. The only message allowed is
// the INFO that the chart has no icon: the project has none to point at.
func TestLint(t *testing.T) {
	cases := map[string]map[string]any{"defaults": {}}
	for _, env := range environments(t) {
		cases[env.name+" with database"] = mergeValues(env.layers...)
	}
	for name, vals := range cases {
		t.Run(name, func(t *testing.T) {
			linter := lint.All(chartDir, vals, namespace, false)
			for _, m := range linter.Messages {
				if m.Severity == support.InfoSev && strings.Contains(m.Err.Error(), "icon is recommended") {
					continue
				}
				t.Errorf("lint: %s", m)
			}
			if linter.HighestSeverity >= support.WarningSev {
				t.Errorf("lint highest severity %d", linter.HighestSeverity)
			}
		})
	}
}
