// Package clusterdns deploys the cluster's DNS as EKS ships it: CoreDNS as
// Deployment coredns in kube-system (label k8s-app=kube-dns), Service kube-dns
// at the tenth address of the service CIDR, its Corefile in ConfigMap coredns.
// The image is built from fargo's own CoreDNS binary (cmd/coredns) and
// imported into every containerd at start, so no registry is involved.
//
// What a user changed is kept: the ConfigMap and the Deployment are created
// when missing and otherwise left alone, but for the Deployment's image, which
// follows the binary.
package clusterdns

import (
	"net"
)

// Names EKS uses.
const (
	Namespace = "kube-system"
	Name      = "coredns"
	Service   = "kube-dns"
	AppLabel  = "k8s-app"
	AppValue  = "kube-dns"
	Component = "eks.amazonaws.com/component"
	configKey = "Corefile"
	// LoadBalancers is the ConfigMap in kube-system whose key LoadBalancersKey
	// is a hosts file of the load balancers' hostnames (internal/network/lb),
	// mounted in CoreDNS's pods at LoadBalancersPath (optional: it may not
	// exist yet).
	LoadBalancers     = "coredns-load-balancers"
	LoadBalancersKey  = "hosts"
	LoadBalancersPath = "/etc/coredns-lb"
	configPath        = "/etc/coredns"
)

// Config is what the deployment is made from.
type Config struct {
	// Address is the kube-dns Service's cluster IP.
	Address net.IP
	// Upstream are the resolvers names outside the cluster are forwarded to
	// (host:port or host); none: the resolv.conf of the node CoreDNS runs on,
	// as EKS's Corefile says.
	Upstream []string
	// Image is the CoreDNS image, present on every host and node.
	Image string
	// Region names the compute.internal zone CoreDNS answers (none: no zone).
	Region string
	// Fargate sends CoreDNS to Fargate, as eksctl does when a profile selects
	// it: the template's compute-type annotation says fargate, not ec2.
	Fargate bool
}
