package helm

import (
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
)

// TestLint runs the SDK's `helm lint --strict` for each environment, with the image (the one
// required value). The only message allowed is the INFO that the chart has no icon: the
// project has none to point at.
func TestLint(t *testing.T) {
	cases := map[string]map[string]any{}
	for _, env := range environments(t) {
		cases[env.name] = mergeValues(append([]map[string]any{imageOverride()}, env.layers...)...)
	}
	for name, vals := range cases {
		t.Run(name, func(t *testing.T) {
			linter := lint.All(chartDir, vals, namespace, true) // helm lint --strict
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
