//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/fargo-dev/fargo/test/harness"
	"github.com/fargo-dev/fargo/test/images"
)

// What a Fargate pod sees is what it pays for: inside a pod provisioned
// 1vCPU 2GB, free -m reports 2048 MiB in all (LXCFS's /proc/meminfo, the
// sandbox's memory limit), and nproc, /proc/cpuinfo and the online CPUs say 1
// (the sandbox's cpuset), on a machine with more of both.
func TestPodSeesItsSize(t *testing.T) {
	harness.RequireRoot(t)
	img, err := images.Busybox()
	ref := images.Serve(t, "busybox", img, err)
	dataDir, _ := harness.ClusterDir(t, "fargo-size-", "")
	s := harness.StartServerWith(t, append(harness.ServerArgs(t, dataDir), "--runtime", "containerd", "--host-name", "size"))
	s.CreateManifest(`{"apiVersion":"fargo.dev/v1alpha1","kind":"FargateProfile","metadata":{"name":"apps"},"spec":{"selectors":[{"namespace":"apps"}]}}`)
	s.Kubectl("create", "namespace", "apps")
	harness.Eventually(t, 30*time.Second, "service account", func() bool {
		_, err := s.TryKubectl("get", "sa", "default", "-n", "apps")
		return err == nil
	})
	s.CreateManifest(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"sized","namespace":"apps"},
"spec":{"terminationGracePeriodSeconds":1,"containers":[{"name":"main","image":"` + ref + `","command":["sleep","3600"],
"resources":{"requests":{"cpu":"1","memory":"1Gi"}}}]}}`)
	harness.Eventually(t, 2*time.Minute, "the pod Running", func() bool {
		out, _ := s.TryKubectl("get", "pod", "sized", "-n", "apps", "-o", "jsonpath={.status.phase}")
		return out == "Running"
	})
	if got := s.Kubectl("get", "pod", "sized", "-n", "apps", "-o", `jsonpath={.metadata.annotations.CapacityProvisioned}`); got != "1vCPU 2GB" {
		t.Fatalf("CapacityProvisioned %q, want 1vCPU 2GB", got)
	}
	exec := func(cmd ...string) string {
		out, err := s.TryKubectl(append([]string{"exec", "-n", "apps", "sized", "--"}, cmd...)...)
		if err != nil {
			t.Errorf("kubectl exec %v: %v: %s", cmd, err, out)
		}
		return out
	}
	free := exec("free", "-m")
	if f := strings.Fields(lineWith(free, "Mem:")); len(f) < 2 || f[1] != "2048" {
		t.Errorf("free -m in a 1vCPU 2GB pod:\n%s\nwant 2048 MiB in all", free)
	}
	for cmd, want := range map[string]string{
		"nproc":                              "1",
		"grep -c ^processor /proc/cpuinfo":   "1",
		"cat /sys/devices/system/cpu/online": "0",
		"grep -c ^cpu[0-9] /proc/stat":       "1",
	} {
		if got := strings.TrimSpace(exec("sh", "-c", cmd)); got != want {
			t.Errorf("%s in a 1vCPU pod: %q, want %q", cmd, got, want)
		}
	}
}

// lineWith is the first line of s containing sub.
func lineWith(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}
