package clusterdns

import (
	"fmt"
	"strings"
)

// Corefile is EKS's Corefile for the cluster domain cluster.local, forwarding
// to c.Upstream when set, with a hosts block for the load balancers' hostnames
// (where the AWS Load Balancer Controller's NLB names resolve in AWS's DNS),
// and the region's compute.internal zone, which AWS's VPC resolver answers.
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
`, LoadBalancersPath, LoadBalancersKey, upstream) + ComputeZone(c.Region)
}

// ComputeZone answers <region>.compute.internal as AWS's VPC resolver does:
// ip-a-b-c-d.<region>.compute.internal (a node's InternalDNS name) is
// a.b.c.d, and any other name there does not exist. Fargate pods search the
// zone, as on EKS; without it their lookups of short names would go to the
// host's resolvers, which know nothing of it (or, offline, fail with SERVFAIL,
// which ends a search).
func ComputeZone(region string) string {
	if region == "" {
		return ""
	}
	zone := region + ".compute.internal"
	return fmt.Sprintf(`%[1]s:53 {
    errors
    template IN A %[1]s {
        match "^ip-(?P<a>[0-9]{1,3})-(?P<b>[0-9]{1,3})-(?P<c>[0-9]{1,3})-(?P<d>[0-9]{1,3})[.]%[2]s[.]$"
        answer "{{ .Name }} 60 IN A {{ .Group.a }}.{{ .Group.b }}.{{ .Group.c }}.{{ .Group.d }}"
        fallthrough
    }
    template IN AAAA %[1]s {
        match "^ip-[0-9]{1,3}-[0-9]{1,3}-[0-9]{1,3}-[0-9]{1,3}[.]%[2]s[.]$"
        rcode NOERROR
        fallthrough
    }
    template ANY ANY %[1]s {
        rcode NXDOMAIN
        authority "%[1]s. 60 IN SOA ns.%[1]s. hostmaster.%[1]s. 1 7200 1800 86400 60"
    }
    cache 30
}
`, zone, strings.ReplaceAll(zone, ".", "[.]"))
}
