package fargate

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/fargo-dev/fargo/internal/runtime"
)

// The kubelet API of one node answers for that node's pod only.
func TestSandboxOfPodOnlyOnItsNode(t *testing.T) {
	sb, pod := objects()
	s := newSuite(t, sb, pod)
	ctx := context.Background()
	got, err := s.r.SandboxOfPod(ctx, net.ParseIP("192.168.1.5"), "apps", "web")
	if err != nil || got != sb.Name {
		t.Fatalf("through its own node: %q, %v; want %s", got, err, sb.Name)
	}
	for _, ip := range []net.IP{net.ParseIP("192.168.1.6"), nil} {
		if _, err := s.r.SandboxOfPod(ctx, ip, "apps", "web"); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("through node %v: %v, want ErrNotFound", ip, err)
		}
	}
}
