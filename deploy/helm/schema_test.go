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
		{"zero replicas", set("replicaCount", 0), "replicaCount"},
		{"unknown top-level key", set("replicas", 3), "replicas"},
		{"typo in a nested key", set("image.tga", "1.0"), "tga"},
		{"tag in image.repository", set("image.repository", "hello:1.0"), "repository"},
		{"typo in config", set("config.sessionTtl", "1h"), "sessionTtl"},
		{"bool as string", set("ingress.enabled", "true"), "enabled"},
		{"NodePort service", set("service.type", "NodePort"), "type"},
		{"LoadBalancer service", set("service.type", "LoadBalancer"), "type"},
		{"unknown environment", set("config.env", "prod"), "env"},
		{"unknown log level", set("config.logLevel", "verbose"), "logLevel"},
		{"bad duration", set("config.sessionTTL", "1 day"), "sessionTTL"},
		{"two units: the chart cannot bound or compare them", set("config.shutdownTimeout", "1m30s"), "shutdownTimeout"},
		{"bad rate", set("config.senderLimit", "600 per minute"), "senderLimit"},
		{"rate over an empty period", set("config.authSenderLimit", "20/0s"), "authSenderLimit"},
		{"zero login failures", set("config.loginMaxFailures", 0), "loginMaxFailures"},
		// Issue 14, item 5: what the service refuses at start (exit 2), from config.Bounds.
		{"session TTL under 1m", set("config.sessionTTL", "30s"), "sessionTTL"},
		{"DB timeout under 10ms", set("config.dbTimeout", "5ms"), "dbTimeout"},
		{"login window under 1s", set("config.loginWindow", "999ms"), "loginWindow"},
		{"more login failures than the service takes", set("config.loginMaxFailures", 1001), "loginMaxFailures"},
		{"pool larger than the service takes", set("config.dbMaxConns", 10001), "dbMaxConns"},
		{"negative hash concurrency", set("config.hashConcurrency", -1), "hashConcurrency"},
		{"unknown client IP header", set("ingress.clientIPHeader", "True-Client-IP"), "clientIPHeader"},
		{"unknown captcha provider", set("captcha.provider", "recaptcha3"), "provider"},
		{"unknown Redis failure mode", set("redis.failure", "retry"), "failure"},
		// ... and what the API server refuses.
		{"empty PDB maxUnavailable", set("podDisruptionBudget.maxUnavailable", ""), "maxUnavailable"},
		{"PDB percentage over 100", set("podDisruptionBudget.maxUnavailable", "150%"), "maxUnavailable"},
		{"PDB maxUnavailable as a word", set("podDisruptionBudget.maxUnavailable", "one"), "maxUnavailable"},
		// Issue 14, item 10: no password in a URL, in any form.
		{"password in database.url", set("database.url", "postgres://hello:hunter2@pg:5432/hello"), "url"},
		{"?password= in database.url", set("database.url", "postgres://hello@pg:5432/hello?sslmode=require&password=hunter2"), "url"},
		{"key=value DSN", set("database.url", "host=pg user=hello password=hunter2"), "url"},
		{"password in redis.url", set("redis.url", "redis://:hunter2@redis:6379/0"), "url"},
		{"?password= in redis.url", set("redis.url", "redis://redis:6379/0?password=hunter2"), "url"},
		{"literal shard password", set("database.shards", map[string]any{"shards": []any{map[string]any{"name": "s1", "dsn": "postgres://hello:hunter2@pg-s1/hello"}}}), "dsn"},
		{"?password= in a shard DSN", set("database.shards", map[string]any{"shards": []any{map[string]any{"name": "s1", "dsn": "postgres://hello@pg-s1/hello?password=hunter2"}}}), "dsn"},
		{"secret through config.extra", set("config.extra", map[string]any{"HELLO_DB_PASSWORD": "hunter2"}), "HELLO_DB_PASSWORD"},
		{"captcha secret through config.extra", set("config.extra", map[string]any{"HELLO_CAPTCHA_SECRET_KEY": "x"}), "HELLO_CAPTCHA_SECRET_KEY"},
		{"non-HELLO variable through config.extra", set("config.extra", map[string]any{"PATH": "/"}), "PATH"},
		{"bad shard password variable", set("existingSecret.keys.shardPasswords", map[string]any{"DB_PASSWORD": "k"}), "DB_PASSWORD"},
		{"production without existingSecret", set("config.env", "production"), "existingSecret"},
		{"negative grace period", set("terminationGracePeriodSeconds", -5), "terminationGracePeriodSeconds"},
		{"negative preStop", set("preStopSleepSeconds", -1), "preStopSleepSeconds"},
		{"HPA minReplicas 0", set("autoscaling.minReplicas", 0), "minReplicas"},
		{"CPU target over 100%", set("autoscaling.targetCPUUtilizationPercentage", 150), "targetCPUUtilizationPercentage"},
		{"memory request missing", set("resources.requests.memory", ""), "memory"},
		{"bad quantity", set("resources.limits.memory", "lots"), "memory"},
		{"bad claim size", set("database.sqlite.persistence.size", "big"), "size"},
		{"bad pull policy", set("image.pullPolicy", "Sometimes"), "pullPolicy"},
		{"bad ingress pathType", set("ingress.hosts", []any{map[string]any{"host": "h", "paths": []any{map[string]any{"path": "/", "pathType": "Glob"}}}}), "pathType"},
		{"bad trusted proxies", set("ingress.trustedProxies", "everyone"), "trustedProxies"},
		{"bad namespace name", set("networkPolicy.ingressNamespaces", []any{"Ingress_Nginx"}), "ingressNamespaces"},
		{"port out of range", set("networkPolicy.databasePorts", []any{70000}), "databasePorts"},
		{"bad captcha egress CIDR", set("networkPolicy.captchaEgress", []any{map[string]any{"cidr": "internet"}}), "cidr"},
		{"unknown probe field", set("probes.liveness.initialDelay", 5), "initialDelay"},
		{"bad topology policy", set("topologySpread.zoneWhenUnsatisfiable", "Maybe"), "zoneWhenUnsatisfiable"},
		{"bad taints policy", set("topologySpread.nodeTaintsPolicy", "Sometimes"), "nodeTaintsPolicy"},
		// Overridable security contexts stay within the restricted Pod Security profile.
		{"root pod", set("podSecurityContext.runAsNonRoot", false), "runAsNonRoot"},
		{"uid 0", set("containerSecurityContext.runAsUser", 0), "runAsUser"},
		{"privilege escalation", set("containerSecurityContext.allowPrivilegeEscalation", true), "allowPrivilegeEscalation"},
		{"writable root filesystem", set("containerSecurityContext.readOnlyRootFilesystem", false), "readOnlyRootFilesystem"},
		{"added capability", set("containerSecurityContext.capabilities.add", []any{"NET_ADMIN"}), "add"},
		{"unconfined seccomp", set("podSecurityContext.seccompProfile.type", "Unconfined"), "type"},
		{"extra volume shadowing /tmp", set("extraVolumes", []any{map[string]any{"name": "tmp", "emptyDir": map[string]any{}}}), "name"},
		{"extraEnv without name", set("extraEnv", []any{map[string]any{"value": "x"}}), "name"},
		// metrics.prometheusRule: rule groups in the shape the PrometheusRule CRD takes.
		{"PrometheusRule enabled as a string", set("metrics.prometheusRule.enabled", "true"), "enabled"},
		{"bad PrometheusRule label value", set("metrics.prometheusRule.labels", map[string]any{"release": "kube prometheus"}), "labels"},
		{"additional group without rules", set("metrics.prometheusRule.additionalGroups", []any{map[string]any{"name": "g"}}), "rules"},
		{"additional group without name", set("metrics.prometheusRule.additionalGroups", []any{map[string]any{"rules": []any{map[string]any{"alert": "A", "expr": "up == 0"}}}}), "name"},
		{"rule typo", set("metrics.prometheusRule.additionalGroups", []any{map[string]any{"name": "g", "rules": []any{map[string]any{"alert": "A", "expr": "up == 0", "fro": "5m"}}}}), "fro"},
		{"rule without expr", set("metrics.prometheusRule.additionalGroups", []any{map[string]any{"name": "g", "rules": []any{map[string]any{"alert": "A"}}}}), "expr"},
		{"rule both alert and record", set("metrics.prometheusRule.additionalGroups", []any{map[string]any{"name": "g", "rules": []any{map[string]any{"alert": "A", "record": "a:b", "expr": "up"}}}}), "oneOf"},
		{"rule with a bad duration", set("metrics.prometheusRule.additionalGroups", []any{map[string]any{"name": "g", "rules": []any{map[string]any{"alert": "A", "expr": "up == 0", "for": "5 minutes"}}}}), "for"},
		{"rule label not a string", set("metrics.prometheusRule.additionalGroups", []any{map[string]any{"name": "g", "rules": []any{map[string]any{"alert": "A", "expr": "up == 0", "labels": map[string]any{"page": true}}}}}), "page"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := validate(t, tc.overrides)
			if err == nil {
				t.Fatalf("schema accepts %v", tc.overrides)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error does not name %q: %v", tc.want, err)
			}
			// helm install/template refuses the same values before rendering anything.
			if _, err := renderValues(loadChart(t), mergeValues(imageOverride(), dbOverride(), tc.overrides)); err == nil {
				t.Errorf("rendering accepts %v", tc.overrides)
			}
		})
	}
}

// TestSchemaAcceptsServiceBounds: the values at the service's own bounds pass.
func TestSchemaAcceptsServiceBounds(t *testing.T) {
	for _, v := range []map[string]any{
		set("config.sessionTTL", "1m"), set("config.sessionTTL", "60s"), set("config.sessionTTL", "720h"),
		set("config.dbTimeout", "10ms"), set("config.loginWindow", "1s"), set("config.loginWindow", "1000ms"),
		set("config.shutdownTimeout", "0s"), set("config.shutdownTimeout", "1500ms"),
		set("config.loginMaxFailures", 1000), set("config.dbMaxConns", 10000), set("config.dbMaxConns", 0),
		set("config.senderLimit", "1/1ms"), set("podDisruptionBudget.maxUnavailable", "100%"),
		set("podDisruptionBudget.maxUnavailable", 0), set("ingress.clientIPHeader", "CF-Connecting-IP"),
	} {
		if err := validate(t, v); err != nil {
			t.Errorf("schema refuses %v: %v", v, err)
		}
	}
}

// TestTemplateRefusals covers what the schema cannot express: the chart fails with a
// clear message instead of rendering something that would not work.
func TestTemplateRefusals(t *testing.T) {
	img := imageOverride()
	staging := readValuesFile(t, "values-staging.yaml")
	production := readValuesFile(t, "values-production.yaml")
	productionNoDB := readValuesFile(t, "values-production.yaml")
	delete(productionNoDB, "database")
	cases := []struct {
		name   string
		layers []map[string]any
		want   string
	}{
		// Issue 14, item 1: no default image that cannot be pulled.
		{"no image", nil, "image.repository is required"},
		{"no image, the ECR path is shown", []map[string]any{dbOverride()}, "dkr.ecr"},
		// Item 0: the trial is one pod, for development; staging and production need PostgreSQL.
		{"staging without database", []map[string]any{img, staging}, "needs PostgreSQL"},
		{"production without database", []map[string]any{img, productionNoDB}, "needs PostgreSQL"},
		{"SQLite with two replicas", []map[string]any{img, set("replicaCount", 2)}, "replicaCount=1"},
		{"SQLite with autoscaling", []map[string]any{img, set("autoscaling.enabled", true)}, "autoscaling.enabled=false"},
		{"two database modes", []map[string]any{img, dbOverride(), set("database.shardsConfigMap.name", "shards")}, "more than one database mode"},
		// Item 4: a third-party captcha without its keys exits with status 2: refused.
		{"captcha provider without a Secret", []map[string]any{img, set("captcha.provider", "turnstile")}, "captcha.provider=turnstile needs"},
		{"captcha provider without a key", []map[string]any{img, set("captcha.provider", "hcaptcha"), set("existingSecret.name", "hello"), set("existingSecret.keys.captchaSecretKey", "")}, "captchaSecretKey"},
		// Item 7: an Ingress needs the proxies it must believe, or an explicit none.
		{"ingress without trusted proxies", []map[string]any{img, set("ingress.enabled", true)}, "ingress.trustedProxies=none"},
		// Item 8: production's pods must share their brute-force state.
		{"production without Redis", []map[string]any{img, production, set("existingSecret.keys.redisUrl", "")}, "needs Redis"},
		// One variable, one source: duplicates between chart-set keys, config.extra,
		// existingSecret.keys.extra and extraEnv are refused.
		{"duplicate: extraEnv sets a chart variable", []map[string]any{img, set("extraEnv", []any{map[string]any{"name": "HELLO_DB", "value": "sqlite:/tmp/x.db"}})}, "extraEnv HELLO_DB"},
		{"duplicate: extraEnv and config.extra", []map[string]any{img, set("config.extra", map[string]any{"HELLO_CAPTCHA_TTL": "5m"}), set("extraEnv", []any{map[string]any{"name": "HELLO_CAPTCHA_TTL", "value": "1m"}})}, "also set by config.extra"},
		{"duplicate: shard password twice", []map[string]any{img, set("existingSecret.name", "hello"), set("existingSecret.keys.shardPasswords", map[string]any{"HELLO_S1_PASSWORD": "a"}), set("existingSecret.keys.extra", map[string]any{"HELLO_S1_PASSWORD": "b"})}, "also set by existingSecret.keys.shardPasswords"},
		{"grace period too short", []map[string]any{img, set("terminationGracePeriodSeconds", 12)}, "terminationGracePeriodSeconds (12) must exceed"},
		{"grace period vs long shutdown", []map[string]any{img, set("config.shutdownTimeout", "1m")}, "config.shutdownTimeout (60s)"},
		{"grace period vs a sub-second remainder", []map[string]any{img, set("config.shutdownTimeout", "24500ms")}, "config.shutdownTimeout (25s)"},
		{"HPA min above max", []map[string]any{img, dbOverride(), set("autoscaling", map[string]any{"enabled": true, "minReplicas": 5, "maxReplicas": 3})}, "minReplicas"},
		{"additional rule group named like a shipped one", []map[string]any{img, set("metrics.prometheusRule", map[string]any{"enabled": true, "additionalGroups": []any{map[string]any{"name": "hello.dependencies", "rules": []any{map[string]any{"alert": "A", "expr": "up == 0"}}}}})}, "group name hello.dependencies is used twice"},
		{"two additional rule groups of one name", []map[string]any{img, set("metrics.prometheusRule", map[string]any{"enabled": true, "additionalGroups": []any{map[string]any{"name": "g", "rules": []any{map[string]any{"alert": "A", "expr": "up == 0"}}}, map[string]any{"name": "g", "rules": []any{map[string]any{"alert": "B", "expr": "up == 0"}}}}})}, "group name g is used twice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
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
				// Names of Secrets and their keys are references, not secrets.
				reference := strings.HasPrefix(path, "existingSecret.") || strings.Contains(path, ".secretKeyRef.") || strings.Contains(path, ".secret.")
				if x != "" && secretish.MatchString(path) && !reference {
					t.Errorf("%s: %s looks like a secret value; reference it through existingSecret", f, path)
				}
				if reference && !regexp.MustCompile(`^[-._a-zA-Z0-9]*$`).MatchString(x) {
					t.Errorf("%s: %s = %q is not a Secret name or key", f, path, x)
				}
			}
		}
		walk("", readValuesFile(t, filepath.Base(f)))
	}
}

// TestKubeVersionConstraint: Chart.yaml's kubeVersion is the range kubeconform validates
// against (the schemas in kubeschema/): from the oldest minor version to the newest.
func TestKubeVersionConstraint(t *testing.T) {
	c := loadChart(t)
	if c.Metadata.APIVersion != "v2" || c.Metadata.AppVersion == "" || c.Metadata.KubeVersion == "" {
		t.Fatalf("Chart.yaml: apiVersion %q appVersion %q kubeVersion %q", c.Metadata.APIVersion, c.Metadata.AppVersion, c.Metadata.KubeVersion)
	}
	dirs, err := filepath.Glob("kubeschema/v*")
	if err != nil || len(dirs) < 2 {
		t.Fatalf("kubeschema/: %v %v", dirs, err)
	}
	var minors []int
	for _, d := range dirs {
		var major, minor, patch int
		if _, err := fmt.Sscanf(filepath.Base(d), "v%d.%d.%d", &major, &minor, &patch); err != nil || major != 1 {
			t.Fatalf("%s: %v", d, err)
		}
		minors = append(minors, minor)
	}
	lo, hi := slices.Min(minors), slices.Max(minors)
	for v, want := range map[string]bool{
		fmt.Sprintf("v1.%d.9", lo-1): false, // 1.29: no preStop sleep action by default
		fmt.Sprintf("v1.%d.0", lo):   true,
		fmt.Sprintf("v1.%d.7", hi):   true,
		fmt.Sprintf("v1.%d.0", hi+1): false, // not validated yet
	} {
		if got := chartutil.IsCompatibleRange(c.Metadata.KubeVersion, v); got != want {
			t.Errorf("kubeVersion %q accepts %s: %v, want %v", c.Metadata.KubeVersion, v, got, want)
		}
	}
}

// TestSchemaIsClosed walks values.schema.json: every object schema that lists
// properties refuses others, and every free-form map constrains its values, so a typo
// anywhere fails. Kubernetes structures passed through as is (affinity, extra volumes,
// env sources, NetworkPolicy rules) are the one exception: kubeconform checks them
// against the Kubernetes schemas after rendering (./check).
func TestSchemaIsClosed(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(chartDir, "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	open := []string{"/definitions/kubernetesObject", "/properties/global"}
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
