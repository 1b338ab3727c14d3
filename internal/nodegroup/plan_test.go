package nodegroup

import (
	"github.com/fargo-dev/fargo/internal/instancetype"
	"net"
	"testing"
)

func cidr(s string) *net.IPNet {
	_, n, _ := net.ParseCIDR(s)
	return n
}

func TestNodesTakeTheirSharesFromTheTopOfTheSubnet(t *testing.T) {
	xl, _ := instancetype.Lookup("t3.xlarge")
	g := Group{Name: "managed-ng", InstanceType: "t3.xlarge", Desired: 3, Subnets: []Subnet{
		{ID: "subnet-a", Zone: "ap-southeast-1a", Net: cidr("192.168.96.0/19")},
		{ID: "subnet-b", Zone: "ap-southeast-1b", Net: cidr("192.168.128.0/19")},
	}}
	specs, err := plan(g, "ap-southeast-1", xl, 3, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ ip, block, zone string }{
		{"192.168.127.193", "192.168.127.192/26", "ap-southeast-1a"},
		{"192.168.159.193", "192.168.159.192/26", "ap-southeast-1b"},
		{"192.168.127.129", "192.168.127.128/26", "ap-southeast-1a"},
	}
	for i, w := range want {
		s := specs[i]
		if s.IP.String() != w.ip || s.Block.String() != w.block || s.Zone != w.zone {
			t.Errorf("node %d: %s in %s (%s); want %s in %s (%s)", i, s.IP, s.Block, s.Zone, w.ip, w.block, w.zone)
		}
	}
	if specs[0].Name != "ip-192-168-127-193.ap-southeast-1.compute.internal" {
		t.Errorf("name %s", specs[0].Name)
	}

	// One more, with the first three kept: the next free block, in the subnet
	// with fewer nodes.
	var held []*net.IPNet
	for _, s := range specs {
		held = append(held, s.Block)
	}
	more, err := plan(g, "ap-southeast-1", xl, 1, specs, held)
	if err != nil || more[0].Block.String() != "192.168.159.128/26" {
		t.Fatalf("fourth node: %+v, %v; want 192.168.159.128/26", more, err)
	}
}

func TestPlanSaysWhenTheSubnetsAreFull(t *testing.T) {
	xl, _ := instancetype.Lookup("t3.xlarge")
	g := Group{Name: "tiny", InstanceType: "t3.xlarge", Subnets: []Subnet{{ID: "subnet-t", Net: cidr("10.0.0.0/26")}}}
	if _, err := plan(g, "r", xl, 1, nil, nil); err == nil {
		t.Fatal("a 64-address node placed in a /26 whose first addresses are reserved")
	}
	if _, ok := freeBlock(cidr("10.0.0.0/24"), 64, nil); !ok {
		t.Fatal("no block in a /24")
	}
}

func TestRecordsBringTheSameNodesBack(t *testing.T) {
	dir := t.TempDir()
	s := *testSpec(t)
	if err := ensureDir(dir + "/nodes/" + s.IP.String()); err != nil {
		t.Fatal(err)
	}
	if err := saveRecord(dir+"/nodes/"+s.IP.String(), &s); err != nil {
		t.Fatal(err)
	}
	got, err := loadRecords(dir + "/nodes")
	if err != nil || len(got) != 1 {
		t.Fatalf("loaded %v, %v", got, err)
	}
	g := got[0]
	if g.Name != s.Name || !g.IP.Equal(s.IP) || g.Block.String() != s.Block.String() || g.Type != s.Type || g.Taints[0] != s.Taints[0] || g.Labels["Name"] != "managed-ng" {
		t.Errorf("loaded %+v; want %+v", g, s)
	}
	m := &Manager{specs: got}
	if !m.Reserved(net.ParseIP("192.168.127.200")) || m.Reserved(net.ParseIP("192.168.96.10")) {
		t.Error("Reserved does not follow the node's block")
	}
}
