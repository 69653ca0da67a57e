// Package helm holds the offline checks of the hello Helm chart (./hello): its tests
// render the chart with the Helm SDK for the default (trial), staging and production
// values and many combinations, decode every object strictly into its Kubernetes API
// type, assert the chart's security and availability invariants (hook order, names,
// NetworkPolicies, secrets only by reference), prove that values.schema.json rejects bad
// values and that its bounds are generated from the service's own settings table
// (internal/config.Bounds), run `helm lint --strict`, keep README.md's parameter table
// in sync with the `## @param` comments of values.yaml, and keep hello/files/rules.yaml
// (the PrometheusRule's alerts) a copy of deploy/observability/prometheus/rules.yaml
// (`go test ./... -update` rewrites both generated parts and copies the rules). With
// -manifests DIR the tests also write every rendering for kubeconform and kube-score.
//
// It is a module of its own so that the Helm and Kubernetes dependencies stay out of
// the service's module. Run it with ./check.
package helm
