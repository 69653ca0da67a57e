package helm

// Issue 14, "what users of charts expect": the usual extension points, each rendered
// where it belongs and still within the chart's invariants.

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"
)

func TestExtensionPoints(t *testing.T) {
	caBundle := []any{map[string]any{"name": "ca", "configMap": map[string]any{"name": "db-ca"}}}
	layers := []map[string]any{
		dbOverride(),
		set("commonLabels", map[string]any{"team": "accounts"}),
		set("extraEnv", []any{map[string]any{"name": "HELLO_CAPTCHA_TTL", "value": "5m"}, map[string]any{"name": "HELLO_S9_PASSWORD", "valueFrom": map[string]any{"secretKeyRef": map[string]any{"name": "pg-app", "key": "password"}}}}),
		set("extraEnvFrom", []any{map[string]any{"configMapRef": map[string]any{"name": "site-settings"}}}),
		set("extraVolumes", caBundle),
		set("extraVolumeMounts", []any{map[string]any{"name": "ca", "mountPath": "/etc/hello/ca", "readOnly": true}}),
		set("networkPolicy.extraIngress", []any{map[string]any{"from": []any{map[string]any{"podSelector": map[string]any{"matchLabels": map[string]any{"app": "probe"}}}}, "ports": []any{map[string]any{"port": 8080}}}}),
		set("networkPolicy.extraEgress", []any{map[string]any{"to": []any{map[string]any{"ipBlock": map[string]any{"cidr": "52.94.0.0/16"}}}, "ports": []any{map[string]any{"port": 443}}}}),
		set("service.annotations", map[string]any{"service.beta.kubernetes.io/aws-load-balancer-internal": "true"}),
		set("topologySpread.constraints", []any{map[string]any{"maxSkew": 2, "topologyKey": "topology.kubernetes.io/region", "whenUnsatisfiable": "ScheduleAnyway"}}),
		set("migrations", map[string]any{
			"serviceAccount": map[string]any{"create": true, "annotations": map[string]any{"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/hello-migrate"}},
			"podAnnotations": map[string]any{"sidecar.istio.io/inject": "false"},
			"affinity":       map[string]any{"nodeAffinity": map[string]any{"requiredDuringSchedulingIgnoredDuringExecution": map[string]any{"nodeSelectorTerms": []any{map[string]any{"matchExpressions": []any{map[string]any{"key": "pool", "operator": "In", "values": []any{"system"}}}}}}}},
		}),
	}
	r := render(t, layers...)
	checkInvariants(t, r, effectiveValues(t, layers...))

	dep := r.deployment(t).Spec.Template.Spec
	job := r.one(t, "Job").Value.(*batchv1.Job)
	for what, spec := range map[string]corev1.PodSpec{"server": dep, "migration": job.Spec.Template.Spec} {
		c := spec.Containers[0]
		if !hasEnv(c, "HELLO_CAPTCHA_TTL") || envSecretRef(c, "HELLO_S9_PASSWORD") == nil {
			t.Errorf("%s: extraEnv missing: %v", what, c.Env)
		}
		if !slices.ContainsFunc(c.EnvFrom, func(e corev1.EnvFromSource) bool {
			return e.ConfigMapRef != nil && e.ConfigMapRef.Name == "site-settings"
		}) {
			t.Errorf("%s: extraEnvFrom missing: %v", what, c.EnvFrom)
		}
		if !mountsAt(spec, c, "/etc/hello/ca", func(v corev1.Volume) bool { return v.ConfigMap != nil && v.ConfigMap.Name == "db-ca" }) {
			t.Errorf("%s: the CA bundle is not mounted", what)
		}
	}
	np := serverPolicy(t, r)
	if len(np.Spec.Ingress) != 3 || np.Spec.Ingress[2].From[0].PodSelector.MatchLabels["app"] != "probe" {
		t.Errorf("extraIngress not appended: %+v", np.Spec.Ingress)
	}
	last := np.Spec.Egress[len(np.Spec.Egress)-1]
	if last.To[0].IPBlock == nil || last.To[0].IPBlock.CIDR != "52.94.0.0/16" {
		t.Errorf("extraEgress not appended: %+v", np.Spec.Egress)
	}
	jobNP := r.byName(t, "NetworkPolicy", job.Name).Value.(*networkingv1.NetworkPolicy)
	if e := jobNP.Spec.Egress[len(jobNP.Spec.Egress)-1]; e.To[0].IPBlock == nil || e.To[0].IPBlock.CIDR != "52.94.0.0/16" {
		t.Errorf("the migration Job's policy lacks extraEgress (e.g. STS for IAM auth)")
	}
	if svc := r.one(t, "Service").Value.(*corev1.Service); svc.Annotations["service.beta.kubernetes.io/aws-load-balancer-internal"] != "true" {
		t.Errorf("service annotations %v", svc.Annotations)
	}
	if tsc := dep.TopologySpreadConstraints; len(tsc) != 1 || tsc[0].TopologyKey != "topology.kubernetes.io/region" || tsc[0].MaxSkew != 2 || tsc[0].LabelSelector == nil {
		t.Errorf("custom topology spread %+v", tsc)
	}
	js := job.Spec.Template.Spec
	sa := r.byName(t, "ServiceAccount", js.ServiceAccountName)
	if sa == nil || sa.Value.(*corev1.ServiceAccount).Annotations["eks.amazonaws.com/role-arn"] == "" {
		t.Errorf("the Job runs as %q, not its own annotated ServiceAccount", js.ServiceAccountName)
	}
	if job.Spec.Template.Annotations["sidecar.istio.io/inject"] != "false" || js.Affinity == nil || js.Affinity.NodeAffinity == nil {
		t.Errorf("Job pod annotations %v, affinity %+v", job.Spec.Template.Annotations, js.Affinity)
	}
	if dep.Affinity != nil {
		t.Errorf("migrations.affinity leaked into the server pods")
	}
	for _, o := range r.Objects {
		if o.Value.(interface{ GetLabels() map[string]string }).GetLabels()["team"] != "accounts" {
			t.Errorf("%s %s lacks commonLabels", o.Kind, o.Name)
		}
	}
	if r.deployment(t).Spec.Template.Labels["team"] != "accounts" || r.deployment(t).Spec.Selector.MatchLabels["team"] != "" {
		t.Errorf("commonLabels must label the pods but stay out of the (immutable) selector")
	}
}

// TestOpenShiftSecurityContext: restricted-v2 assigns the uid and gid itself; removing
// them (null) keeps every other restriction.
func TestOpenShiftSecurityContext(t *testing.T) {
	layers := []map[string]any{
		dbOverride(),
		set("podSecurityContext", map[string]any{"runAsUser": nil, "runAsGroup": nil, "fsGroup": nil}),
		set("containerSecurityContext", map[string]any{"runAsUser": nil, "runAsGroup": nil}),
	}
	r := render(t, layers...)
	checkInvariants(t, r, effectiveValues(t, layers...))
	for _, spec := range []corev1.PodSpec{r.deployment(t).Spec.Template.Spec, r.one(t, "Job").Value.(*batchv1.Job).Spec.Template.Spec, r.one(t, "Pod").Value.(*corev1.Pod).Spec} {
		psc, csc := spec.SecurityContext, spec.Containers[0].SecurityContext
		if psc.RunAsUser != nil || psc.RunAsGroup != nil || psc.FSGroup != nil || csc.RunAsUser != nil || csc.RunAsGroup != nil {
			t.Errorf("uid/gid still set: %+v %+v", psc, csc)
		}
		if psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem {
			t.Errorf("restrictions lost: %+v %+v", psc, csc)
		}
	}
}

// TestReadmeCloudNativePG renders the values the chart README gives for shards on
// CloudNativePG clusters: the documented example works.
func TestReadmeCloudNativePG(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(chartDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	section := regexp.MustCompile("(?s)### Shards on CloudNativePG\n(.*?)\n## ").FindSubmatch(raw)
	if section == nil {
		t.Fatal("README.md has no section \"### Shards on CloudNativePG\"")
	}
	block := regexp.MustCompile("(?s)```yaml\n# values-cnpg.yaml\n(.*?)```").FindSubmatch(section[1])
	if block == nil {
		t.Fatal("the CloudNativePG section has no ```yaml block starting with # values-cnpg.yaml")
	}
	var vals map[string]any
	if err := yaml.Unmarshal(block[1], &vals); err != nil {
		t.Fatal(err)
	}
	r := render(t, vals)
	checkInvariants(t, r, effectiveValues(t, vals))
	shards := r.configMap(t).Data["HELLO_SHARDS"]
	for _, want := range []string{"hello-s1-rw", "hello-s2-rw", "${HELLO_S1_PASSWORD}"} {
		if !strings.Contains(shards, want) {
			t.Errorf("HELLO_SHARDS lacks %s:\n%s", want, shards)
		}
	}
	if !strings.Contains(string(section[1]), "kind: Cluster") {
		t.Errorf("the section does not show the CloudNativePG Cluster")
	}
}
