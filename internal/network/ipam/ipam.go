// Package ipam is the VPC's address plan, pure so the scheduler can use it
// without linking any dataplane code: which addresses of a subnet may be handed
// out, the subnet's router, and the addresses already claimed and by whom.
package ipam

import (
	"encoding/binary"
	"fmt"
	"net"
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

// Usable is how many addresses of subnet can be handed out.
func Usable(subnet *net.IPNet) int {
	ones, bits := subnet.Mask.Size()
	return 1<<(bits-ones) - awsReservedLow - 1
}

// Router is the subnet's router address (its base + 1, as in an AWS VPC): the
// gateway every address of the subnet routes through.
func Router(subnet *net.IPNet) net.IP {
	ip := make(net.IP, 4)
	binary.BigEndian.PutUint32(ip, binary.BigEndian.Uint32(subnet.IP.To4())+1)
	return ip
}

// Owner is what holds an address: a Sandbox today; node-group pods and load
// balancers later.
type Owner struct {
	Kind, Name string
}

func (o Owner) String() string { return o.Kind + " " + o.Name }

// Claim is one address held by its owner, in a subnet.
type Claim struct {
	IP     string
	Subnet string
	Owner  Owner
}

// Claims are the addresses in use, by IP.
type Claims map[string]Claim

// Add records c; an address already held by another owner is an error.
func (cs Claims) Add(c Claim) error {
	if held, ok := cs[c.IP]; ok && held.Owner != c.Owner {
		return fmt.Errorf("address %s is held by %s, not %s", c.IP, held.Owner, c.Owner)
	}
	cs[c.IP] = c
	return nil
}

// Held reports whether ip is claimed.
func (cs Claims) Held(ip net.IP) bool {
	_, ok := cs[ip.String()]
	return ok
}

// PerSubnet counts the claims in each subnet.
func (cs Claims) PerSubnet() map[string]int {
	out := map[string]int{}
	for _, c := range cs {
		out[c.Subnet]++
	}
	return out
}
