package server

import (
	"fmt"
	"net"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/fargo-dev/fargo/internal/network/cni"
	"github.com/fargo-dev/fargo/internal/network/lb"
)

// setupControllers registers the controllers the server adds to the manager:
// node groups, then load balancers.
func (s *started) setupControllers(mgr ctrl.Manager) error {
	if err := s.setupNodeGroups(mgr); err != nil {
		return err
	}
	if err := s.setupMeter(mgr); err != nil {
		return err
	}
	return s.setupLoadBalancers(mgr)
}

// setupLoadBalancers registers the controller that gives Services of type
// LoadBalancer their address (internal/network/lb); kube-proxy carries the
// traffic.
func (s *started) setupLoadBalancers(mgr ctrl.Manager) error {
	var subnets []lb.Subnet
	for _, sn := range s.cluster.Subnets() {
		if _, n, err := net.ParseCIDR(sn.CIDR); err == nil {
			subnets = append(subnets, lb.Subnet{ID: sn.ID, Net: n, Public: !sn.Private})
		}
	}
	if s.host != nil && s.host.Runtime.Capabilities().HostNetwork {
		s.lbs.Route = cni.RouteLocal // this host's processes reach the addresses too
	}
	c := &lb.Controller{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorderFor("service"), Subnets: subnets,
		Cluster: s.cluster.Metadata.Name, Region: s.cluster.Metadata.Region, Suffix: s.o.LBDNSSuffix,
		Reserved: s.nodeGroupReserved, Addresses: s.lbs}
	if err := c.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the load balancer controller: %w", err)
	}
	return nil
}
