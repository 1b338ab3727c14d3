package network

import (
	"net"
	"testing"
)

func TestFreeIP(t *testing.T) {
	_, subnet, _ := net.ParseCIDR("10.0.1.0/28")
	used := map[string]bool{}
	var got []string
	for {
		ip, ok := FreeIP(subnet, func(ip net.IP) bool { return used[ip.String()] })
		if !ok {
			break
		}
		used[ip.String()] = true
		got = append(got, ip.String())
	}
	if len(got) != Usable(subnet) || got[0] != "10.0.1.4" || got[len(got)-1] != "10.0.1.14" {
		t.Errorf("handed out %v (usable %d), want 10.0.1.4 … 10.0.1.14", got, Usable(subnet))
	}
	if n := NodeName(net.ParseIP("10.0.1.4"), "local-1"); n != "fargate-ip-10-0-1-4.local-1.compute.internal" {
		t.Errorf("node name %s", n)
	}
}

func TestSandboxOfNode(t *testing.T) {
	ip := net.ParseIP("192.168.1.7")
	if got, ok := SandboxOfNode(NodeName(ip, "local-1")); !ok || got != SandboxName(ip) {
		t.Errorf("SandboxOfNode(NodeName) = %q, %v; want %q", got, ok, SandboxName(ip))
	}
	for _, n := range []string{"big", "ip-10-0-0-1.ec2.internal", "fargate-x.local-1.compute.internal"} {
		if got, ok := SandboxOfNode(n); ok {
			t.Errorf("SandboxOfNode(%q) = %q, want none", n, got)
		}
	}
}
