// Package names derives the names EKS gives Fargate objects from their
// addresses: Sandbox objects, nodes and hostnames (reference §3.2). Pure.
package names

import (
	"net"
	"strings"
)

// SandboxName is the Sandbox object of ip: one per address, so the API server
// refuses a second claim on an address even when two schedulers race.
func SandboxName(ip net.IP) string { return "ip-" + dashed(ip) }

// NodeName is the node a Fargate pod at ip appears as.
func NodeName(ip net.IP, region string) string {
	return "fargate-" + Hostname(ip, region)
}

// Hostname is EKS's un-prefixed node hostname: ip-a-b-c-d.<region>.compute.internal.
func Hostname(ip net.IP, region string) string {
	return "ip-" + dashed(ip) + "." + region + ".compute.internal"
}

// NodeHostname is the hostname of a Fargate node name (its "fargate-" dropped).
func NodeHostname(node string) string { return strings.TrimPrefix(node, "fargate-") }

func dashed(ip net.IP) string { return strings.ReplaceAll(ip.String(), ".", "-") }

// SandboxOfNode is the Sandbox object behind a Fargate node name, if it is one.
func SandboxOfNode(node string) (string, bool) {
	rest, ok := strings.CutPrefix(node, "fargate-")
	if !ok {
		return "", false
	}
	name, _, _ := strings.Cut(rest, ".")
	return name, strings.HasPrefix(name, "ip-")
}
