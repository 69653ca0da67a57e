package helm

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chartutil"
)

// validate runs the chart's schema over the defaults merged with the overrides, as
// helm install does before rendering.
func validate(t *testing.T, overrides map[string]any) error {
	t.Helper()
	c := loadChart(t)
	vals, err := chartutil.CoalesceValues(c, overrides)
	if err != nil {
		t.Fatalf("coalesce: %v", err)
	}
	return chartutil.ValidateAgainstSchema(c, vals)
}

func TestSchemaAcceptsShippedValues(t *testing.T) {
	for _, name := range []string{"values.yaml", "values-staging.yaml", "values-production.yaml"} {
		t.Run(name, func(t *testing.T) {
			if err := validate(t, readValuesFile(t, name)); err != nil {
				t.Errorf("schema rejects %s: %v", name, err)
			}
		})
	}
}

func TestSchemaRejectsBadValues(t *testing.T) {
	cases := []struct {
		name      string
		overrides map[string]any
		want      string // part of the error
	}{
		{"wrong type", set("replicaCount", "two"), "replicaCount"},
		{"negative replicas", set("replicaCount", -1), "replicaCount"},
		{"unknown top-level key", set("replicas", 3), "replicas"},
		{"typo in a nested key", set("image.tga", "1.0"), "tga"},
		{"typo in config", set("config.sessionTtl", "1h"), "sessionTtl"},
		{"bool as string", set("ingress.enabled", "true"), "enabled"},
		{"NodePort service", set("service.type", "NodePort"), "type"},
		{"LoadBalancer service", set("service.type", "LoadBalancer"), "type"},
		{"unknown environment", set("config.env", "prod"), "env"},
		{"unknown log level", set("config.logLevel", "verbose"), "logLevel"},
		{"bad duration", set("config.sessionTTL", "1 day"), "sessionTTL"},
		{"shutdown timeout the chart cannot compare", set("config.shutdownTimeout", "1500ms"), "shutdownTimeout"},
		{"bad rate", set("config.senderLimit", "600 per minute"), "senderLimit"},
		{"zero login failures", set("config.loginMaxFailures", 0), "loginMaxFailures"},
		{"password in database.url", set("database.url", "postgres://hello:hunter2@pg:5432/hello"), "url"},
		{"password in redis.url", set("redis.url", "redis://:hunter2@redis:6379/0"), "url"},
		{"literal shard password", set("database.shards", map[string]any{"shards": []any{map[string]any{"name": "s1", "dsn": "postgres://hello:hunter2@pg-s1/hello"}}}), "dsn"},
		{"secret through config.extra", set("config.extra", map[string]any{"HELLO_DB_PASSWORD": "hunter2"}), "HELLO_DB_PASSWORD"},
		{"captcha secret through config.extra", set("config.extra", map[string]any{"HELLO_CAPTCHA_SECRET_KEY": "x"}), "HELLO_CAPTCHA_SECRET_KEY"},
		{"non-HELLO variable through config.extra", set("config.extra", map[string]any{"PATH": "/"}), "PATH"},
		{"bad shard password variable", set("existingSecret.keys.shardPasswords", map[string]any{"DB_PASSWORD": "k"}), "DB_PASSWORD"},
		{"production without existingSecret", set("config.env", "production"), "existingSecret"},
		{"production with sqliteDev", mergeValues(set("config.env", "production"), set("existingSecret.name", "hello"), set("database.sqliteDev", true)), "sqliteDev"},
		{"negative grace period", set("terminationGracePeriodSeconds", -5), "terminationGracePeriodSeconds"},
		{"negative preStop", set("preStopSleepSeconds", -1), "preStopSleepSeconds"},
		{"HPA minReplicas 0", set("autoscaling.minReplicas", 0), "minReplicas"},
		{"CPU target over 100%", set("autoscaling.targetCPUUtilizationPercentage", 150), "targetCPUUtilizationPercentage"},
		{"memory request missing", set("resources.requests.memory", ""), "memory"},
		{"bad quantity", set("resources.limits.memory", "lots"), "memory"},
		{"bad pull policy", set("image.pullPolicy", "Sometimes"), "pullPolicy"},
		{"bad ingress pathType", set("ingress.hosts", []any{map[string]any{"host": "h", "paths": []any{map[string]any{"path": "/", "pathType": "Glob"}}}}), "pathType"},
		{"bad trusted proxies", set("ingress.trustedProxies", "everyone"), "trustedProxies"},
		{"bad namespace name", set("networkPolicy.ingressNamespaces", []any{"Ingress_Nginx"}), "ingressNamespaces"},
		{"port out of range", set("networkPolicy.databasePorts", []any{70000}), "databasePorts"},
		{"unknown probe field", set("probes.liveness.initialDelay", 5), "initialDelay"},
		{"bad topology policy", set("topologySpread.zoneWhenUnsatisfiable", "Maybe"), "zoneWhenUnsatisfiable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := validate(t, tc.overrides)
			if err == nil {
				t.Fatalf("schema accepts %v", tc.overrides)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error does not name %q: %v", tc.want, err)
			}
			// helm install/template refuses the same values before rendering anything.
			if _, err := renderValues(loadChart(t), mergeValues(dbOverride(), tc.overrides)); err == nil {
				t.Errorf("rendering accepts %v", tc.overrides)
			}
		})
	}
}

// TestTemplateRefusals covers what the schema cannot express: the chart fails with a
// clear message instead of rendering something that would not work.
func TestTemplateRefusals(t *testing.T) {
	cases := []struct {
		name   string
		layers []map[string]any
		want   string
	}{
		{"defaults alone: no database", nil, "no database configured"},
		{"staging without database", []map[string]any{readValuesFile(t, "values-staging.yaml")}, "no database configured"},
		{"two database modes", []map[string]any{dbOverride(), set("database.sqliteDev", true)}, "more than one database mode"},
		{"sqlite with two replicas", []map[string]any{set("database.sqliteDev", true)}, "replicaCount=1"},
		{"sqlite with autoscaling", []map[string]any{set("database.sqliteDev", true), set("replicaCount", 1), set("autoscaling.enabled", true)}, "replicaCount=1"},
		{"grace period too short", []map[string]any{dbOverride(), set("terminationGracePeriodSeconds", 12)}, "terminationGracePeriodSeconds (12) must exceed"},
		{"grace period vs long shutdown", []map[string]any{dbOverride(), set("config.shutdownTimeout", "1m")}, "config.shutdownTimeout (60s)"},
		{"HPA min above max", []map[string]any{dbOverride(), set("autoscaling", map[string]any{"enabled": true, "minReplicas": 5, "maxReplicas": 3})}, "minReplicas"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := renderValues(loadChart(t), mergeValues(tc.layers...))
			if err == nil {
				t.Fatalf("chart renders")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

// TestNoSecretsInValuesFiles walks every values file of the chart: no URL with a
// password, and nothing that looks like a password, token or key outside the
// existingSecret key names.
func TestNoSecretsInValuesFiles(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(chartDir, "values*.yaml"))
	if err != nil || len(files) < 3 {
		t.Fatalf("values files: %v %v", files, err)
	}
	secretish := regexp.MustCompile(`(?i)(password|passwd|secret|token|apikey|api_key|private)`)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), "-----BEGIN") {
			t.Errorf("%s contains a PEM block", f)
		}
		var walk func(path string, v any)
		walk = func(path string, v any) {
			switch x := v.(type) {
			case map[string]any:
				for k, vv := range x {
					walk(strings.TrimPrefix(path+"."+k, "."), vv)
				}
			case []any:
				for _, vv := range x {
					walk(path+"[]", vv)
				}
			case string:
				if hasLiteralPassword(x) {
					t.Errorf("%s: %s carries a password in a URL", f, path)
				}
				if x != "" && secretish.MatchString(path) && !strings.HasPrefix(path, "existingSecret.") {
					t.Errorf("%s: %s looks like a secret value; reference it through existingSecret", f, path)
				}
				if strings.HasPrefix(path, "existingSecret.") && !regexp.MustCompile(`^[-._a-zA-Z0-9]*$`).MatchString(x) {
					t.Errorf("%s: %s = %q is not a Secret name or key", f, path, x)
				}
			}
		}
		walk("", readValuesFile(t, filepath.Base(f)))
	}
}

func TestKubeVersionConstraint(t *testing.T) {
	c := loadChart(t)
	if c.Metadata.APIVersion != "v2" || c.Metadata.AppVersion == "" || c.Metadata.KubeVersion == "" {
		t.Fatalf("Chart.yaml: apiVersion %q appVersion %q kubeVersion %q", c.Metadata.APIVersion, c.Metadata.AppVersion, c.Metadata.KubeVersion)
	}
	for v, want := range map[string]bool{
		"v1.29.9": false, // no preStop sleep action by default
		"v1.30.0": true,
		"v1.37.2": true, // the k8s.io/api version these tests decode with
	} {
		if got := chartutil.IsCompatibleRange(c.Metadata.KubeVersion, v); got != want {
			t.Errorf("kubeVersion %q accepts %s: %v, want %v", c.Metadata.KubeVersion, v, got, want)
		}
	}
}

// TestSchemaIsClosed walks values.schema.json: every object schema that lists
// properties refuses others, and every free-form map constrains its values, so a typo
// anywhere fails. The affinity subtrees are the one exception (Kubernetes types too
// large to restate; the API server checks them).
func TestSchemaIsClosed(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(chartDir, "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	open := []string{"/properties/affinity/properties/nodeAffinity", "/properties/affinity/properties/podAffinity", "/properties/affinity/properties/podAntiAffinity", "/properties/global"}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if x["type"] == "object" && !slices.Contains(open, path) {
				ap, hasAP := x["additionalProperties"]
				if _, hasProps := x["properties"]; hasProps && ap != false {
					t.Errorf("%s: lists properties but does not set additionalProperties: false", path)
				}
				if !hasAP {
					t.Errorf("%s: an object without additionalProperties", path)
				}
			}
			for k, vv := range x {
				walk(path+"/"+k, vv)
			}
		case []any:
			for i, vv := range x {
				walk(fmt.Sprintf("%s/%d", path, i), vv)
			}
		}
	}
	walk("", schema)
}
