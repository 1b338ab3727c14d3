//go:build integration

package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/fargo-dev/fargo/test/harness"
)

// A cluster with neither a node group nor a profile for CoreDNS still gets
// EKS's cluster DNS objects, and the server says, in its output and in an
// event on the Deployment, that CoreDNS has nowhere to run and what fixes it.
func TestClusterDNSWithNoNodeSaysSo(t *testing.T) {
	s := harness.StartServerWith(t, harness.Without(harness.ServerArgs(t, t.TempDir()), "--without-dns"))
	fix := "to fix: fargo create nodegroup --cluster fargo --name ng-1 --nodes 2"
	if out := s.Output(); !strings.Contains(out, "note: CoreDNS has no node to run on (the cluster has no node group and no Fargate profile selects it)") || !strings.Contains(out, fix) {
		t.Errorf("start-up output does not say CoreDNS cannot run, with the fix:\n%s", out)
	}
	if ip := s.Kubectl("get", "service", "kube-dns", "-n", "kube-system", "-o", "jsonpath={.spec.clusterIP}"); ip != "10.100.0.10" {
		t.Errorf("kube-dns at %q, want 10.100.0.10", ip)
	}
	if cm := s.Kubectl("get", "configmap", "coredns", "-n", "kube-system", "-o", "jsonpath={.data.Corefile}"); !strings.Contains(cm, "kubernetes cluster.local in-addr.arpa ip6.arpa") {
		t.Errorf("Corefile:\n%s", cm)
	}
	if a := s.Kubectl("get", "deployment", "coredns", "-n", "kube-system", "-o", `jsonpath={.spec.template.metadata.annotations.eks\.amazonaws\.com/compute-type} {.spec.template.spec.containers[0].image}`); !strings.HasPrefix(a, "ec2 fargo.local/coredns:") {
		t.Errorf("coredns Deployment annotation and image: %q", a)
	}
	harness.Eventually(t, 10*time.Second, "the NoNodeForCoreDNS event", func() bool {
		out, _ := s.TryKubectl("get", "events", "-n", "kube-system", "--field-selector", "reason=NoNodeForCoreDNS", "-o", "jsonpath={.items[*].message}")
		return strings.Contains(out, fix)
	})
}
