package server

import (
	"context"
	"net"
	"strconv"

	"github.com/fargo-dev/fargo/internal/agent"
	"github.com/fargo-dev/fargo/internal/agent/kubeletapi"
	"github.com/fargo-dev/fargo/internal/controlplane"
)

// startKubeletAPI serves the built-in agent's kubelet API (kubectl logs and exec)
// and routes the apiserver's connections to a Fargate node's kubelet port, which
// is addressed at the pod's IP inside its sandbox, to it.
func startKubeletAPI(ctx context.Context, cp *controlplane.ControlPlane, a *agent.Agent, cfg *agent.Config, vpc *net.IPNet) error {
	api, err := kubeletapi.New(cfg.Runtime, a.SandboxOfPod, cp.CA, cp.CAKey)
	if err != nil {
		return err
	}
	go api.Serve(ctx)
	port := strconv.Itoa(kubeletapi.Port)
	cp.SetEgressDial(func(ctx context.Context, addr string) (net.Conn, error) {
		host, p, err := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); err == nil && p == port && ip != nil && vpc.Contains(ip) {
			return api.Connect(ctx, ip)
		}
		return controlplane.DirectDial(ctx, addr)
	})
	return nil
}
