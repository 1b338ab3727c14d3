// Package metricsserver builds the upstream metrics-server (the Kubernetes
// project's, sigs.k8s.io/metrics-server) for the e2e tests' `kubectl top`: a
// module of its own, because its Kubernetes libraries are older than fargo's.
// Build: go build -o bin/metrics-server sigs.k8s.io/metrics-server/cmd/metrics-server
package metricsserver
