package clusterconfig

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"net"
	"sort"

	"github.com/fargo-dev/fargo/internal/meter"
	"github.com/fargo-dev/fargo/internal/profile"
)

// Defaults for the cluster, as eksctl and EKS choose them where they have one.
const (
	DefaultName         = "fargo"
	DefaultRegion       = "local-1"
	DefaultVPCCIDR      = "192.168.0.0/16"
	DefaultServiceCIDR  = "10.100.0.0/16"
	DefaultInstanceType = "m5.large"
	// DefaultVersion is the Kubernetes version fargo embeds (major.minor).
	DefaultVersion = "1.37"
)

// DefaultNodeGroupName is the default group's name: eksctl's ng-<8 hex>, made
// from the cluster name so that every start names it the same.
func DefaultNodeGroupName(cluster string) string {
	sum := sha256.Sum256([]byte(cluster + "/nodegroup"))
	return "ng-" + hex.EncodeToString(sum[:4])
}

func (c *Cluster) setDefaults(l *errorList) {
	m := &c.Metadata
	if m.Name == "" {
		m.Name = DefaultName
	}
	if m.Region == "" {
		m.Region = DefaultRegion
	}
	if m.Version == "" {
		m.Version = DefaultVersion
	}
	lim := &c.Fargo.Limits
	for _, f := range []struct {
		v   *int
		def int
	}{
		{&lim.ProfilesPerCluster, profile.DefaultLimits.ProfilesPerCluster},
		{&lim.SelectorsPerProfile, profile.DefaultLimits.SelectorsPerProfile},
		{&lim.LabelsPerSelector, profile.DefaultLimits.LabelsPerSelector},
	} {
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	c.Fargo.Prices = c.Fargo.Prices.WithDefaults()
	mt := &c.Fargo.Metering
	if mt.Stop == "" {
		mt.Stop = string(meter.StopContainers)
	}
	if mt.Interval == "" {
		mt.Interval = meter.DefaultInterval.String()
	}
	if mt.Retention == "" {
		mt.Retention = meter.DefaultRetention.String()
	}
	c.defaultVPC(l)
	if c.KubernetesNetworkConfig.ServiceIPv4CIDR == "" {
		c.KubernetesNetworkConfig.ServiceIPv4CIDR = DefaultServiceCIDR
	}
	for i := range c.ManagedNodeGroups {
		ng := &c.ManagedNodeGroups[i]
		if ng.InstanceType == "" && len(ng.InstanceTypes) == 0 {
			ng.InstanceType = DefaultInstanceType
		}
		DefaultSizes(ng)
	}
}

// DefaultSizes applies eksctl's rule: desired defaults to 2, min and max to desired.
func DefaultSizes(ng *ManagedNodeGroup) {
	if ng.DesiredCapacity == nil {
		d := 2
		switch {
		case ng.MinSize != nil:
			d = *ng.MinSize
		case ng.MaxSize != nil && *ng.MaxSize < d:
			d = *ng.MaxSize
		}
		ng.DesiredCapacity = &d
	}
	if ng.MinSize == nil {
		v := *ng.DesiredCapacity
		ng.MinSize = &v
	}
	if ng.MaxSize == nil {
		v := *ng.DesiredCapacity
		ng.MaxSize = &v
	}
}

func (c *Cluster) defaultVPC(l *errorList) {
	v := &c.VPC
	if len(v.Subnets.Private) == 0 && len(v.Subnets.Public) == 0 {
		if v.CIDR == "" {
			v.CIDR = DefaultVPCCIDR
		}
		_, vpc, err := net.ParseCIDR(v.CIDR)
		if err != nil || vpc.IP.To4() == nil {
			l.add(fieldPath{"vpc", "cidr"}, "%q is not an IPv4 CIDR such as %s", v.CIDR, DefaultVPCCIDR)
			return
		}
		c.defaultSubnets(vpc)
	}
	for _, kind := range []string{"private", "public"} {
		subnets := v.Subnets.Private
		if kind == "public" {
			subnets = v.Subnets.Public
		}
		for key, s := range subnets {
			if s.AZ == "" {
				s.AZ = key
			}
			if s.ID == "" {
				s.ID = subnetID(c.Metadata.Name, kind, key, s.CIDR)
			}
			subnets[key] = s
		}
	}
	if v.CIDR == "" {
		if cover := coveringNet(c.allSubnetNets()); cover != nil {
			v.CIDR = cover.String()
		}
	}
}

// defaultSubnets lays out eksctl's default: per zone one public then one private
// subnet, each an eighth of the VPC.
func (c *Cluster) defaultSubnets(vpc *net.IPNet) {
	zones := c.AvailabilityZones
	if len(zones) == 0 {
		zones = []string{c.Metadata.Region + "a", c.Metadata.Region + "b"}
	}
	ones, bits := vpc.Mask.Size()
	size := ones + 3
	if size > 28 {
		size = 28
	}
	c.VPC.Subnets.Public = map[string]Subnet{}
	c.VPC.Subnets.Private = map[string]Subnet{}
	for i, z := range zones {
		c.VPC.Subnets.Public[z] = Subnet{CIDR: nthSubnet(vpc, size, bits, i).String()}
		c.VPC.Subnets.Private[z] = Subnet{CIDR: nthSubnet(vpc, size, bits, len(zones)+i).String()}
	}
}

func nthSubnet(vpc *net.IPNet, ones, bits, n int) *net.IPNet {
	base := binary.BigEndian.Uint32(vpc.IP.To4())
	ip := make(net.IP, 4)
	binary.BigEndian.PutUint32(ip, base+uint32(n)<<(bits-ones))
	return &net.IPNet{IP: ip, Mask: net.CIDRMask(ones, bits)}
}

// subnetID makes a stable AWS-shaped id for a subnet that was given none.
func subnetID(cluster, kind, key, cidr string) string {
	sum := sha256.Sum256([]byte(cluster + "/" + kind + "/" + key + "/" + cidr))
	return "subnet-" + hex.EncodeToString(sum[:])[:17]
}

// coveringNet is the smallest IPv4 prefix that contains every net in nets.
func coveringNet(nets []*net.IPNet) *net.IPNet {
	if len(nets) == 0 {
		return nil
	}
	lo, hi := uint32(0xffffffff), uint32(0)
	for _, n := range nets {
		first := binary.BigEndian.Uint32(n.IP.To4())
		ones, bits := n.Mask.Size()
		last := first | (1<<(bits-ones) - 1)
		lo, hi = min(lo, first), max(hi, last)
	}
	ones := 32
	for ones > 0 && lo>>(32-ones) != hi>>(32-ones) {
		ones--
	}
	ip := make(net.IP, 4)
	binary.BigEndian.PutUint32(ip, lo&^(1<<(32-ones)-1))
	if ones == 0 {
		ip = net.IPv4zero.To4()
	}
	return &net.IPNet{IP: ip, Mask: net.CIDRMask(ones, 32)}
}

// allSubnetNets parses every subnet CIDR that is valid, in a stable order.
func (c *Cluster) allSubnetNets() []*net.IPNet {
	var out []*net.IPNet
	for _, s := range c.Subnets() {
		if _, n, err := net.ParseCIDR(s.CIDR); err == nil && n.IP.To4() != nil {
			out = append(out, n)
		}
	}
	return out
}

// SubnetRef is a subnet with its kind and the key it was configured under.
type SubnetRef struct {
	Subnet
	Key     string
	Private bool
}

// Subnets lists all subnets, private first, each sorted by key.
func (c *Cluster) Subnets() []SubnetRef {
	var out []SubnetRef
	for _, private := range []bool{true, false} {
		m := c.VPC.Subnets.Public
		if private {
			m = c.VPC.Subnets.Private
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			out = append(out, SubnetRef{Subnet: m[k], Key: k, Private: private})
		}
	}
	return out
}

// PrivateSubnets are the subnets Fargate pods may use.
func (c *Cluster) PrivateSubnets() []SubnetRef {
	var out []SubnetRef
	for _, s := range c.Subnets() {
		if s.Private {
			out = append(out, s)
		}
	}
	return out
}

// NodeGroupSubnets are the subnets a node group's nodes go in: its own list, or
// else the private subnets with privateNetworking (the public ones otherwise, as
// eksctl), or else any the VPC has.
func (c *Cluster) NodeGroupSubnets(ng ManagedNodeGroup) []SubnetRef {
	var out []SubnetRef
	for _, s := range ng.Subnets {
		if ref := c.subnet(s); ref != nil {
			out = append(out, *ref)
		}
	}
	if len(out) > 0 {
		return out
	}
	for _, s := range c.Subnets() {
		if s.Private == ng.PrivateNetworking {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		out = c.Subnets()
	}
	return out
}
