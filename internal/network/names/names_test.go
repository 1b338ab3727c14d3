package names

import (
	"net"
	"testing"
)

func TestNames(t *testing.T) {
	ip := net.ParseIP("10.0.1.4")
	if n := NodeName(ip, "local-1"); n != "fargate-ip-10-0-1-4.local-1.compute.internal" {
		t.Errorf("node name %s", n)
	}
	if h := NodeHostname(NodeName(ip, "local-1")); h != Hostname(ip, "local-1") || h != "ip-10-0-1-4.local-1.compute.internal" {
		t.Errorf("hostname %s", h)
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
