//go:build integration

package integration

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/fargo-dev/fargo/test/harness"
)

// placementServer starts a server with two test hosts of room for two 0.25 vCPU
// sandboxes each, and a profile for namespace "p".
func placementServer(t *testing.T, extra ...string) *harness.Server {
	s := harness.StartServer(t, extra...)
	for _, h := range []string{"host-a", "host-b"} {
		s.RunTestHostWith(harness.TestHost{Name: h, MilliCPU: 500, MemoryMiB: 4096})
	}
	createJSON(t, s, profileJSON("p", `{"selectors":[{"namespace":"p"}]}`))
	waitProfile(t, s, "p", "ACTIVE")
	s.Kubectl("create", "namespace", "p")
	waitFor(t, "service account", func() bool { _, err := s.TryKubectl("get", "sa", "default", "-n", "p"); return err == nil })
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(s.Kubectl("get", "pods,sandboxes,hosts", "-A", "-o", "wide"))
			t.Log(s.Kubectl("get", "events", "-n", "p"))
		}
	})
	return s
}

// hostOf runs a pod in namespace p and returns the host its sandbox was placed on.
func hostOf(t *testing.T, s *harness.Server, pod string) string {
	t.Helper()
	s.Kubectl("run", pod, "-n", "p", "--image=x")
	harness.Eventually(t, 30*time.Second, pod+" bound", func() bool {
		out, _ := s.TryKubectl("get", "pod", "-n", "p", pod, "-o", "jsonpath={.spec.nodeName}")
		return out != ""
	})
	uid := s.Kubectl("get", "pod", "-n", "p", pod, "-o", "jsonpath={.metadata.uid}")
	return s.Kubectl("get", "sandbox", "-l", "fargo.dev/pod-uid="+uid, "-o", "jsonpath={.items[0].spec.host}")
}

// Spread (the default) alternates hosts; a full cluster leaves the pod Pending with
// an event naming each host's state, and released room schedules it at once.
func TestPlacementSpreadAndWaitForRoom(t *testing.T) {
	s := placementServer(t)
	a, b := hostOf(t, s, "p1"), hostOf(t, s, "p2")
	if a == b || a == "" || b == "" {
		t.Errorf("spread put p1 on %q and p2 on %q; want different hosts", a, b)
	}
	hostOf(t, s, "p3")
	hostOf(t, s, "p4")
	s.Kubectl("run", "p5", "-n", "p", "--image=x")
	want := "no host has room for 0.25vCPU 0.5GB: 0/2 hosts fit: host-a: 0 vCPU and 3072 MiB free; host-b: 0 vCPU and 3072 MiB free"
	harness.Eventually(t, 30*time.Second, "no-room event for p5", func() bool {
		return strings.Contains(eventMessages(t, s, "p", "p5", "FailedScheduling"), want)
	})
	if out := s.Kubectl("get", "pod", "-n", "p", "p5", "-o", "jsonpath={.spec.nodeName}"); out != "" {
		t.Fatalf("p5 bound to %s with no room", out)
	}
	s.Kubectl("delete", "pod", "-n", "p", "p1", "--grace-period=0", "--force") // no kubelet here to finish a graceful delete
	// The release wakes p5 without waiting out its back-off.
	harness.Eventually(t, 15*time.Second, "p5 bound after p1 released", func() bool {
		out, _ := s.TryKubectl("get", "pod", "-n", "p", "p5", "-o", "jsonpath={.spec.nodeName}")
		return out != ""
	})
}

// Binpack fills one host before the next.
func TestPlacementBinPack(t *testing.T) {
	s := placementServer(t, "--placement", "binpack")
	if a, b := hostOf(t, s, "p1"), hostOf(t, s, "p2"); a != b || a == "" {
		t.Errorf("binpack put p1 on %q and p2 on %q; want the same host", a, b)
	}
	if out, err := exec.Command(harness.Bin(t, "fargo"), "server", "--placement", "tight").CombinedOutput(); err == nil || !strings.Contains(string(out), `--placement: unknown placement "tight": use "spread" or "binpack"`) {
		t.Errorf("bad --placement: %v\n%s", err, out)
	}
}
