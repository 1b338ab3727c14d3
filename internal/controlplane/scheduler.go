package controlplane

import (
	"context"
	"fmt"
	"strconv"

	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
	scheduleroptions "k8s.io/kubernetes/cmd/kube-scheduler/app/options"
)

func schedulerArgs(c *Config, kubeconfig string) []string {
	return []string{
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(c.SchedulerPort),
		"--leader-elect=" + strconv.FormatBool(c.LeaderElect),
		"--profiling=false",
	}
}

// runScheduler runs kube-scheduler (the default-scheduler, for node-group pods)
// until ctx ends.
func runScheduler(ctx context.Context, args []string) error {
	opts := scheduleroptions.NewOptions()
	if err := parseComponentFlags("kube-scheduler", *opts.Flags, args); err != nil {
		return err
	}
	if err := opts.ComponentGlobalsRegistry.Set(); err != nil {
		return fmt.Errorf("setting kube-scheduler feature gates: %w", err)
	}
	cc, sched, err := scheduler.Setup(ctx, opts)
	if err != nil {
		return fmt.Errorf("configuring kube-scheduler: %w", err)
	}
	return scheduler.Run(ctx, cc, sched)
}
