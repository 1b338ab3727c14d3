package clusterconfig

import (
	"strings"
	"testing"
)

// FuzzParse: any document loads or is refused with at most maxErrors located
// problems (plus the count of the rest); none panics.
func FuzzParse(f *testing.F) {
	f.Add([]byte(header + "fargateProfiles:\n  - name: fp\n    selectors: [{namespace: a}]\n"))
	f.Add([]byte(header + "managedNodeGroups:\n  - &a { name: ng, bogus: 1 }\n  - *a\n"))
	f.Add([]byte("apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\nvpc: {cidr: 10.0.0.0/16, subnets: {private: {a: {cidr: 10.0.0.0/24}}}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("f.yaml", data, Overrides{})
		if err == nil {
			if c.VPCNet == nil || c.ServiceNet == nil || len(c.PrivateSubnets()) == 0 {
				t.Fatalf("accepted without a VPC, service range or private subnet:\n%s", data)
			}
			return
		}
		if n := strings.Count(err.Error(), "\nf.yaml:"); n > maxErrors {
			t.Fatalf("%d located errors, want at most %d", n, maxErrors)
		}
	})
}
