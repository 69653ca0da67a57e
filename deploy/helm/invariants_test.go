package helm

import (
	"crypto/sha256"
	"fmt"
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
	"HELLO_DB_TIMEOUT", "HELLO_DB_MAX_CONNS", "HELLO_SESSION_TTL", "HELLO_SHUTDOWN_TIMEOUT",
	"HELLO_LOG_LEVEL", "HELLO_HASH_CONCURRENCY", "HELLO_TRUSTED_PROXIES", "HELLO_SENDER_LIMIT",
	"HELLO_AUTH_SENDER_LIMIT", "HELLO_LOGIN_MAX_FAILURES", "HELLO_LOGIN_WINDOW",
	"HELLO_DEVICE_COOKIES", "HELLO_CAPTCHA", "HELLO_REDIS_URL", "HELLO_REDIS_FAILURE",
}

// isSecretVar tells the variables that may only come from a Secret (HELLO_SECRET,
// HELLO_*_PASSWORD, HELLO_CAPTCHA_SECRET_KEY, ...). HELLO_DB and HELLO_REDIS_URL may
// come from either: literal only when they carry no password.
func isSecretVar(name string) bool {
	return regexp.MustCompile(`PASSWORD|SECRET|TOKEN`).MatchString(name)
}

// passwordInURL matches a URL whose user info has a password that is not a ${VAR}
// placeholder expanded by the service.
var passwordInURL = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^/@\s:]*:([^/@\s]*)@`)

func hasLiteralPassword(s string) bool {
	for _, m := range passwordInURL.FindAllStringSubmatch(s, -1) {
		if !regexp.MustCompile(`^\$\{HELLO_[A-Z0-9_]+\}$`).MatchString(m[1]) {
			return true
		}
	}
	return false
}

func TestPasswordDetector(t *testing.T) {
	for s, want := range map[string]bool{
		"postgres://hello@pg:5432/hello":                     false,
		"postgres://hello:s3cret@pg:5432/hello":              true,
		"postgres://hello:${HELLO_S1_PASSWORD}@pg-s1:5432/h": false,
		"redis://:pw@redis:6379/0":                           true,
		"redis://redis:6379/0":                               false,
		"dsn: postgres://u:${NOT_HELLO}@h/db":                true,
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
			checkInvariants(t, r, mergeValues(append([]map[string]any{readValuesFile(t, "values.yaml")}, env.layers...)...))

			dep := r.deployment(t)
			cm := r.configMap(t)
			switch env.name {
			case "default":
				if got := *dep.Spec.Replicas; got != 2 {
					t.Errorf("default replicas = %d, want 2", got)
				}
				if cm.Data["HELLO_ENV"] != "development" {
					t.Errorf("HELLO_ENV = %q, want development", cm.Data["HELLO_ENV"])
				}
				if n := len(r.all("HorizontalPodAutoscaler")); n != 0 {
					t.Errorf("HPA rendered by default")
				}
				np := r.one(t, "NetworkPolicy").Value.(*networkingv1.NetworkPolicy)
				if got := egressPorts(np); !slices.Equal(got, []int{53, 53, 5432}) {
					t.Errorf("default egress ports %v, want DNS (UDP, TCP) and PostgreSQL only", got)
				}
			case "staging":
				if got := *dep.Spec.Replicas; got != 2 {
					t.Errorf("staging replicas = %d, want 2", got)
				}
				if cm.Data["HELLO_ENV"] != "staging" {
					t.Errorf("HELLO_ENV = %q, want staging", cm.Data["HELLO_ENV"])
				}
				prod := render(t, environments(t)[2].layers...).deployment(t)
				sr, pr := dep.Spec.Template.Spec.Containers[0].Resources, prod.Spec.Template.Spec.Containers[0].Resources
				if sr.Requests.Memory().Cmp(*pr.Requests.Memory()) >= 0 || sr.Requests.Cpu().Cmp(*pr.Requests.Cpu()) >= 0 {
					t.Errorf("staging requests %v should be below production's %v", sr.Requests, pr.Requests)
				}
			case "production":
				if cm.Data["HELLO_ENV"] != "production" {
					t.Errorf("HELLO_ENV = %q, want production", cm.Data["HELLO_ENV"])
				}
				hpa := r.one(t, "HorizontalPodAutoscaler").Value.(*autoscalingv2.HorizontalPodAutoscaler)
				if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 3 {
					t.Errorf("production HPA minReplicas = %v, want >= 3", hpa.Spec.MinReplicas)
				}
				if hpa.Spec.ScaleTargetRef.Kind != "Deployment" || hpa.Spec.ScaleTargetRef.Name != dep.Name {
					t.Errorf("HPA targets %+v, want Deployment %s", hpa.Spec.ScaleTargetRef, dep.Name)
				}
				if dep.Spec.Replicas != nil {
					t.Errorf("with the HPA on, the Deployment must not set replicas (it would fight the HPA)")
				}
				if !hasEnv(dep.Spec.Template.Spec.Containers[0], "HELLO_SECRET") {
					t.Errorf("production pods get no HELLO_SECRET")
				}
			}
		})
	}
}

// TestFeatures renders the optional parts (Ingress, ServiceMonitor, Redis, the other
// database modes) and checks the same invariants.
func TestFeatures(t *testing.T) {
	cases := []struct {
		name   string
		layers []map[string]any
		check  func(t *testing.T, r *Rendered)
	}{
		{
			name: "ingress-monitoring-redis",
			layers: []map[string]any{
				dbOverride(),
				set("ingress", map[string]any{
					"enabled": true, "className": "nginx", "trustedProxies": "10.42.0.0/16",
					"tls": []any{map[string]any{"secretName": "hello-tls", "hosts": []any{"hello.example.com"}}},
				}),
				set("networkPolicy.ingressNamespaces", []any{"ingress-nginx"}),
				set("networkPolicy.metricsNamespaces", []any{"monitoring"}),
				set("networkPolicy.egressCIDRs", []any{"10.0.16.0/20"}),
				set("metrics.serviceMonitor", map[string]any{"enabled": true, "labels": map[string]any{"release": "prometheus"}}),
				set("redis.url", "redis://redis:6379/0"),
				set("existingSecret.name", "hello"),
				set("existingSecret.keys.extra", map[string]any{"HELLO_CAPTCHA_SECRET_KEY": "captcha-secret-key"}),
				set("config.extra", map[string]any{"HELLO_CAPTCHA_PROVIDER": "turnstile"}),
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
				if got := r.configMap(t).Data["HELLO_TRUSTED_PROXIES"]; got != "10.42.0.0/16" {
					t.Errorf("HELLO_TRUSTED_PROXIES = %q", got)
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
				if !hasEnv(c, "HELLO_CAPTCHA_SECRET_KEY") || r.configMap(t).Data["HELLO_CAPTCHA_PROVIDER"] != "turnstile" {
					t.Errorf("config.extra / existingSecret.keys.extra not rendered")
				}
				if !hasEnv(c, "HELLO_REDIS_PASSWORD") {
					t.Errorf("HELLO_REDIS_PASSWORD not referenced with redis.url set")
				}
				np := r.one(t, "NetworkPolicy").Value.(*networkingv1.NetworkPolicy)
				if !slices.Contains(egressPorts(np), 6379) {
					t.Errorf("NetworkPolicy egress ports %v lack Redis", egressPorts(np))
				}
				for _, rule := range np.Spec.Egress[1:] { // database, Redis
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
				if !strings.Contains(r.Files["hello/templates/NOTES.txt"], "https://hello.example.com") {
					t.Errorf("NOTES.txt does not show the ingress URL:\n%s", r.Files["hello/templates/NOTES.txt"])
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
				set("existingSecret", map[string]any{"name": "hello", "keys": map[string]any{"db": "HELLO_DB", "redisUrl": "HELLO_REDIS_URL"}}),
			},
			check: func(t *testing.T, r *Rendered) {
				cm := r.configMap(t)
				if _, ok := cm.Data["HELLO_DB"]; ok {
					t.Errorf("HELLO_DB in the ConfigMap while it comes from the Secret")
				}
				c := r.deployment(t).Spec.Template.Spec.Containers[0]
				for _, v := range []string{"HELLO_DB", "HELLO_REDIS_URL"} {
					if !hasEnv(c, v) {
						t.Errorf("%s not referenced from the Secret", v)
					}
				}
				if hasEnv(c, "HELLO_DB_PASSWORD") || hasEnv(c, "HELLO_REDIS_PASSWORD") {
					t.Errorf("password variables referenced although the full URLs come from the Secret")
				}
			},
		},
		{
			name: "sqlite-dev",
			layers: []map[string]any{
				set("database.sqliteDev", true), set("replicaCount", 1),
			},
			check: func(t *testing.T, r *Rendered) {
				if got := r.configMap(t).Data["HELLO_DB"]; got != "sqlite:/data/hello.db" {
					t.Errorf("HELLO_DB = %q", got)
				}
				spec := r.deployment(t).Spec.Template.Spec
				if !mountsAt(spec, spec.Containers[0], "/data", func(v corev1.Volume) bool { return v.EmptyDir != nil }) {
					t.Errorf("no emptyDir at /data")
				}
				if len(spec.InitContainers) != 1 || !slices.Equal(spec.InitContainers[0].Args, []string{"migrate"}) {
					t.Errorf("init containers = %+v, want one running migrate", spec.InitContainers)
				}
				if n := len(r.all("Job")); n != 0 {
					t.Errorf("migration Job rendered in sqliteDev mode (its emptyDir would not be the pods')")
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
	defaults := readValuesFile(t, "values.yaml")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := render(t, tc.layers...)
			checkInvariants(t, r, mergeValues(append([]map[string]any{defaults}, tc.layers...)...))
			tc.check(t, r)
		})
	}
}

// checkInvariants asserts what must hold for every rendering. vals are the effective
// values (defaults merged with the overrides).
func checkInvariants(t *testing.T, r *Rendered, vals map[string]any) {
	t.Helper()
	secretName, _ := lookup(vals, "existingSecret.name").(string)

	for _, o := range r.Objects {
		if o.Kind == "Secret" {
			t.Errorf("%s renders a Secret: secrets are only referenced", o.File)
		}
		if errs := validation.IsDNS1123Subdomain(o.Name); len(errs) > 0 {
			t.Errorf("%s %s: bad name: %v", o.Kind, o.Name, errs)
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
			if extra, _ := lookup(vals, "config.extra").(map[string]any); extra[k] == nil {
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
		t.Errorf("HELLO_DB = %q: SQLite only at /data/hello.db (the emptyDir)", db)
	}
	shutdown, err := time.ParseDuration(cm.Data["HELLO_SHUTDOWN_TIMEOUT"])
	if err != nil {
		t.Fatalf("HELLO_SHUTDOWN_TIMEOUT: %v", err)
	}

	// The Deployment.
	dep := r.deployment(t)
	pod := dep.Spec.Template.Spec
	checkPodSpec(t, "Deployment", pod, secretName)
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
	if pod.ServiceAccountName != r.one(t, "ServiceAccount").Name {
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
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].ConfigMapRef == nil || c.EnvFrom[0].ConfigMapRef.Name != cm.Name {
		t.Errorf("container envFrom = %+v, want the ConfigMap %s", c.EnvFrom, cm.Name)
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
		}
		if !keys["kubernetes.io/hostname"] || !keys["topology.kubernetes.io/zone"] {
			t.Errorf("topology spread keys %v, want nodes and zones", keys)
		}
	}
	if dep.Spec.Replicas != nil && *dep.Spec.Replicas < 1 {
		t.Errorf("replicas = %d", *dep.Spec.Replicas)
	}

	// ServiceAccount: no token.
	sa := r.one(t, "ServiceAccount").Value.(*corev1.ServiceAccount)
	if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
		t.Errorf("ServiceAccount automountServiceAccountToken must be false")
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
	}

	// NetworkPolicy (on by default).
	if lookup(vals, "networkPolicy.enabled") == true {
		checkNetworkPolicy(t, r.one(t, "NetworkPolicy").Value.(*networkingv1.NetworkPolicy), dep, vals)
	}

	// The migration Job.
	for _, o := range r.all("Job") {
		job := o.Value.(*batchv1.Job)
		a := job.Annotations
		if a["helm.sh/hook"] != "pre-install,pre-upgrade" || !strings.Contains(a["helm.sh/hook-delete-policy"], "before-hook-creation") {
			t.Errorf("Job %s hook annotations = %v", job.Name, a)
		}
		if job.Spec.BackoffLimit == nil || job.Spec.ActiveDeadlineSeconds == nil {
			t.Errorf("Job %s needs backoffLimit and activeDeadlineSeconds", job.Name)
		}
		spec := job.Spec.Template.Spec
		checkPodSpec(t, "Job", spec, secretName)
		if spec.RestartPolicy != corev1.RestartPolicyNever && spec.RestartPolicy != corev1.RestartPolicyOnFailure {
			t.Errorf("Job restartPolicy = %q", spec.RestartPolicy)
		}
		if !slices.Equal(spec.Containers[0].Args, []string{"migrate"}) {
			t.Errorf("Job args = %v, want [migrate]", spec.Containers[0].Args)
		}
		if job.Spec.Template.Labels["app.kubernetes.io/component"] == "server" {
			t.Errorf("migration pods must not carry the server selector")
		}
		// A pre-install hook runs before the chart's ConfigMap and ServiceAccount exist.
		if spec.ServiceAccountName == sa.Name && lookup(vals, "serviceAccount.create") == true {
			t.Errorf("Job uses the chart's ServiceAccount, which does not exist yet at pre-install")
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
	}
}

// checkPodSpec asserts the hardening of a pod and its containers, and that secrets come
// only through secretKeyRef from existingSecret.
func checkPodSpec(t *testing.T, what string, pod corev1.PodSpec, secretName string) {
	t.Helper()
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("%s: automountServiceAccountToken must be false", what)
	}
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Fatalf("%s: pod securityContext must set runAsNonRoot", what)
	}
	if psc.RunAsUser == nil || *psc.RunAsUser != nonRootID || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: pod securityContext %+v, want uid %d and RuntimeDefault seccomp", what, psc, nonRootID)
	}
	// A Service named hello would otherwise inject HELLO_PORT, HELLO_SERVICE_HOST, ...:
	// variables in the app's own namespace that it would warn about as unknown.
	if pod.EnableServiceLinks == nil || *pod.EnableServiceLinks {
		t.Errorf("%s: enableServiceLinks must be false", what)
	}
	if pod.HostNetwork || pod.HostPID || pod.HostIPC {
		t.Errorf("%s: host namespaces", what)
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
		if v.HostPath != nil || v.Secret != nil {
			t.Errorf("%s: volume %s is a hostPath or Secret volume", what, v.Name)
		}
	}
	for _, c := range append(slices.Clone(pod.InitContainers), pod.Containers...) {
		name := what + " container " + c.Name
		sc := c.SecurityContext
		if sc == nil {
			t.Errorf("%s: no securityContext", name)
			continue
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
		req, lim := c.Resources.Requests, c.Resources.Limits
		if req.Cpu().IsZero() || req.Memory().IsZero() || lim.Memory().IsZero() {
			t.Errorf("%s: resources %+v, want cpu and memory requests and a memory limit", name, c.Resources)
		}
		if lim.Memory().Cmp(*req.Memory()) < 0 {
			t.Errorf("%s: memory limit below the request", name)
		}
		if !mountsAt(pod, c, "/tmp", func(v corev1.Volume) bool { return v.EmptyDir != nil }) {
			t.Errorf("%s: no emptyDir at /tmp (the root filesystem is read-only)", name)
		}
		if !strings.HasPrefix(c.Image, "hello:") && !strings.HasPrefix(c.Image, "hello@") {
			t.Errorf("%s: image %q", name, c.Image)
		}
		for _, e := range c.Env {
			if e.ValueFrom != nil {
				ref := e.ValueFrom.SecretKeyRef
				if ref == nil {
					t.Errorf("%s: env %s comes from %+v, want a secretKeyRef or a plain value", name, e.Name, e.ValueFrom)
					continue
				}
				if ref.Name != secretName || ref.Key == "" {
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

// checkNetworkPolicy: ingress only from this namespace or listed namespaces, on the
// container's ports; egress only to DNS, the database and Redis ports.
func checkNetworkPolicy(t *testing.T, np *networkingv1.NetworkPolicy, dep *appsv1.Deployment, vals map[string]any) {
	t.Helper()
	if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) || !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
		t.Errorf("NetworkPolicy policyTypes = %v, want Ingress and Egress", np.Spec.PolicyTypes)
	}
	for k, v := range np.Spec.PodSelector.MatchLabels {
		if dep.Spec.Template.Labels[k] != v {
			t.Errorf("NetworkPolicy does not select the server pods (%s=%s)", k, v)
		}
	}
	if len(np.Spec.PodSelector.MatchLabels) == 0 {
		t.Errorf("NetworkPolicy selects every pod of the namespace")
	}
	for _, rule := range np.Spec.Ingress {
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
	allowed := []int{53}
	for _, key := range []string{"networkPolicy.databasePorts", "networkPolicy.redisPorts"} {
		for _, p := range lookup(vals, key).([]any) {
			allowed = append(allowed, toInt(p))
		}
	}
	ports := egressPorts(np)
	if len(ports) == 0 {
		t.Errorf("NetworkPolicy has no egress port: pods could not resolve names")
	}
	for _, p := range ports {
		if !slices.Contains(allowed, p) {
			t.Errorf("egress to port %d: only DNS, database and Redis ports", p)
		}
	}
	if !slices.Contains(ports, 53) {
		t.Errorf("egress lacks DNS")
	}
	for _, rule := range np.Spec.Egress {
		if len(rule.Ports) == 0 {
			t.Errorf("egress rule without ports: %+v", rule)
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
