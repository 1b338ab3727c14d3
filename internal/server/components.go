package server

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/fargo-dev/fargo/internal/agent"
	"github.com/fargo-dev/fargo/internal/airgap"
	"github.com/fargo-dev/fargo/internal/clusterconfig"
	"github.com/fargo-dev/fargo/internal/controlplane"
	"github.com/fargo-dev/fargo/internal/network/lb"
	"github.com/fargo-dev/fargo/internal/nodegroup"
	"github.com/fargo-dev/fargo/internal/profile"
	"github.com/fargo-dev/fargo/internal/scheduler"
)

// component is one part the server starts once the control plane is up, in
// order: what it is called in the start-up output, and how to start it (the
// detail of its ready line, "" for none). Adding a part is adding an entry.
type component struct {
	name  string
	start func(ctx context.Context) (detail string, err error)
}

// started is what the components share while the server starts.
type started struct {
	o         *Options
	cfg       *controlplane.Config
	cluster   *clusterconfig.Cluster
	cp        *controlplane.ControlPlane
	pc        profile.Cluster
	placement scheduler.Placement
	host      *agent.Config // nil: no built-in agent
	apiCtx    context.Context
	apiFailed chan error
	progress  agent.Progress
	out       io.Writer

	ctrls *controllers
	nodes *nodegroup.Manager // nil: this machine runs no node groups
	kube  kubernetes.Interface
	// nodesBlocked says why this machine runs no node groups' nodes.
	nodesBlocked string
	// dnsImage is the cluster DNS image (nil: no cluster DNS).
	dnsImage *airgap.Image
	// lbs are the addresses Services of type LoadBalancer hold.
	lbs *lb.Addresses
}

func (s *started) components() []component {
	return []component{
		{"fargo controllers", s.startControllers},
		{"cluster info", func(ctx context.Context) (string, error) {
			return "", publishClusterInfo(ctx, s.ctrls.client, s.pc, s.cluster)
		}},
		{"EKS API", func(context.Context) (string, error) {
			endpoint, err := s.o.startEKSAPI(s.apiCtx, s.cp, s.ctrls.client, s.cluster, s.pc, s.apiFailed)
			return endpoint + "  (credentials: " + CredentialsFile(s.cfg.DataDir) + ", profile fargo)", err
		}},
		{"Fargate profiles", func(ctx context.Context) (string, error) {
			return "", createProfiles(ctx, s.ctrls.client, s.pc, s.o.profiles(s.cluster), func(name, state string) { s.progress("Fargate profile "+name, state) })
		}},
		{"node groups", s.startNodeGroups},
		{"cluster DNS", s.startDNS},
	}
}

// startControllers starts fargo's controllers with the built-in host agent in
// the same manager: the agent is the one `fargo agent` runs (agent.Start).
func (s *started) startControllers(context.Context) (string, error) {
	var hostStart func(ctrl.Manager) (*agent.Agent, error)
	if s.host != nil {
		hc := *s.host
		hc.CA, hc.CAKey, hc.HostIP = s.cp.CA, s.cp.CAKey, s.cp.Advertise
		hostStart = func(mgr ctrl.Manager) (*agent.Agent, error) {
			if !hc.Runtime.Capabilities().Processes {
				fmt.Fprintf(s.out, "note: runtime %s runs no processes: Fargate pods are reported Running but no container runs\n", hc.Runtime.Name())
			}
			return agent.Start(s.apiCtx, hc, s.cp.AdminConfig, mgr, s.progress, func(err error) { fmt.Fprintf(s.out, "warning: %v\n", err) })
		}
	}
	ctrls, err := startControllers(s.cp, s.cluster, s.pc, s.o.WebhookPort, s.placement, s.reserved, s.setupControllers, hostStart)
	if err != nil {
		return "", err
	}
	s.ctrls = ctrls
	return "webhooks on https://127.0.0.1:" + strconv.Itoa(s.o.WebhookPort), nil
}
