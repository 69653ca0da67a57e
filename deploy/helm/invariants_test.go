package helm

import (
	"crypto/sha256"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

const (
	appPort     = 8080
	metricsPort = 9090
	nonRootID   = 65532
)

// configKeys are the non-secret HELLO_* settings of the service contract: the only keys
// a ConfigMap of the chart may carry.
var configKeys = []string{
	"HELLO_ENV", "HELLO_ADDR", "HELLO_ADMIN_ADDR", "HELLO_DB", "HELLO_SHARDS",
	"HELLO_DB_TIMEOUT", "HELLO_DB_MAX_CONNS", "HELLO_DB_IAM_AUTH", "HELLO_DB_APP_USER",
	"HELLO_SESSION_TTL", "HELLO_SHUTDOWN_TIMEOUT", "HELLO_LOG_LEVEL", "HELLO_HASH_CONCURRENCY",
	"HELLO_TRUSTED_PROXIES", "HELLO_CLIENT_IP_HEADER", "HELLO_SENDER_LIMIT",
	"HELLO_AUTH_SENDER_LIMIT", "HELLO_LOGIN_MAX_FAILURES", "HELLO_LOGIN_WINDOW",
	"HELLO_DEVICE_COOKIES", "HELLO_CAPTCHA", "HELLO_CAPTCHA_PROVIDER", "HELLO_REDIS_URL",
	"HELLO_REDIS_FAILURE",
}

// isSecretVar tells the variables that may only come from a Secret (HELLO_SECRET,
// HELLO_*_PASSWORD, HELLO_CAPTCHA_SECRET_KEY, ...). HELLO_DB and HELLO_REDIS_URL may
// come from either: literal only when they carry no password.
func isSecretVar(name string) bool {
	return regexp.MustCompile(`PASSWORD|SECRET|TOKEN`).MatchString(name)
}

// passwordInURL matches a URL whose user info has a password that is not a ${VAR}
// placeholder expanded by the service; passwordParam a password= query parameter.
var (
	passwordInURL = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^/@\s:]*:([^/@\s]*)@`)
	passwordParam = regexp.MustCompile(`(?i)[?&]password=`)
)

func hasLiteralPassword(s string) bool {
	for _, m := range passwordInURL.FindAllStringSubmatch(s, -1) {
		if !regexp.MustCompile(`^\$\{HELLO_[A-Z0-9_]+\}$`).MatchString(m[1]) {
			return true
		}
	}
	return passwordParam.MatchString(s)
}

func TestPasswordDetector(t *testing.T) {
	for s, want := range map[string]bool{
		"postgres://hello@pg:5432/hello":                      false,
		"postgres://hello:s3cret@pg:5432/hello":               true,
		"postgres://hello:${HELLO_S1_PASSWORD}@pg-s1:5432/h":  false,
		"redis://:pw@redis:6379/0":                            true,
		"redis://redis:6379/0":                                false,
		"dsn: postgres://u:${NOT_HELLO}@h/db":                 true,
		"postgres://hello@pg/hello?password=hunter2":          true,
		"postgres://hello@pg/hello?sslmode=require&PASSWORD=": true,
	} {
		if got := hasLiteralPassword(s); got != want {
			t.Errorf("hasLiteralPassword(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestEnvironments renders the shipped environments and checks every invariant.
func TestEnvironments(t *testing.T) {
	for _, env := range environments(t) {
		t.Run(env.name, func(t *testing.T) {
			r := render(t, env.layers...)
			t.Logf("objects: %v", kinds(r))
			checkInvariants(t, r, effectiveValues(t, env.layers...))

			dep := r.deployment(t)
			cm := r.configMap(t)
			c := dep.Spec.Template.Spec.Containers[0]
			switch env.name {
			case "default":
				// Issue 14, item 0: the image alone installs a working trial.
				if got := *dep.Spec.Replicas; got != 1 {
					t.Errorf("default replicas = %d, want 1 (the SQLite trial)", got)
				}
				if cm.Data["HELLO_ENV"] != "development" || cm.Data["HELLO_DB"] != "sqlite:/data/hello.db" {
					t.Errorf("HELLO_ENV = %q, HELLO_DB = %q, want development on SQLite", cm.Data["HELLO_ENV"], cm.Data["HELLO_DB"])
				}
				if dep.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
					t.Errorf("trial strategy %q, want Recreate (one ReadWriteOnce volume)", dep.Spec.Strategy.Type)
				}
				pvc := r.one(t, "PersistentVolumeClaim").Value.(*corev1.PersistentVolumeClaim)
				spec := dep.Spec.Template.Spec
				if !mountsAt(spec, c, "/data", func(v corev1.Volume) bool {
					return v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == pvc.Name
				}) {
					t.Errorf("the SQLite file is not on the chart's PersistentVolumeClaim %s", pvc.Name)
				}
				if !slices.Equal(pvc.Spec.AccessModes, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}) || pvc.Spec.Resources.Requests.Storage().IsZero() {
					t.Errorf("claim spec %+v", pvc.Spec)
				}
				if n := len(r.all("Job")) + len(r.all("HorizontalPodAutoscaler")); n != 0 {
					t.Errorf("trial renders a migration Job or an HPA: %v (the server migrates at start)", kinds(r))
				}
				if len(spec.InitContainers) != 0 || !slices.Equal(c.Args, []string{"serve"}) {
					t.Errorf("trial pods: init containers %v, args %v, want serve alone (it migrates at start)", spec.InitContainers, c.Args)
				}
				if psc := dep.Spec.Template.Spec.SecurityContext; psc.RunAsUser == nil || *psc.RunAsUser != nonRootID {
					t.Errorf("default pod uid %v, want the image's nonroot %d", psc.RunAsUser, nonRootID)
				}
				sec := r.one(t, "Secret").Value.(*corev1.Secret)
				if ref := envSecretRef(c, "HELLO_SECRET"); ref == nil || ref.Name != sec.Name {
					t.Errorf("HELLO_SECRET does not come from the generated Secret %s: %+v", sec.Name, ref)
				}
				if got := egressPorts(serverPolicy(t, r)); !slices.Equal(got, []int{53, 53}) {
					t.Errorf("trial egress ports %v, want DNS only", got)
				}
				notes := r.Files["hello/templates/NOTES.txt"]
				for _, want := range []string{"TRIAL", "database.url", "Image: hello:0.1.0", "generated by the chart into the Secret " + sec.Name} {
					if !strings.Contains(notes, want) {
						t.Errorf("NOTES.txt does not say %q:\n%s", want, notes)
					}
				}
			case "staging":
				if got := *dep.Spec.Replicas; got != 2 {
					t.Errorf("staging replicas = %d, want 2", got)
				}
				if cm.Data["HELLO_ENV"] != "staging" {
					t.Errorf("HELLO_ENV = %q, want staging", cm.Data["HELLO_ENV"])
				}
				prod := render(t, environments(t)[2].layers...).deployment(t)
				sr, pr := c.Resources, prod.Spec.Template.Spec.Containers[0].Resources
				if sr.Requests.Memory().Cmp(*pr.Requests.Memory()) >= 0 || sr.Requests.Cpu().Cmp(*pr.Requests.Cpu()) >= 0 {
					t.Errorf("staging requests %v should be below production's %v", sr.Requests, pr.Requests)
				}
				if !hasEnv(c, "HELLO_REDIS_URL") {
					t.Errorf("staging's two pods do not share Redis")
				}
			case "production":
				// Issue 14, item 8: the production design: Redis and a shard map.
				if cm.Data["HELLO_ENV"] != "production" {
					t.Errorf("HELLO_ENV = %q, want production", cm.Data["HELLO_ENV"])
				}
				if cm.Data["HELLO_DB"] != "shards:" || !strings.Contains(cm.Data["HELLO_SHARDS"], "hello-s2-rw") {
					t.Errorf("production HELLO_DB = %q, HELLO_SHARDS = %q, want the shard map of the CloudNativePG clusters", cm.Data["HELLO_DB"], cm.Data["HELLO_SHARDS"])
				}
				if ref := envSecretRef(c, "HELLO_REDIS_URL"); ref == nil || ref.Name != "hello" {
					t.Errorf("production pods do not share Redis (HELLO_REDIS_URL from the Secret): %+v", ref)
				}
				for _, v := range []string{"HELLO_S1_PASSWORD", "HELLO_S2_PASSWORD"} {
					if ref := envSecretRef(c, v); ref == nil || ref.Key != "password" {
						t.Errorf("%s does not come from the CloudNativePG app Secret: %+v", v, ref)
					}
				}
				hpa := r.one(t, "HorizontalPodAutoscaler").Value.(*autoscalingv2.HorizontalPodAutoscaler)
				if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 3 {
					t.Errorf("production HPA minReplicas = %v, want >= 3", hpa.Spec.MinReplicas)
				}
				if hpa.Spec.ScaleTargetRef.Kind != "Deployment" || hpa.Spec.ScaleTargetRef.Name != dep.Name {
					t.Errorf("HPA targets %+v, want Deployment %s", hpa.Spec.ScaleTargetRef, dep.Name)
				}
				if ref := envSecretRef(c, "HELLO_SECRET"); ref == nil || ref.Name != "hello" {
					t.Errorf("production HELLO_SECRET %+v, want it from the Secret hello", ref)
				}
				if len(r.all("Secret")) != 0 {
					t.Errorf("production generates a Secret: %v", kinds(r))
				}
				if strings.Contains(r.Files["hello/templates/NOTES.txt"], "WARNING: more than one pod without Redis") {
					t.Errorf("NOTES warns about Redis although production has it")
				}
			}
		})
	}
}

// effectiveValues are the chart defaults merged with the test image and the layers.
func effectiveValues(t testing.TB, layers ...map[string]any) map[string]any {
	return mergeValues(append([]map[string]any{readValuesFile(t, "values.yaml"), imageOverride()}, layers...)...)
}

// TestFeatures renders the optional parts (Ingress, ServiceMonitor, Redis, the other
// database modes, the extension points) and checks the same invariants.
func TestFeatures(t *testing.T) {
	cases := []struct {
		name   string
		layers []map[string]any
		check  func(t *testing.T, r *Rendered)
	}{
		{
			name: "ingress-monitoring-redis-captcha",
			layers: []map[string]any{
				dbOverride(),
				set("ingress", map[string]any{
					"enabled": true, "className": "nginx", "trustedProxies": "10.42.0.0/16", "clientIPHeader": "X-Real-IP",
					"tls": []any{map[string]any{"secretName": "hello-tls", "hosts": []any{"hello.example.com"}}},
				}),
				set("networkPolicy.ingressNamespaces", []any{"ingress-nginx"}),
				set("networkPolicy.metricsNamespaces", []any{"monitoring"}),
				set("networkPolicy.egressCIDRs", []any{"10.0.16.0/20"}),
				set("metrics.serviceMonitor", map[string]any{"enabled": true, "labels": map[string]any{"release": "prometheus"}}),
				set("redis.url", "redis://redis:6379/0"),
				set("existingSecret.name", "hello"),
				set("captcha.provider", "turnstile"),
			},
			check: func(t *testing.T, r *Rendered) {
				ing := r.one(t, "Ingress").Value.(*networkingv1.Ingress)
				if len(ing.Spec.TLS) != 1 || ing.Spec.TLS[0].SecretName != "hello-tls" {
					t.Errorf("ingress TLS = %+v", ing.Spec.TLS)
				}
				be := ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service
				if be.Name != r.one(t, "Service").Name || be.Port.Name != "http" {
					t.Errorf("ingress backend = %+v", be)
				}
				cm := r.configMap(t)
				if cm.Data["HELLO_TRUSTED_PROXIES"] != "10.42.0.0/16" || cm.Data["HELLO_CLIENT_IP_HEADER"] != "X-Real-IP" {
					t.Errorf("HELLO_TRUSTED_PROXIES = %q, HELLO_CLIENT_IP_HEADER = %q", cm.Data["HELLO_TRUSTED_PROXIES"], cm.Data["HELLO_CLIENT_IP_HEADER"])
				}
				sm := r.one(t, "ServiceMonitor").Value.(*ServiceMonitor)
				if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "metrics" || sm.Spec.Endpoints[0].Path != "/metrics" {
					t.Errorf("ServiceMonitor endpoints = %+v", sm.Spec.Endpoints)
				}
				svc := r.one(t, "Service").Value.(*corev1.Service)
				for k, v := range sm.Spec.Selector.MatchLabels {
					if svc.Labels[k] != v {
						t.Errorf("ServiceMonitor selector %s=%s does not match the Service", k, v)
					}
				}
				if sm.Labels["release"] != "prometheus" {
					t.Errorf("ServiceMonitor labels = %v", sm.Labels)
				}
				c := r.deployment(t).Spec.Template.Spec.Containers[0]
				if cm.Data["HELLO_CAPTCHA_PROVIDER"] != "turnstile" || !hasEnv(c, "HELLO_CAPTCHA_SITE_KEY") || !hasEnv(c, "HELLO_CAPTCHA_SECRET_KEY") {
					t.Errorf("captcha provider and its keys not rendered")
				}
				if !hasEnv(c, "HELLO_REDIS_PASSWORD") {
					t.Errorf("HELLO_REDIS_PASSWORD not referenced with redis.url set")
				}
				np := serverPolicy(t, r)
				if ports := egressPorts(np); !slices.Contains(ports, 6379) || !slices.Contains(ports, 443) {
					t.Errorf("NetworkPolicy egress ports %v lack Redis or the captcha provider's HTTPS", ports)
				}
				for _, rule := range np.Spec.Egress[1:3] { // database, Redis
					if len(rule.To) != 1 || rule.To[0].IPBlock == nil || rule.To[0].IPBlock.CIDR != "10.0.16.0/20" {
						t.Errorf("egress rule %+v not limited to networkPolicy.egressCIDRs", rule)
					}
				}
				for i, ns := range []string{"ingress-nginx", "monitoring"} {
					from := np.Spec.Ingress[i].From
					if len(from) != 2 || from[1].NamespaceSelector == nil || !slices.Contains(from[1].NamespaceSelector.MatchExpressions[0].Values, ns) {
						t.Errorf("ingress rule %d does not admit namespace %s: %+v", i, ns, from)
					}
				}
				notes := r.Files["hello/templates/NOTES.txt"]
				if !strings.Contains(notes, "https://hello.example.com") || strings.Contains(notes, "cannot scrape") {
					t.Errorf("NOTES.txt:\n%s", notes)
				}
			},
		},
		{
			name: "shards-from-env",
			layers: []map[string]any{
				set("database.shards", map[string]any{
					"logical_shards": 1024,
					"shards": []any{
						map[string]any{"name": "s1", "dsn": "postgres://hello:${HELLO_S1_PASSWORD}@pg-s1:5432/hello?sslmode=require"},
						map[string]any{"name": "s2", "dsn": "postgres://hello:${HELLO_S2_PASSWORD}@pg-s2:5432/hello?sslmode=require"},
					},
				}),
				set("existingSecret", map[string]any{"name": "hello", "keys": map[string]any{
					"shardPasswords": map[string]any{"HELLO_S1_PASSWORD": "s1-password", "HELLO_S2_PASSWORD": "s2-password"},
				}}),
			},
			check: func(t *testing.T, r *Rendered) {
				cm := r.configMap(t)
				if cm.Data["HELLO_DB"] != "shards:" {
					t.Errorf("HELLO_DB = %q, want %q (empty path: map from HELLO_SHARDS)", cm.Data["HELLO_DB"], "shards:")
				}
				var m struct {
					LogicalShards int `json:"logical_shards"`
					Shards        []struct {
						Name string `json:"name"`
						DSN  string `json:"dsn"`
					} `json:"shards"`
				}
				if err := yamlUnmarshalStrict(cm.Data["HELLO_SHARDS"], &m); err != nil {
					t.Fatalf("HELLO_SHARDS is not the shard map: %v\n%s", err, cm.Data["HELLO_SHARDS"])
				}
				if m.LogicalShards != 1024 || len(m.Shards) != 2 || m.Shards[1].Name != "s2" {
					t.Errorf("HELLO_SHARDS = %+v", m)
				}
				c := r.deployment(t).Spec.Template.Spec.Containers[0]
				for _, v := range []string{"HELLO_S1_PASSWORD", "HELLO_S2_PASSWORD"} {
					if !hasEnv(c, v) {
						t.Errorf("%s not referenced", v)
					}
				}
				if hasEnv(c, "HELLO_DB_PASSWORD") {
					t.Errorf("HELLO_DB_PASSWORD referenced in shards mode")
				}
			},
		},
		{
			name: "shards-from-configmap",
			layers: []map[string]any{
				set("database.shardsConfigMap.name", "hello-shards"),
			},
			check: func(t *testing.T, r *Rendered) {
				if got := r.configMap(t).Data["HELLO_DB"]; got != "shards:/etc/hello/shards.yaml" {
					t.Errorf("HELLO_DB = %q", got)
				}
				for _, spec := range []corev1.PodSpec{r.deployment(t).Spec.Template.Spec, r.one(t, "Job").Value.(*batchv1.Job).Spec.Template.Spec} {
					if !mountsAt(spec, spec.Containers[0], "/etc/hello", func(v corev1.Volume) bool {
						return v.ConfigMap != nil && v.ConfigMap.Name == "hello-shards"
					}) {
						t.Errorf("shard map ConfigMap not mounted at /etc/hello")
					}
				}
			},
		},
		{
			name: "dsn-in-secret",
			layers: []map[string]any{
				set("existingSecret", map[string]any{"name": "hello", "keys": map[string]any{"db": "HELLO_DB", "redisUrl": "HELLO_REDIS_URL", "adminToken": "admin-token"}}),
			},
			check: func(t *testing.T, r *Rendered) {
				cm := r.configMap(t)
				if _, ok := cm.Data["HELLO_DB"]; ok {
					t.Errorf("HELLO_DB in the ConfigMap while it comes from the Secret")
				}
				c := r.deployment(t).Spec.Template.Spec.Containers[0]
				for _, v := range []string{"HELLO_DB", "HELLO_REDIS_URL", "HELLO_ADMIN_TOKEN"} {
					if ref := envSecretRef(c, v); ref == nil || ref.Name != "hello" {
						t.Errorf("%s not referenced from the Secret: %+v", v, ref)
					}
				}
				if hasEnv(c, "HELLO_DB_PASSWORD") || hasEnv(c, "HELLO_REDIS_PASSWORD") {
					t.Errorf("password variables referenced although the full URLs come from the Secret")
				}
			},
		},
		{
			name: "iam-auth",
			layers: []map[string]any{
				dbOverride(), set("existingSecret.name", "hello"),
				set("database", map[string]any{"iamAuth": true, "appUser": "hello_app"}),
			},
			check: func(t *testing.T, r *Rendered) {
				cm := r.configMap(t)
				if cm.Data["HELLO_DB_IAM_AUTH"] != "on" || cm.Data["HELLO_DB_APP_USER"] != "hello_app" {
					t.Errorf("HELLO_DB_IAM_AUTH = %q, HELLO_DB_APP_USER = %q", cm.Data["HELLO_DB_IAM_AUTH"], cm.Data["HELLO_DB_APP_USER"])
				}
				if hasEnv(r.deployment(t).Spec.Template.Spec.Containers[0], "HELLO_DB_PASSWORD") {
					t.Errorf("HELLO_DB_PASSWORD referenced with IAM authentication")
				}
			},
		},
		{
			name: "pdb-min-available-no-networkpolicy",
			layers: []map[string]any{
				dbOverride(),
				set("podDisruptionBudget.minAvailable", "50%"),
				set("networkPolicy.enabled", false),
				set("migrations.enabled", false),
				set("probes.startup.enabled", false),
				set("preStopSleepSeconds", 0),
			},
			check: func(t *testing.T, r *Rendered) {
				pdb := r.one(t, "PodDisruptionBudget").Value.(*policyv1.PodDisruptionBudget)
				if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.String() != "50%" || pdb.Spec.MaxUnavailable != nil {
					t.Errorf("PDB spec = %+v", pdb.Spec)
				}
				if len(r.all("NetworkPolicy"))+len(r.all("Job")) != 0 {
					t.Errorf("disabled NetworkPolicy/Job rendered: %v", kinds(r))
				}
				c := r.deployment(t).Spec.Template.Spec.Containers[0]
				if c.StartupProbe != nil || c.Lifecycle != nil {
					t.Errorf("startup probe or preStop rendered while disabled")
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := render(t, tc.layers...)
			checkInvariants(t, r, effectiveValues(t, tc.layers...))
			tc.check(t, r)
		})
	}
}

// Hook weights: the generated Secret, then the Job's ServiceAccount and NetworkPolicy, then
// the Job.
const (
	weightSecret  = -20
	weightJobDeps = -10
	weightJob     = 0
)

// checkInvariants asserts what must hold for every rendering. vals are the effective
// values (defaults merged with the overrides).
func checkInvariants(t *testing.T, r *Rendered, vals map[string]any) {
	t.Helper()
	full := r.deployment(t).Name
	secretName, _ := lookup(vals, "existingSecret.name").(string)
	generated := componentName(full, "secret")
	userSecrets := userSecretRefs(vals)

	for _, o := range r.Objects {
		meta := o.Value.(metav1.Object)
		// Item 3: every name fits the 63 characters of a DNS label (Services, Job pod labels).
		if errs := validation.IsDNS1123Label(o.Name); len(errs) > 0 {
			t.Errorf("%s %s: bad name: %v", o.Kind, o.Name, errs)
		}
		for k, v := range meta.GetLabels() {
			if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
				t.Errorf("%s %s: label %s=%q: %v", o.Kind, o.Name, k, v, errs)
			}
		}
		for k, v := range lookupMap(vals, "commonLabels") {
			if meta.GetLabels()[k] != v {
				t.Errorf("%s %s lacks the common label %s=%v", o.Kind, o.Name, k, v)
			}
		}
		if o.Kind == "Secret" {
			sec := o.Value.(*corev1.Secret)
			if sec.Name != generated || len(sec.Data) != 1 || len(sec.Data["HELLO_SECRET"]) != 64 {
				t.Errorf("Secret %s: only the generated HELLO_SECRET (64 characters) may be rendered; keys %v", sec.Name, slices.Collect(maps.Keys(sec.Data)))
			}
			checkHook(t, o, "pre-install,pre-upgrade", weightSecret, false)
		}
	}

	// Services: ClusterIP only, on the named ports.
	for _, o := range r.all("Service") {
		svc := o.Value.(*corev1.Service)
		if svc.Spec.Type != corev1.ServiceTypeClusterIP {
			t.Errorf("Service %s has type %q: only ClusterIP", svc.Name, svc.Spec.Type)
		}
		for _, p := range svc.Spec.Ports {
			if p.NodePort != 0 {
				t.Errorf("Service %s sets a nodePort", svc.Name)
			}
		}
		if svc.Spec.ExternalIPs != nil || svc.Spec.LoadBalancerIP != "" {
			t.Errorf("Service %s exposes external addresses", svc.Name)
		}
	}

	// ConfigMaps: only the contract's non-secret settings, no password anywhere.
	cm := r.configMap(t)
	for k, v := range cm.Data {
		if isSecretVar(k) {
			t.Errorf("ConfigMap carries secret variable %s", k)
		}
		if !slices.Contains(configKeys, k) {
			if extra := lookupMap(vals, "config.extra"); extra[k] == nil {
				t.Errorf("ConfigMap carries %s, which is not a setting of the service contract", k)
			}
		}
		if hasLiteralPassword(v) {
			t.Errorf("ConfigMap %s carries a password: %q", k, v)
		}
	}
	if cm.Data["HELLO_ADDR"] != fmt.Sprintf(":%d", appPort) || cm.Data["HELLO_ADMIN_ADDR"] != fmt.Sprintf(":%d", metricsPort) {
		t.Errorf("listeners HELLO_ADDR=%q HELLO_ADMIN_ADDR=%q, want :%d and :%d", cm.Data["HELLO_ADDR"], cm.Data["HELLO_ADMIN_ADDR"], appPort, metricsPort)
	}
	if db := cm.Data["HELLO_DB"]; strings.HasPrefix(db, "sqlite:") && db != "sqlite:/data/hello.db" {
		t.Errorf("HELLO_DB = %q: SQLite only at /data/hello.db (the claim)", db)
	}
	shutdown, err := time.ParseDuration(cm.Data["HELLO_SHUTDOWN_TIMEOUT"])
	if err != nil {
		t.Fatalf("HELLO_SHUTDOWN_TIMEOUT: %v", err)
	}

	// The Deployment.
	dep := r.deployment(t)
	pod := dep.Spec.Template.Spec
	checkPodSpec(t, "Deployment", pod, secretName, generated, userSecrets)
	sel := dep.Spec.Selector.MatchLabels
	for k, v := range sel {
		if dep.Spec.Template.Labels[k] != v {
			t.Errorf("Deployment selector %s=%s does not match its pod labels", k, v)
		}
	}
	if sel["app.kubernetes.io/component"] != "server" {
		t.Errorf("Deployment selector %v must include component=server (so migration pods never serve)", sel)
	}
	if svc := r.one(t, "Service").Value.(*corev1.Service); !equalMaps(svc.Spec.Selector, sel) {
		t.Errorf("Service selector %v differs from the Deployment's %v", svc.Spec.Selector, sel)
	}
	if sa := r.byName(t, "ServiceAccount", pod.ServiceAccountName); sa == nil && lookup(vals, "serviceAccount.create") == true {
		t.Errorf("pods use ServiceAccount %q, not the chart's", pod.ServiceAccountName)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(pod.Containers))
	}
	c := pod.Containers[0]
	if !slices.Equal(c.Args, []string{"serve"}) || c.Command != nil {
		t.Errorf("container runs command %v args %v, want the image entrypoint with [serve]", c.Command, c.Args)
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["http"] != appPort || ports["metrics"] != metricsPort {
		t.Errorf("container ports %v, want http=%d metrics=%d", ports, appPort, metricsPort)
	}
	checkProbe(t, "liveness", c.LivenessProbe, "/healthz", ports)
	checkProbe(t, "readiness", c.ReadinessProbe, "/readyz", ports)
	if c.StartupProbe != nil {
		checkProbe(t, "startup", c.StartupProbe, "/healthz", ports)
	}
	if len(c.EnvFrom) == 0 || c.EnvFrom[0].ConfigMapRef == nil || c.EnvFrom[0].ConfigMapRef.Name != cm.Name {
		t.Errorf("container envFrom = %+v, want the ConfigMap %s first", c.EnvFrom, cm.Name)
	}
	if ref := envSecretRef(c, "HELLO_SECRET"); ref == nil {
		t.Errorf("no HELLO_SECRET: each pod would invent its own")
	}
	grace := int64(30)
	if pod.TerminationGracePeriodSeconds != nil {
		grace = *pod.TerminationGracePeriodSeconds
	}
	var preStop time.Duration
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
		h := c.Lifecycle.PreStop
		if h.Exec != nil {
			t.Errorf("preStop exec: the distroless image has no shell or sleep")
		}
		if h.Sleep != nil {
			preStop = time.Duration(h.Sleep.Seconds) * time.Second
		}
	}
	if time.Duration(grace)*time.Second <= shutdown+preStop {
		t.Errorf("terminationGracePeriodSeconds %d must exceed HELLO_SHUTDOWN_TIMEOUT %v + preStop %v", grace, shutdown, preStop)
	}
	want := fmt.Sprintf("%x", sha256.Sum256([]byte(r.Files["hello/templates/configmap.yaml"])))
	if got := dep.Spec.Template.Annotations["checksum/config"]; got != want {
		t.Errorf("checksum/config = %q, want the ConfigMap's sha256 %q", got, want)
	}
	if lookup(vals, "topologySpread.enabled") == true {
		keys := map[string]bool{}
		for _, tsc := range pod.TopologySpreadConstraints {
			keys[tsc.TopologyKey] = true
			if !equalMaps(tsc.LabelSelector.MatchLabels, sel) {
				t.Errorf("topology spread selects %v, not the server pods %v", tsc.LabelSelector.MatchLabels, sel)
			}
			if tsc.WhenUnsatisfiable == corev1.DoNotSchedule && (tsc.NodeTaintsPolicy == nil || *tsc.NodeTaintsPolicy != corev1.NodeInclusionPolicyHonor) {
				t.Errorf("topology spread on %s: DoNotSchedule without nodeTaintsPolicy Honor leaves pods Pending beside tainted nodes", tsc.TopologyKey)
			}
		}
		if len(lookupSlice(vals, "topologySpread.constraints")) == 0 && (!keys["kubernetes.io/hostname"] || !keys["topology.kubernetes.io/zone"]) {
			t.Errorf("topology spread keys %v, want nodes and zones", keys)
		}
	}
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas < 1 {
		t.Errorf("replicas = %v: without the field an upgrade falls back to one pod", dep.Spec.Replicas)
	}
	if cm.Data["HELLO_DB"] == "sqlite:/data/hello.db" {
		if *dep.Spec.Replicas != 1 || len(r.all("HorizontalPodAutoscaler")) != 0 || dep.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
			t.Errorf("SQLite with %d replicas, HPA %d, strategy %s", *dep.Spec.Replicas, len(r.all("HorizontalPodAutoscaler")), dep.Spec.Strategy.Type)
		}
	} else if ru := dep.Spec.Strategy.RollingUpdate; dep.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
		// kube-score's deployment-strategy check is off for the trial's Recreate: this holds it.
		t.Errorf("PostgreSQL modes roll without losing a pod: strategy %+v", dep.Spec.Strategy)
	}

	// ServiceAccounts: no token.
	for _, o := range r.all("ServiceAccount") {
		sa := o.Value.(*corev1.ServiceAccount)
		if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
			t.Errorf("ServiceAccount %s: automountServiceAccountToken must be false", sa.Name)
		}
	}

	// PDB (on in every shipped environment).
	if lookup(vals, "podDisruptionBudget.enabled") == true {
		pdb := r.one(t, "PodDisruptionBudget").Value.(*policyv1.PodDisruptionBudget)
		if !equalMaps(pdb.Spec.Selector.MatchLabels, sel) {
			t.Errorf("PDB selects %v, not the server pods %v", pdb.Spec.Selector.MatchLabels, sel)
		}
		if (pdb.Spec.MinAvailable == nil) == (pdb.Spec.MaxUnavailable == nil) {
			t.Errorf("PDB must set exactly one of minAvailable and maxUnavailable: %+v", pdb.Spec)
		}
		for _, v := range []*intstr.IntOrString{pdb.Spec.MinAvailable, pdb.Spec.MaxUnavailable} {
			if v != nil && v.Type == intstr.String && !regexp.MustCompile(`^(100|[1-9]?[0-9])%$`).MatchString(v.StrVal) {
				t.Errorf("PDB value %q: the API takes a number or a percentage", v.StrVal)
			}
		}
	}

	// NetworkPolicies (on by default).
	if lookup(vals, "networkPolicy.enabled") == true {
		checkNetworkPolicy(t, serverPolicy(t, r), dep.Spec.Template.Labels, vals)
	}

	// The migration Job, with its own hooks.
	for _, o := range r.all("Job") {
		job := o.Value.(*batchv1.Job)
		checkHook(t, o, "pre-install,pre-upgrade", weightJob, true)
		if job.Spec.BackoffLimit == nil || job.Spec.ActiveDeadlineSeconds == nil {
			t.Errorf("Job %s needs backoffLimit and activeDeadlineSeconds", job.Name)
		}
		spec := job.Spec.Template.Spec
		checkPodSpec(t, "Job", spec, secretName, generated, userSecrets)
		if spec.RestartPolicy != corev1.RestartPolicyNever && spec.RestartPolicy != corev1.RestartPolicyOnFailure {
			t.Errorf("Job restartPolicy = %q", spec.RestartPolicy)
		}
		if !slices.Equal(spec.Containers[0].Args, []string{"migrate"}) {
			t.Errorf("Job args = %v, want [migrate]", spec.Containers[0].Args)
		}
		if job.Spec.Template.Labels["app.kubernetes.io/component"] != "migrate" {
			t.Errorf("migration pods must carry component=migrate, not the server selector")
		}
		// A pre-install hook runs before the chart's ConfigMap and ServiceAccount exist.
		if spec.ServiceAccountName == pod.ServiceAccountName && lookup(vals, "serviceAccount.create") == true {
			t.Errorf("Job uses the chart's ServiceAccount, which does not exist yet at pre-install")
		}
		if sa := r.byName(t, "ServiceAccount", spec.ServiceAccountName); sa != nil {
			checkHook(t, *sa, "pre-install,pre-upgrade", weightJobDeps, true)
		}
		for _, e := range spec.Containers[0].EnvFrom {
			if e.ConfigMapRef != nil && e.ConfigMapRef.Name == cm.Name {
				t.Errorf("Job reads the chart's ConfigMap, which does not exist yet at pre-install")
			}
		}
		env := map[string]string{}
		for _, e := range spec.Containers[0].Env {
			if e.ValueFrom == nil {
				env[e.Name] = e.Value
			}
		}
		for k, v := range cm.Data {
			if env[k] != v {
				t.Errorf("Job %s = %q, ConfigMap says %q", k, env[k], v)
			}
		}
		if lookup(vals, "networkPolicy.enabled") == true {
			o := r.byName(t, "NetworkPolicy", job.Name)
			if o == nil {
				t.Fatalf("no NetworkPolicy %s for the migration Job: in a default-deny namespace it has no DNS or database", job.Name)
			}
			checkHook(t, *o, "pre-install,pre-upgrade", weightJobDeps, true)
			checkNetworkPolicy(t, o.Value.(*networkingv1.NetworkPolicy), job.Spec.Template.Labels, vals)
		}
	}

	// The `helm test` pod.
	for _, o := range r.all("Pod") {
		p := o.Value.(*corev1.Pod)
		checkHook(t, o, "test", 0, true)
		c := p.Spec.Containers[0]
		svc := r.one(t, "Service").Value.(*corev1.Service)
		if want := []string{"healthcheck", fmt.Sprintf("http://%s:%d/readyz", svc.Name, svc.Spec.Ports[0].Port)}; !slices.Equal(c.Args, want) || c.Image != pod.Containers[0].Image {
			t.Errorf("test pod runs %s %v, want the app image with %v", c.Image, c.Args, want)
		}
		if p.Spec.AutomountServiceAccountToken == nil || *p.Spec.AutomountServiceAccountToken || p.Spec.RestartPolicy != corev1.RestartPolicyNever {
			t.Errorf("test pod spec %+v", p.Spec)
		}
		checkContainerSecurity(t, "test pod", c)
		if lookup(vals, "networkPolicy.enabled") == true {
			np := r.byName(t, "NetworkPolicy", p.Name)
			if np == nil {
				t.Fatalf("no NetworkPolicy for the test pod")
			}
			checkHook(t, *np, "test", weightJobDeps, true)
			checkNetworkPolicy(t, np.Value.(*networkingv1.NetworkPolicy), p.Labels, vals)
		}
	}
}

// componentName is the chart's hello.componentName: the full name cut so that
// "-suffix" fits in 63 characters.
func componentName(full, suffix string) string {
	if n := 62 - len(suffix); len(full) > n {
		full = strings.TrimSuffix(full[:n], "-")
	}
	return full + "-" + suffix
}

// checkHook asserts an object's hook annotations: its events, its weight, and that it is
// replaced on every run (and, when deleted, deleted once the hooks succeeded).
func checkHook(t *testing.T, o Object, events string, weight int, deleted bool) {
	t.Helper()
	a := o.Value.(metav1.Object).GetAnnotations()
	if a["helm.sh/hook"] != events || a["helm.sh/hook-weight"] != fmt.Sprint(weight) {
		t.Errorf("%s %s: hook %q weight %q, want %q weight %d", o.Kind, o.Name, a["helm.sh/hook"], a["helm.sh/hook-weight"], events, weight)
	}
	policy := a["helm.sh/hook-delete-policy"]
	if !strings.Contains(policy, "before-hook-creation") || strings.Contains(policy, "hook-succeeded") != deleted {
		t.Errorf("%s %s: delete policy %q", o.Kind, o.Name, policy)
	}
}

// userSecretRefs are the Secret names the user's own extraEnv and extraVolumes name.
func userSecretRefs(vals map[string]any) []string {
	var out []string
	for _, e := range lookupSlice(vals, "extraEnv") {
		if n, ok := lookup(e.(map[string]any), "valueFrom.secretKeyRef.name").(string); ok {
			out = append(out, n)
		}
	}
	for _, v := range lookupSlice(vals, "extraVolumes") {
		if n, ok := lookup(v.(map[string]any), "secret.secretName").(string); ok {
			out = append(out, n)
		}
	}
	return out
}

// checkPodSpec asserts the hardening of a pod and its containers, and that secrets come
// only through secretKeyRef from existingSecret, the generated Secret, or the user's own
// extraEnv/extraVolumes.
func checkPodSpec(t *testing.T, what string, pod corev1.PodSpec, secretName, generated string, userSecrets []string) {
	t.Helper()
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("%s: automountServiceAccountToken must be false", what)
	}
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Fatalf("%s: pod securityContext must set runAsNonRoot", what)
	}
	if (psc.RunAsUser != nil && *psc.RunAsUser < 1) || psc.SeccompProfile == nil || psc.SeccompProfile.Type == corev1.SeccompProfileTypeUnconfined {
		t.Errorf("%s: pod securityContext %+v, want a non-root uid and a seccomp profile", what, psc)
	}
	// A Service named hello would otherwise inject HELLO_PORT, HELLO_SERVICE_HOST, ...:
	// variables in the app's own namespace that it would warn about as unknown.
	if pod.EnableServiceLinks == nil || *pod.EnableServiceLinks {
		t.Errorf("%s: enableServiceLinks must be false", what)
	}
	if pod.HostNetwork || pod.HostPID || pod.HostIPC {
		t.Errorf("%s: host namespaces", what)
	}
	for _, v := range pod.Volumes {
		if v.HostPath != nil {
			t.Errorf("%s: volume %s is a hostPath", what, v.Name)
		}
		if v.Secret != nil && !slices.Contains(userSecrets, v.Secret.SecretName) {
			t.Errorf("%s: volume %s mounts Secret %s, which only extraVolumes may do", what, v.Name, v.Secret.SecretName)
		}
	}
	for _, c := range append(slices.Clone(pod.InitContainers), pod.Containers...) {
		name := what + " container " + c.Name
		checkContainerSecurity(t, name, c)
		req, lim := c.Resources.Requests, c.Resources.Limits
		if req.Cpu().IsZero() || req.Memory().IsZero() || lim.Memory().IsZero() || req.StorageEphemeral().IsZero() || lim.StorageEphemeral().IsZero() {
			t.Errorf("%s: resources %+v, want cpu, memory and ephemeral-storage requests, memory and ephemeral-storage limits", name, c.Resources)
		}
		if lim.Memory().Cmp(*req.Memory()) < 0 {
			t.Errorf("%s: memory limit below the request", name)
		}
		if !mountsAt(pod, c, "/tmp", func(v corev1.Volume) bool { return v.EmptyDir != nil }) {
			t.Errorf("%s: no emptyDir at /tmp (the root filesystem is read-only)", name)
		}
		for _, e := range c.Env {
			if e.ValueFrom != nil {
				ref := e.ValueFrom.SecretKeyRef
				if ref == nil {
					t.Errorf("%s: env %s comes from %+v, want a secretKeyRef or a plain value", name, e.Name, e.ValueFrom)
					continue
				}
				ok := ref.Name == secretName || slices.Contains(userSecrets, ref.Name) || (e.Name == "HELLO_SECRET" && ref.Name == generated)
				if !ok || ref.Key == "" {
					t.Errorf("%s: env %s references Secret %q key %q, want existingSecret %q", name, e.Name, ref.Name, ref.Key, secretName)
				}
				continue
			}
			if isSecretVar(e.Name) {
				t.Errorf("%s: secret variable %s has a literal value", name, e.Name)
			}
			if hasLiteralPassword(e.Value) {
				t.Errorf("%s: env %s carries a password", name, e.Name)
			}
		}
	}
}

// checkContainerSecurity asserts the restricted Pod Security profile of one container.
func checkContainerSecurity(t *testing.T, name string, c corev1.Container) {
	t.Helper()
	sc := c.SecurityContext
	if sc == nil {
		t.Errorf("%s: no securityContext", name)
		return
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("%s: allowPrivilegeEscalation must be false", name)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("%s: readOnlyRootFilesystem must be true", name)
	}
	if sc.Privileged != nil && *sc.Privileged {
		t.Errorf("%s: privileged", name)
	}
	if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Errorf("%s: runAsNonRoot must be true", name)
	}
	if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 {
		t.Errorf("%s: capabilities %+v, want drop [ALL] and nothing added", name, sc.Capabilities)
	}
	if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: seccompProfile must be RuntimeDefault", name)
	}
	if !strings.HasPrefix(c.Image, testImage+":") && !strings.Contains(c.Image, "/"+testImage) && !strings.HasPrefix(c.Image, testImage+"@") {
		t.Errorf("%s: image %q", name, c.Image)
	}
}

func checkProbe(t *testing.T, what string, p *corev1.Probe, path string, ports map[string]int32) {
	t.Helper()
	if p == nil || p.HTTPGet == nil {
		t.Errorf("%s probe: want an HTTP GET of %s, got %+v", what, path, p)
		return
	}
	port := p.HTTPGet.Port
	if port.Type == intstr.String {
		port = intstr.FromInt32(ports[port.StrVal])
	}
	if p.HTTPGet.Path != path || port.IntVal != appPort {
		t.Errorf("%s probe: GET %s on %s, want %s on the app port %d", what, p.HTTPGet.Path, p.HTTPGet.Port.String(), path, appPort)
	}
	if p.PeriodSeconds < 1 || p.FailureThreshold < 1 || p.TimeoutSeconds < 1 {
		t.Errorf("%s probe: timings %+v", what, p.ProbeHandler)
	}
}

// serverPolicy is the NetworkPolicy of the server pods.
func serverPolicy(t testing.TB, r *Rendered) *networkingv1.NetworkPolicy {
	t.Helper()
	o := r.byName(t, "NetworkPolicy", r.deployment(t).Name)
	if o == nil {
		t.Fatalf("no NetworkPolicy for the server pods: %v", kinds(r))
	}
	return o.Value.(*networkingv1.NetworkPolicy)
}

// checkNetworkPolicy: the policy selects exactly the given pods (no other component's);
// ingress only from this namespace or listed namespaces, on named ports; egress only to
// DNS, the database and Redis ports, 443 with a captcha provider, and the extra rules.
func checkNetworkPolicy(t *testing.T, np *networkingv1.NetworkPolicy, podLabels map[string]string, vals map[string]any) {
	t.Helper()
	if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) || !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
		t.Errorf("NetworkPolicy %s policyTypes = %v, want Ingress and Egress", np.Name, np.Spec.PolicyTypes)
	}
	for k, v := range np.Spec.PodSelector.MatchLabels {
		if podLabels[k] != v {
			t.Errorf("NetworkPolicy %s does not select its pods (%s=%s)", np.Name, k, v)
		}
	}
	if np.Spec.PodSelector.MatchLabels["app.kubernetes.io/component"] != podLabels["app.kubernetes.io/component"] {
		t.Errorf("NetworkPolicy %s selects %v: every component has its own policy", np.Name, np.Spec.PodSelector.MatchLabels)
	}
	extraIngress := len(lookupSlice(vals, "networkPolicy.extraIngress"))
	for i, rule := range np.Spec.Ingress {
		if i >= len(np.Spec.Ingress)-extraIngress {
			break
		}
		if len(rule.From) == 0 || len(rule.Ports) == 0 {
			t.Errorf("ingress rule open to everyone or every port: %+v", rule)
		}
		for _, peer := range rule.From {
			if peer.IPBlock != nil {
				t.Errorf("ingress from an ipBlock %+v", peer.IPBlock)
			}
			if peer.NamespaceSelector != nil && len(peer.NamespaceSelector.MatchLabels) == 0 && len(peer.NamespaceSelector.MatchExpressions) == 0 {
				t.Errorf("ingress from every namespace")
			}
		}
	}
	allowed := []int{53, appPort}
	for _, key := range []string{"networkPolicy.databasePorts", "networkPolicy.redisPorts"} {
		for _, p := range lookupSlice(vals, key) {
			allowed = append(allowed, toInt(p))
		}
	}
	if lookup(vals, "captcha.provider") != "none" {
		allowed = append(allowed, 443)
	}
	extraEgress := len(lookupSlice(vals, "networkPolicy.extraEgress"))
	ports := egressPorts(&networkingv1.NetworkPolicy{Spec: networkingv1.NetworkPolicySpec{Egress: np.Spec.Egress[:len(np.Spec.Egress)-extraEgress]}})
	for _, p := range ports {
		if !slices.Contains(allowed, p) {
			t.Errorf("NetworkPolicy %s: egress to port %d: only DNS, database, Redis (and the captcha provider's 443)", np.Name, p)
		}
	}
	if !slices.Contains(ports, 53) {
		t.Errorf("NetworkPolicy %s: egress lacks DNS", np.Name)
	}
	for _, rule := range np.Spec.Egress {
		if len(rule.Ports) == 0 {
			t.Errorf("NetworkPolicy %s: egress rule without ports: %+v", np.Name, rule)
		}
		for _, to := range rule.To {
			if to.IPBlock != nil && to.IPBlock.CIDR == "0.0.0.0/0" && (len(to.IPBlock.Except) == 0 || len(rule.Ports) != 1 || rule.Ports[0].Port.IntVal != 443) {
				t.Errorf("NetworkPolicy %s: egress to the whole Internet %+v", np.Name, rule)
			}
		}
	}
}

func egressPorts(np *networkingv1.NetworkPolicy) []int {
	var out []int
	for _, rule := range np.Spec.Egress {
		for _, p := range rule.Ports {
			if p.Port != nil {
				out = append(out, int(p.Port.IntVal))
			}
		}
	}
	return out
}

func hasEnv(c corev1.Container, name string) bool {
	for _, e := range c.Env {
		if e.Name == name {
			return true
		}
	}
	return false
}

// envSecretRef is the secretKeyRef of a container's variable, or nil.
func envSecretRef(c corev1.Container, name string) *corev1.SecretKeySelector {
	for _, e := range c.Env {
		if e.Name == name && e.ValueFrom != nil {
			return e.ValueFrom.SecretKeyRef
		}
	}
	return nil
}

// mountsAt tells whether the container mounts, at path, a volume satisfying ok.
func mountsAt(pod corev1.PodSpec, c corev1.Container, path string, ok func(corev1.Volume) bool) bool {
	for _, m := range c.VolumeMounts {
		if m.MountPath != path {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name == m.Name && ok(v) {
				return true
			}
		}
	}
	return false
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// lookup returns the value at a dotted path of nested maps, or nil.
func lookup(m map[string]any, path string) any {
	var cur any = m
	for _, p := range strings.Split(path, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[p]
	}
	return cur
}

func lookupMap(m map[string]any, path string) map[string]any {
	v, _ := lookup(m, path).(map[string]any)
	return v
}

func lookupSlice(m map[string]any, path string) []any {
	v, _ := lookup(m, path).([]any)
	return v
}

func toInt(v any) int {
	switch n := v.(type) {
	case int:
		return n
	case int64:
		return int(n)
	case float64:
		return int(n)
	}
	return -1
}
