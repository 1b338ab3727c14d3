package ipam

import (
	"encoding/binary"
	"net"
)

// FreeIPFromTop returns the last usable address of subnet that inUse does not
// hold: load balancers take theirs from the top, below the node groups' blocks,
// while Fargate pods take theirs from the bottom, so the two rarely meet.
func FreeIPFromTop(subnet *net.IPNet, inUse func(net.IP) bool) (net.IP, bool) {
	base := binary.BigEndian.Uint32(subnet.IP.To4())
	ones, bits := subnet.Mask.Size()
	size := uint32(1) << (bits - ones)
	for off := size - 2; off >= awsReservedLow && off < size; off-- { // the last is broadcast
		ip := make(net.IP, 4)
		binary.BigEndian.PutUint32(ip, base+off)
		if !inUse(ip) {
			return ip, true
		}
	}
	return nil, false
}
