package clusterdns

import (
	"fmt"
	"strings"
)

// Corefile is EKS's Corefile for the cluster domain cluster.local, forwarding
// to c.Upstream when set, with a hosts block for the load balancers' hostnames
// (where the AWS Load Balancer Controller's NLB names resolve in AWS's DNS).
func (c Config) Corefile() string {
	upstream := "/etc/resolv.conf"
	if len(c.Upstream) > 0 {
		upstream = strings.Join(c.Upstream, " ")
	}
	return fmt.Sprintf(`.:53 {
    errors
    health {
        lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    hosts %s/%s {
        fallthrough
    }
    prometheus :9153
    forward . %s
    cache 30
    loop
    reload
    loadbalance
}
`, LoadBalancersPath, LoadBalancersKey, upstream)
}
