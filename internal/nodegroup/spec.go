package nodegroup

import (
	"encoding/binary"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/fargo-dev/fargo/internal/instancetype"
)

// Spec is one node of a group: who it is and where its addresses are.
type Spec struct {
	Name         string // ip-a-b-c-d.<region>.compute.internal
	Group        string
	InstanceType string
	Type         instancetype.Type
	Region, Zone string
	// IP is the node's address; Subnet the VPC subnet it is in (its pods get
	// that mask and router); Block the share of the subnet it holds, its own
	// address first, then its pods'.
	IP     net.IP
	Subnet *net.IPNet
	Block  *net.IPNet
	Labels map[string]string
	Taints []corev1.Taint

	created time.Time // when the node was planned
}

// NodeName is EKS's name for an EC2 node at ip.
func NodeName(ip net.IP, region string) string {
	return "ip-" + strings.ReplaceAll(ip.String(), ".", "-") + "." + region + ".compute.internal"
}

// NodeLabels are the labels EKS sets on a managed node group's node, then the
// group's own.
func (n *Spec) NodeLabels() map[string]string {
	l := map[string]string{
		"eks.amazonaws.com/nodegroup":      n.Group,
		"eks.amazonaws.com/capacityType":   "ON_DEMAND",
		"node.kubernetes.io/instance-type": n.InstanceType,
		"topology.kubernetes.io/region":    n.Region,
		"topology.kubernetes.io/zone":      n.Zone,
	}
	for k, v := range n.Labels {
		l[k] = v
	}
	return l
}

// labelFlag is --node-labels: k=v pairs, sorted so the command line is stable.
func labelFlag(labels map[string]string) string {
	pairs := make([]string, 0, len(labels))
	for k, v := range labels {
		pairs = append(pairs, k+"="+v)
	}
	sort.Strings(pairs)
	return strings.Join(pairs, ",")
}

// taintFlag is --register-with-taints: key=value:Effect pairs.
func taintFlag(taints []corev1.Taint) string {
	parts := make([]string, 0, len(taints))
	for _, t := range taints {
		parts = append(parts, fmt.Sprintf("%s=%s:%s", t.Key, t.Value, t.Effect))
	}
	return strings.Join(parts, ",")
}

// podRange is the first and last address the node's pods get: the block but
// the node's own address (the first usable one) and the block's last address.
func (n *Spec) podRange() (net.IP, net.IP) {
	base := binary.BigEndian.Uint32(n.Block.IP.To4())
	ones, bits := n.Block.Mask.Size()
	size := uint32(1) << (bits - ones)
	return ipv4(base + 2), ipv4(base + size - 2)
}

func ipv4(v uint32) net.IP {
	ip := make(net.IP, 4)
	binary.BigEndian.PutUint32(ip, v)
	return ip
}
