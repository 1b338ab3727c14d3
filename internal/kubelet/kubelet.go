// Package kubelet is `fargo kubelet`: the upstream kubelet, unchanged, in fargo's
// one binary. Each node of a managed node group is one kubelet process that fargo
// starts, as a machine of an EKS node group runs one.
package kubelet

import (
	"context"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // --logging-format=json, as upstream
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client metrics, as upstream
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric, as upstream
	"k8s.io/kubernetes/cmd/kubelet/app"
)

// Run runs the kubelet with args (its own flags) and returns its exit code.
func Run(args []string) int {
	cmd := app.NewKubeletCommand(context.Background())
	cmd.SetArgs(args)
	return cli.Run(cmd)
}
