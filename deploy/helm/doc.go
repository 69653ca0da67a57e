// Package helm holds the offline checks of the hello Helm chart (./hello): its tests
// render the chart with the Helm SDK for the default, staging and production values,
// decode every object strictly into its Kubernetes API type, assert the chart's
// security and availability invariants, prove that values.schema.json rejects bad
// values, run the chart linter, and keep README.md's parameter table in sync with the
// `## @param` comments of values.yaml (`go test ./... -update` rewrites it).
//
// It is a module of its own so that the Helm and Kubernetes dependencies stay out of
// the service's module. Run it with ./check.
package helm
