package ipam

import (
	"net"
	"testing"
)

func TestFreeIP(t *testing.T) {
	_, subnet, _ := net.ParseCIDR("10.0.1.0/28")
	claims := Claims{}
	var got []string
	for {
		ip, ok := FreeIP(subnet, claims.Held)
		if !ok {
			break
		}
		if err := claims.Add(Claim{IP: ip.String(), Subnet: "s1", Owner: Owner{"Sandbox", ip.String()}}); err != nil {
			t.Fatal(err)
		}
		got = append(got, ip.String())
	}
	if len(got) != Usable(subnet) || got[0] != "10.0.1.4" || got[len(got)-1] != "10.0.1.14" {
		t.Errorf("handed out %v (usable %d), want 10.0.1.4 … 10.0.1.14", got, Usable(subnet))
	}
	if n := claims.PerSubnet()["s1"]; n != Usable(subnet) {
		t.Errorf("PerSubnet = %d, want %d", n, Usable(subnet))
	}
	if r := Router(subnet); r.String() != "10.0.1.1" {
		t.Errorf("Router = %s, want 10.0.1.1", r)
	}
}

func TestClaimsRefuseASecondOwner(t *testing.T) {
	cs := Claims{}
	a := Claim{IP: "10.0.1.4", Subnet: "s1", Owner: Owner{"Sandbox", "a"}}
	if err := cs.Add(a); err != nil {
		t.Fatal(err)
	}
	if err := cs.Add(a); err != nil {
		t.Errorf("re-adding the same claim: %v", err)
	}
	if err := cs.Add(Claim{IP: "10.0.1.4", Subnet: "s1", Owner: Owner{"Sandbox", "b"}}); err == nil {
		t.Error("a second owner of 10.0.1.4 was accepted")
	}
}
