// Package lb stands in for the AWS Load Balancer Controller's Network Load
// Balancers. Every Service of type LoadBalancer (no loadBalancerClass, or
// service.k8s.aws/nlb) gets an address from the VPC subnets its scheme names
// (annotation service.beta.kubernetes.io/aws-load-balancer-scheme:
// internet-facing → public subnets; internal or unset → private ones) and a
// hostname in the shape AWS gives NLBs; both go to status.loadBalancer.ingress,
// so `kubectl get services` shows an EXTERNAL-IP. Deleting the Service, or
// changing its type, frees the address.
//
// Traffic to the address is kube-proxy's (internal/network/proxy): its nftables
// proxier forwards a Service's load-balancer IPs to its ready endpoints, as it
// does its cluster IP, with loadBalancerSourceRanges as a firewall, and stops
// sending new connections to unready or terminating endpoints. So no proxy of
// fargo's own sits in the path, and target type ip (straight to pod IPs) is what
// every Service gets. Target type instance (AWS's default, through NodePorts)
// cannot reach pods on Fargate nodes on EKS; here such a Service is refused with
// an event saying so, while its pods are on Fargate.
//
// The host routes the whole VPC locally, so an address never leaves the machine.
package lb

import (
	"maps"
	"net"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
)

// Well-known names, as the AWS Load Balancer Controller reads them.
const (
	// ClassNLB is the loadBalancerClass the AWS Load Balancer Controller takes.
	ClassNLB             = "service.k8s.aws/nlb"
	AnnotationScheme     = "service.beta.kubernetes.io/aws-load-balancer-scheme"
	AnnotationTarget     = "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type"
	SchemeInternetFacing = "internet-facing"
	TargetInstance       = "instance"
)

// Subnet is a VPC subnet load balancers may take addresses from.
type Subnet struct {
	ID     string
	Net    *net.IPNet
	Public bool
}

// Addresses is the set of addresses load balancers hold, rebuilt from the
// Services on every reconcile, for the fargate-scheduler to leave alone.
type Addresses struct {
	// Route, if set, makes an address reachable from this host (add) or stops
	// it; called as addresses come and go.
	Route func(ip net.IP, add bool) error

	mu   sync.Mutex
	held map[string]types.NamespacedName
}

// Held reports whether a load balancer holds ip.
func (a *Addresses) Held(ip net.IP) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.held[ip.String()]
	return ok
}

func (a *Addresses) set(held map[string]types.NamespacedName) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.Route != nil {
		for ip := range held {
			if _, ok := a.held[ip]; !ok {
				if err := a.Route(net.ParseIP(ip), true); err != nil {
					klog.Warningf("load balancer %s is not reachable from this host: %v", ip, err)
				}
			}
		}
		for ip := range a.held {
			if _, ok := held[ip]; !ok {
				if err := a.Route(net.ParseIP(ip), false); err != nil {
					klog.Warningf("removing the route of freed load balancer %s: %v", ip, err)
				}
			}
		}
	}
	a.held = maps.Clone(held) // the caller goes on adding to its own
}
