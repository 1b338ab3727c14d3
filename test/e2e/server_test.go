//go:build e2e

// Package e2e holds black-box tests that run as root against a real `fargo server`
// the way a user runs it. Later tiers add containerd, sandboxes and networks.
package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fargo-dev/fargo/test/harness"
)

// The seed walkthrough's cluster config brings up a cluster that the embedded
// kubectl reaches with no flags, through FARGO_DATA_DIR.
func TestSeedClusterWithEmbeddedKubectl(t *testing.T) {
	harness.RequireRoot(t)
	cfg := filepath.Join(harness.Root(), "examples", "eks-private-subnet.yaml")
	s := harness.StartServer(t, "--config", cfg)

	cmd := exec.Command(harness.Bin(t, "fargo"), "kubectl", "get", "ns", "-o", "name")
	cmd.Env = append(os.Environ(), "FARGO_DATA_DIR="+s.DataDir, "KUBECONFIG=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("fargo kubectl get ns: %v\n%s", err, out)
	}
	for _, ns := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
		if !strings.Contains(string(out), "namespace/"+ns) {
			t.Errorf("fargo kubectl did not list %s:\n%s", ns, out)
		}
	}
	if ctx := s.Kubectl("config", "current-context"); strings.TrimSpace(ctx) != "eksworkshop" {
		t.Errorf("context = %q", ctx)
	}
	// kubectl through a link named kubectl, as users install it.
	link := filepath.Join(t.TempDir(), "kubectl")
	if err := os.Symlink(harness.Bin(t, "fargo"), link); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(link, "--kubeconfig", s.Kubeconfig(), "version", "-o", "json").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"gitVersion": "v1.37`) {
		t.Errorf("kubectl version through the link: %v\n%s", err, out)
	}
}
