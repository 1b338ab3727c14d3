package server

import (
	"context"
	"fmt"
	"net"
	"os"

	corev1 "k8s.io/api/core/v1"

	"github.com/fargo-dev/fargo/internal/clusterconfig"
	"github.com/fargo-dev/fargo/internal/nodegroup"
)

// newNodeGroups prepares the config's managed node groups when this machine can
// run them: they need the built-in host with a runtime that runs processes, as
// root. Otherwise it says why they are not started.
func (s *started) newNodeGroups() error {
	if len(s.cluster.ManagedNodeGroups) == 0 {
		return nil
	}
	if why := s.nodeGroupsBlocked(); why != "" {
		fmt.Fprintf(s.out, "note: node groups not started: %s; pods that match no Fargate profile stay Pending\n", why)
		return nil
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the fargo binary for the node groups' kubelets: %w", err)
	}
	m, err := nodegroup.NewManager(&nodegroup.Cluster{DataDir: s.cfg.DataDir, LogDir: s.cfg.LogDir, APIServer: s.cp.Endpoint,
		CA: s.cp.CA, CAKey: s.cp.CAKey, DNS: s.cluster.ClusterDNS(), Fargo: self}, s.cluster.Metadata.Region)
	if err != nil {
		return err
	}
	s.nodes = m
	return nil
}

func (s *started) nodeGroupsBlocked() string {
	switch {
	case s.host == nil:
		return "--runtime none runs no node on this machine"
	case !s.host.Runtime.Capabilities().Processes:
		return "runtime " + s.host.Runtime.Name() + " runs no processes (use --runtime containerd)"
	case os.Geteuid() != 0:
		return "a node's kubelet and containerd need root"
	}
	return ""
}

// reserved is the node groups' shares of their subnets, which Fargate pods leave.
func (s *started) reserved(ip net.IP) bool { return s.nodes != nil && s.nodes.Reserved(ip) }

// startNodeGroups brings each group to its desired size, one line per group.
func (s *started) startNodeGroups(ctx context.Context) (string, error) {
	if s.nodes == nil {
		return "", nil
	}
	for _, ng := range s.cluster.ManagedNodeGroups {
		g := nodeGroup(s.cluster, ng)
		names, err := s.nodes.Ensure(ctx, g)
		if err != nil {
			return "", err
		}
		s.progress("node group "+g.Name, nodegroup.Describe(g, names))
	}
	return "", nil
}

// nodeGroup is a config's group as the node manager takes it.
func nodeGroup(c *clusterconfig.Cluster, ng clusterconfig.ManagedNodeGroup) nodegroup.Group {
	g := nodegroup.Group{Name: ng.Name, InstanceType: ng.InstanceType, Desired: *ng.DesiredCapacity, Labels: ng.Labels}
	if g.InstanceType == "" && len(ng.InstanceTypes) > 0 {
		g.InstanceType = ng.InstanceTypes[0]
	}
	for _, t := range ng.Taints {
		g.Taints = append(g.Taints, corev1.Taint{Key: t.Key, Value: t.Value, Effect: corev1.TaintEffect(t.Effect)})
	}
	for _, s := range c.NodeGroupSubnets(ng) {
		if _, n, err := net.ParseCIDR(s.CIDR); err == nil {
			g.Subnets = append(g.Subnets, nodegroup.Subnet{ID: s.ID, Zone: s.AZ, Net: n})
		}
	}
	return g
}

// stopNodeGroups ends the nodes' kubelets and containerds; their pods run on.
func (s *started) stopNodeGroups() {
	if s.nodes != nil {
		if err := s.nodes.Stop(); err != nil {
			fmt.Fprintf(s.out, "warning: %v\n", err)
		}
	}
}
