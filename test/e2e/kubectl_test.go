//go:build e2e

package e2e

import (
	"strings"
	"testing"

	"github.com/fargo-dev/fargo/test/harness"
)

// checkLogsAndExec runs kubectl logs and exec against a running busybox pod: the
// apiserver reaches the Fargate node's kubelet API through fargo's egress proxy.
func checkLogsAndExec(t *testing.T, s *harness.Server, pod, wantLog string) {
	if out, err := s.TryKubectl("logs", "-n", "apps", pod); err != nil || !strings.Contains(out, wantLog) {
		t.Errorf("kubectl logs %s: %v\n%s\nwant %q", pod, err, out, wantLog)
	}
	if out, err := s.TryKubectl("logs", "-n", "apps", pod, "--tail=1"); err != nil || strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Errorf("kubectl logs --tail=1 %s: %v\n%q, want one line", pod, err, out)
	}
	out, err := s.TryKubectl("exec", "-n", "apps", pod, "--", "sh", "-c", "echo $((6*7)); hostname; exit 3")
	if err == nil || !strings.Contains(out, "42\n"+pod) || !strings.Contains(out, "exit code 3") {
		t.Errorf("kubectl exec: %v\n%s\nwant 42, the pod's hostname and exit code 3", err, out)
	}
	if out, err := s.KubectlStdin("through stdin", "exec", "-i", "-n", "apps", pod, "--", "cat"); err != nil || out != "through stdin" {
		t.Errorf("kubectl exec -i cat: %v, %q; want the input back", err, out)
	}
	// The seed logs into a Fargate pod's shell and runs free -m.
	if out, err := s.TryKubectl("exec", "-n", "apps", pod, "--", "free", "-m"); err != nil || !strings.Contains(out, "Mem:") {
		t.Errorf("kubectl exec free -m: %v\n%s", err, out)
	}
}
