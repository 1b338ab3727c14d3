// Package instancetype is the table of EC2 instance types fargo's node groups
// know: the vCPU, memory and pod limit each gives a node.
package instancetype

import (
	"fmt"
	"sort"
	"strings"
)

// Type is what an EC2 instance type gives a node.
type Type struct {
	VCPU      int
	MemoryMiB int64
	// MaxPods is EKS's limit for the type with the VPC CNI (eni-max-pods.txt):
	// ENIs × (IPv4 addresses per ENI − 1) + 2.
	MaxPods int
}

// types are the common general-purpose, compute and memory types.
var types = map[string]Type{
	"t3.micro":   {2, 1024, 4},
	"t3.small":   {2, 2048, 11},
	"t3.medium":  {2, 4096, 17},
	"t3.large":   {2, 8192, 35},
	"t3.xlarge":  {4, 16384, 58},
	"t3.2xlarge": {8, 32768, 58},
	"m5.large":   {2, 8192, 29},
	"m5.xlarge":  {4, 16384, 58},
	"m5.2xlarge": {8, 32768, 58},
	"m5.4xlarge": {16, 65536, 234},
	"c5.large":   {2, 4096, 29},
	"c5.xlarge":  {4, 8192, 58},
	"c5.2xlarge": {8, 16384, 58},
	"c5.4xlarge": {16, 32768, 234},
	"r5.large":   {2, 16384, 29},
	"r5.xlarge":  {4, 32768, 58},
	"r5.2xlarge": {8, 65536, 58},
	"r5.4xlarge": {16, 131072, 234},
}

// Names are the known types, sorted.
func Names() []string {
	known := make([]string, 0, len(types))
	for n := range types {
		known = append(known, n)
	}
	sort.Strings(known)
	return known
}

// Lookup returns the type's size, or an error listing the known ones.
func Lookup(name string) (Type, error) {
	if t, ok := types[name]; ok {
		return t, nil
	}
	return Type{}, fmt.Errorf("unknown instance type %q; fargo knows %s", name, strings.Join(Names(), ", "))
}

// BlockSize is how many addresses of the subnet a node of this type holds: its
// own and its pods', rounded up to a power of two so the share is one CIDR block.
func (t Type) BlockSize() int {
	n := 4
	for n < t.MaxPods+2 {
		n *= 2
	}
	return n
}
