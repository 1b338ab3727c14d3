// Package network holds the VPC's address plan: which IPs of a subnet a sandbox may
// get, and the names EKS derives from them.
package network

import (
	"encoding/binary"
	"net"
	"strings"
)

// awsReservedLow is how many addresses AWS reserves at the start of a subnet
// (network, router, DNS, future use); the last one (broadcast) is reserved too.
const awsReservedLow = 4

// FreeIP returns the first usable address of subnet that inUse does not hold.
func FreeIP(subnet *net.IPNet, inUse func(net.IP) bool) (net.IP, bool) {
	base := binary.BigEndian.Uint32(subnet.IP.To4())
	ones, bits := subnet.Mask.Size()
	size := uint32(1) << (bits - ones)
	for off := uint32(awsReservedLow); off+1 < size; off++ {
		ip := make(net.IP, 4)
		binary.BigEndian.PutUint32(ip, base+off)
		if !inUse(ip) {
			return ip, true
		}
	}
	return nil, false
}

// Usable is how many addresses of subnet sandboxes can get.
func Usable(subnet *net.IPNet) int {
	ones, bits := subnet.Mask.Size()
	return 1<<(bits-ones) - awsReservedLow - 1
}

// SandboxName is the Sandbox object of ip: one per address, so an IP is never given
// out twice, even by concurrent schedulers.
func SandboxName(ip net.IP) string { return "ip-" + dashed(ip) }

// NodeName is the node a Fargate pod at ip appears as.
func NodeName(ip net.IP, region string) string {
	return "fargate-ip-" + dashed(ip) + "." + region + ".compute.internal"
}

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
