package controlplane

import (
	"context"
	"fmt"
	"strconv"

	cm "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	cmoptions "k8s.io/kubernetes/cmd/kube-controller-manager/app/options"
)

func controllerManagerArgs(c *Config, cs *certs, kubeconfig string) []string {
	return []string{
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(c.ControllerManagerPort),
		"--cluster-name=" + c.ClusterName,
		"--service-cluster-ip-range=" + c.ServiceCIDR.String(),
		"--root-ca-file=" + cs.CA.CertFile,
		"--service-account-private-key-file=" + cs.ServiceAccountKey,
		"--cluster-signing-cert-file=" + cs.CA.CertFile,
		"--cluster-signing-key-file=" + cs.CA.KeyFile,
		"--use-service-account-credentials=true",
		// Fargate nodes get their pod IPs from fargo's IPAM, not from node podCIDRs.
		"--allocate-node-cidrs=false",
		// The TTL controller annotates every node for kubelets' secret caches; fargo's
		// agent does not read it, and a write per node halves pod start throughput.
		// The token cleaner removes node groups' expired bootstrap tokens.
		"--controllers=*,-ttl-controller,tokencleaner",
		"--leader-elect=" + strconv.FormatBool(c.LeaderElect),
		"--profiling=false",
		// Stop within fargo's own shutdown budget (10 s in all).
		"--controller-shutdown-timeout=3s",
	}
}

// runControllerManager runs kube-controller-manager until ctx ends.
func runControllerManager(ctx context.Context, args []string) error {
	s, err := cmoptions.NewKubeControllerManagerOptions()
	if err != nil {
		return fmt.Errorf("creating kube-controller-manager options: %w", err)
	}
	fss := s.Flags(cm.KnownControllers(), cm.ControllersDisabledByDefault(), cm.ControllerAliases())
	s.ParsedFlags = &fss
	if err := parseComponentFlags("kube-controller-manager", fss, args); err != nil {
		return err
	}
	if err := s.ComponentGlobalsRegistry.Set(); err != nil {
		return fmt.Errorf("setting kube-controller-manager feature gates: %w", err)
	}
	config, err := s.Config(ctx, cm.KnownControllers(), cm.ControllersDisabledByDefault(), cm.ControllerAliases())
	if err != nil {
		return fmt.Errorf("configuring kube-controller-manager: %w", err)
	}
	return cm.Run(ctx, config.Complete())
}
