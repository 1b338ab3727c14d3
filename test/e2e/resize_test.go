//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/fargo-dev/fargo/test/harness"
)

// checkResize: a Fargate pod's container has its own cgroup limits, seen from
// inside it, within the provisioned size; `kubectl patch --subresource
// resize` changes them in place (no restart) and the status follows; a
// resize whose requests pass the provisioned size is refused.
func checkResize(t *testing.T, s *harness.Server, image string) {
	t.Helper()
	s.CreateManifest(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"resize","namespace":"apps"},"spec":{"terminationGracePeriodSeconds":1,
		"containers":[{"name":"c","image":"` + image + `","command":["sleep","3600"],
		"resources":{"requests":{"cpu":"100m","memory":"64Mi"},"limits":{"cpu":"200m","memory":"128Mi"}}}]}}`)
	harness.Eventually(t, 60*time.Second, "resize pod running", func() bool {
		return jsonpath(s, "{.status.containerStatuses[0].ready}", "get", "pod", "-n", "apps", "resize") == "true"
	})
	cgroup := func() string {
		out, err := s.TryKubectl("exec", "-n", "apps", "resize", "--", "cat", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
		if err != nil {
			t.Fatalf("reading the container's cgroup: %v %s", err, out)
		}
		return strings.Join(strings.Fields(out), " ")
	}
	if got := cgroup(); got != "20000 134217728" {
		t.Errorf("container's CPU quota and memory limit %q; want 20000 (200m) 134217728 (128Mi)", got)
	}
	id := jsonpath(s, "{.status.containerStatuses[0].containerID}", "get", "pod", "-n", "apps", "resize")
	s.Kubectl("patch", "pod", "resize", "-n", "apps", "--subresource", "resize", "--patch",
		`{"spec":{"containers":[{"name":"c","resources":{"requests":{"cpu":"150m"},"limits":{"cpu":"1","memory":"192Mi"}}}]}}`)
	harness.Eventually(t, 20*time.Second, "the resize in the status", func() bool {
		return jsonpath(s, "{.status.containerStatuses[0].resources.limits.memory}", "get", "pod", "-n", "apps", "resize") == "192Mi"
	})
	if got := cgroup(); got != "25000 201326592" {
		t.Errorf("after the resize: %q; want 25000 (the limit of 1 CPU within the 0.25 vCPU provisioned) 201326592 (192Mi)", got)
	}
	if got := jsonpath(s, "{.status.containerStatuses[0].containerID} {.status.containerStatuses[0].restartCount} {.status.containerStatuses[0].allocatedResources.cpu}",
		"get", "pod", "-n", "apps", "resize"); got != id+" 0 150m" {
		t.Errorf("container, restarts, allocated CPU after the resize: %q; want %s 0 150m", got, id)
	}
	// 1 vCPU does not fit the 0.25 vCPU provisioned: the API server checks
	// the node's allocatable (the provisioned size) itself.
	out, err := s.TryKubectl("patch", "pod", "resize", "-n", "apps", "--subresource", "resize", "--patch",
		`{"spec":{"containers":[{"name":"c","resources":{"requests":{"cpu":"1"}}}]}}`)
	if err == nil || !strings.Contains(out, "cpu, requested: 1000, allocatable: 250") {
		t.Errorf("resize past the provisioned size: %v %q; want it refused, naming the 250m allocatable", err, out)
	}
	if got := cgroup(); got != "25000 201326592" {
		t.Errorf("after a refused resize: %q; want 25000 201326592 unchanged", got)
	}
	s.Kubectl("delete", "pod", "resize", "-n", "apps", "--wait=false")
}
