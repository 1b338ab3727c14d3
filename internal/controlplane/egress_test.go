package controlplane

import (
	"strings"
	"testing"
)

func TestEgressSocketFitsUnixPath(t *testing.T) {
	short := (&Config{DataDir: "/var/lib/fargo"}).egressSocket()
	if short != "/var/lib/fargo/egress.sock" {
		t.Errorf("socket for a short data dir: %s", short)
	}
	long := &Config{DataDir: "/" + strings.Repeat("d", 120)}
	other := &Config{DataDir: "/" + strings.Repeat("e", 120)}
	if p := long.egressSocket(); len(p) >= 108 || p == other.egressSocket() {
		t.Errorf("socket for a long data dir: %s (%d bytes), want a short one of its own", p, len(p))
	}
}
