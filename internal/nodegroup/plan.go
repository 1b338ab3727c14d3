package nodegroup

import (
	"encoding/binary"
	"fmt"
	"net"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/fargo-dev/fargo/internal/instancetype"
)

// Subnet is a VPC subnet nodes can go in.
type Subnet struct {
	ID, Zone string
	Net      *net.IPNet
}

// Group is a managed node group as configured.
type Group struct {
	Name, InstanceType string
	Desired            int
	Labels             map[string]string
	Taints             []corev1.Taint
	Subnets            []Subnet
}

// lowReserved is how many addresses at a subnet's start no block may take: AWS's
// reserved four, and the first addresses the fargate-scheduler hands out.
const lowReserved = 4

// freeBlock is the highest block of size addresses in subnet that overlaps none of
// held: node groups take their shares from the top of a subnet, Fargate pods their
// addresses from the bottom.
func freeBlock(subnet *net.IPNet, size int, held []*net.IPNet) (*net.IPNet, bool) {
	base := binary.BigEndian.Uint32(subnet.IP.To4())
	ones, bits := subnet.Mask.Size()
	total := uint32(1) << (bits - ones)
	bsize := uint32(size)
	prefix := bits
	for s := bsize; s > 1; s >>= 1 {
		prefix--
	}
	for top := total; top >= bsize && top-bsize >= lowReserved; top -= bsize {
		b := &net.IPNet{IP: ipv4(base + top - bsize), Mask: net.CIDRMask(prefix, 32)}
		if !overlapsAny(b, held) {
			return b, true
		}
	}
	return nil, false
}

func overlapsAny(b *net.IPNet, held []*net.IPNet) bool {
	for _, h := range held {
		if h.Contains(b.IP) || b.Contains(h.IP) {
			return true
		}
	}
	return false
}

// plan returns the specs of n more nodes for g, round-robin over its subnets from
// the one with fewest of its nodes, each in the highest free block.
func plan(g Group, region string, t instancetype.Type, n int, existing []Spec, held []*net.IPNet) ([]Spec, error) {
	if len(g.Subnets) == 0 {
		return nil, fmt.Errorf("node group %s has no subnet", g.Name)
	}
	perSubnet := map[string]int{}
	for _, s := range existing {
		perSubnet[s.Subnet.String()]++
	}
	held = append([]*net.IPNet(nil), held...)
	var out []Spec
	for len(out) < n {
		best := -1
		for i, s := range g.Subnets {
			if best < 0 || perSubnet[s.Net.String()] < perSubnet[g.Subnets[best].Net.String()] {
				best = i
			}
		}
		s := g.Subnets[best]
		block, ok := freeBlock(s.Net, t.BlockSize(), held)
		if !ok {
			// This subnet is full: try the others before giving up.
			found := false
			for _, other := range g.Subnets {
				if block, ok = freeBlock(other.Net, t.BlockSize(), held); ok {
					s, found = other, true
					break
				}
			}
			if !found {
				return nil, fmt.Errorf("node group %s: no room for a %s node (%d addresses) in subnets %v", g.Name, g.InstanceType, t.BlockSize(), subnetNames(g.Subnets))
			}
		}
		ip := ipv4(binary.BigEndian.Uint32(block.IP.To4()) + 1)
		out = append(out, Spec{Name: NodeName(ip, region), Group: g.Name, InstanceType: g.InstanceType, Type: t,
			Region: region, Zone: s.Zone, IP: ip, Subnet: s.Net, Block: block, Labels: g.Labels, Taints: g.Taints, created: time.Now()})
		held = append(held, block)
		perSubnet[s.Net.String()]++
	}
	return out, nil
}

func subnetNames(subnets []Subnet) []string {
	out := make([]string, len(subnets))
	for i, s := range subnets {
		out[i] = s.ID + " (" + s.Net.String() + ")"
	}
	return out
}
