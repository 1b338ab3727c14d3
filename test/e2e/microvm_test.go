//go:build e2e && microvm

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fargo-dev/fargo/test/harness"
	"github.com/fargo-dev/fargo/test/images"
)

// The seed's test2-fargate on --runtime microvm: each pod a VM with its own
// kernel (TCG here), the provisioned size, nginx answering on the pod IP,
// kubectl exec and logs through the guest; a server restart keeps the VMs;
// deleting the pods stops them.
func TestMicroVMPods(t *testing.T) {
	harness.RequireRoot(t)
	img, err := images.Busybox()
	ref := images.Serve(t, "busybox", img, err)
	img, err = images.Nginx(filepath.Join(harness.Root(), "bin", "image-cache", "nginx"))
	nginx := images.Serve(t, "nginx", img, err)
	s, dataDir, args := startVMServer(t, "microvm", "e2evm", map[string]string{"apps": ""})
	start := time.Now()
	s.Kubectl("create", "deployment", "test2-fargate", "-n", "apps", "--image="+nginx, "--replicas=2")
	// A 1 vCPU 2 GB pod beside them: busybox, for uname and free.
	s.CreateManifest(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"shell","namespace":"apps"},"spec":{"containers":[{"name":"sh","image":"` + ref + `","command":["sleep","3600"],"resources":{"requests":{"cpu":"1","memory":"1536Mi"}}}]}}`)
	harness.Eventually(t, 5*time.Minute, "2/2 ready and the shell running", func() bool {
		return jsonpath(s, "{.status.readyReplicas}", "get", "deployment", "-n", "apps", "test2-fargate") == "2" &&
			jsonpath(s, "{.status.phase}", "get", "pod", "-n", "apps", "shell") == "Running"
	})
	t.Logf("3 pods Running %s after the create (TCG); kubectl get pods -o wide:\n%s", time.Since(start).Round(time.Second), s.Kubectl("get", "pods", "-n", "apps", "-o", "wide"))
	vms := harness.VMs(dataDir)
	if len(vms) != 3 {
		t.Fatalf("QEMU processes: %v, want one per pod (3)", vms)
	}
	for _, node := range strings.Fields(jsonpath(s, "{.items[*].spec.nodeName}", "get", "pods", "-n", "apps")) {
		if got := jsonpath(s, `{.metadata.labels.fargo\.dev/isolation}`, "get", "node", node); got != "microvm" {
			t.Errorf("node %s: fargo.dev/isolation=%q, want microvm", node, got)
		}
	}

	// Its own kernel, its own size.
	host, _ := exec.Command("uname", "-r").Output()
	if got := strings.TrimSpace(s.Kubectl("exec", "-n", "apps", "shell", "--", "busybox", "uname", "-r")); got == "" || got == strings.TrimSpace(string(host)) {
		t.Errorf("uname -r in the pod = %q, the host's %q: want the guest's kernel", got, strings.TrimSpace(string(host)))
	}
	if got := strings.TrimSpace(s.Kubectl("exec", "-n", "apps", "shell", "--", "busybox", "nproc")); got != "1" {
		t.Errorf("nproc in a 1 vCPU pod = %q, want 1", got)
	}
	size := jsonpath(s, `{.metadata.annotations.CapacityProvisioned}`, "get", "pod", "-n", "apps", "shell")
	free := s.Kubectl("exec", "-n", "apps", "shell", "--", "free", "-m")
	total := memTotal(t, free)
	// 1 vCPU 2 GB: the VM's 2048 MiB less what its kernel keeps for itself.
	if size != "1vCPU 2GB" || total < 1900 || total > 2048 {
		t.Errorf("free -m in a %q pod: total %d MiB, want about 2048:\n%s", size, total, free)
	}

	// nginx answers on each pod IP; kubectl exec and logs reach its container.
	for _, pod := range strings.Fields(jsonpath(s, "{.items[*].metadata.name}", "get", "pods", "-n", "apps", "-l", "app=test2-fargate")) {
		ip := jsonpath(s, "{.status.podIP}", "get", "pod", "-n", "apps", pod)
		if got := httpGet(t, "http://"+ip+"/"); !strings.Contains(got, "Welcome to nginx!") {
			t.Errorf("GET http://%s/ of pod %s = %q, want nginx's welcome page", ip, pod, got)
		}
		httpGet(t, "http://"+ip+"/from-the-host") // a 404, logged
		if out, err := s.TryKubectl("exec", "-n", "apps", pod, "--", "nginx", "-v"); err != nil || !strings.Contains(out, "nginx version") {
			t.Errorf("kubectl exec %s -- nginx -v: %v %q", pod, err, out)
		}
		harness.Eventually(t, 20*time.Second, "the request in kubectl logs", func() bool {
			out, _ := s.TryKubectl("logs", "-n", "apps", pod)
			return strings.Contains(out, "GET /from-the-host")
		})
	}

	// Restart: the VMs keep running and are adopted.
	ids := jsonpath(s, "{.items[*].status.containerStatuses[0].containerID}", "get", "pods", "-n", "apps")
	s.Stop()
	for _, pid := range vms {
		if _, err := os.Stat("/proc/" + pid); err != nil {
			t.Errorf("QEMU %s died while the server was down", pid)
		}
	}
	s2 := harness.StartServerWith(t, args)
	time.Sleep(3 * time.Second) // a few agent resyncs
	if got := jsonpath(s2, "{.items[*].status.containerStatuses[0].containerID}", "get", "pods", "-n", "apps"); got != ids {
		t.Errorf("container IDs after restart %q, before %q", got, ids)
	}
	if got := strings.Join(harness.VMs(dataDir), " "); got != strings.Join(vms, " ") {
		t.Errorf("VMs after restart %q, before %q", got, strings.Join(vms, " "))
	}
	if out, err := s2.TryKubectl("exec", "-n", "apps", "shell", "--", "echo", "after the restart"); err != nil || !strings.Contains(out, "after the restart") {
		t.Errorf("kubectl exec after the restart: %v %q", err, out)
	}

	s2.Kubectl("delete", "deployment", "-n", "apps", "test2-fargate")
	s2.Kubectl("delete", "pod", "-n", "apps", "shell")
	harness.Eventually(t, 60*time.Second, "VMs and sandboxes gone", func() bool {
		ns, _ := filepath.Glob("/run/netns/fargo-*")
		return len(harness.VMs(dataDir)) == 0 && len(ns) == 0
	})
}

// startVMServer starts a server with --runtime rt on host, a profile per
// namespace of profiles (named after it, with the fargo.dev/isolation tag
// given, if any) and the namespaces; everything is removed after the test.
func startVMServer(t *testing.T, rt, host string, profiles map[string]string) (*harness.Server, string, []string) {
	dataDir, err := os.MkdirTemp("", "fargo-e2e-vm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { harness.CleanupSandboxes(t, dataDir); os.RemoveAll(dataDir) })
	args := append(harness.ServerArgs(t, dataDir), "--runtime", rt, "--host-name", host)
	s := harness.StartServerWith(t, args)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(s.Kubectl("get", "pods,nodes,sandboxes", "-A", "-o", "wide"))
			t.Log(s.Kubectl("get", "events", "-A"))
		}
	})
	for ns, isolation := range profiles {
		tags := ""
		if isolation != "" {
			tags = `,"tags":{"fargo.dev/isolation":"` + isolation + `"}`
		}
		s.CreateManifest(`{"apiVersion":"fargo.dev/v1alpha1","kind":"FargateProfile","metadata":{"name":"` + ns + `"},"spec":{"selectors":[{"namespace":"` + ns + `"}]` + tags + `}}`)
		s.Kubectl("create", "namespace", ns)
		harness.Eventually(t, 30*time.Second, "service account", func() bool { _, err := s.TryKubectl("get", "sa", "default", "-n", ns); return err == nil })
	}
	return s, dataDir, args
}

// One host, both tiers (--runtime containerd,microvm): a profile tagged
// fargo.dev/isolation=microvm puts its pods in VMs, an untagged one's run as
// containers (the first runtime listed); a restart keeps both.
func TestIsolationTiers(t *testing.T) {
	harness.RequireRoot(t)
	img, err := images.Busybox()
	ref := images.Serve(t, "busybox", img, err)
	s, dataDir, args := startVMServer(t, "containerd,microvm", "e2etiers", map[string]string{"vms": "microvm", "plain": ""})
	if got := jsonpath(s, "{.spec.isolations}", "get", "host", "e2etiers"); got != `["container","microvm"]` {
		t.Errorf("host isolations %s", got)
	}
	pod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"%s"},"spec":{"containers":[{"name":"c","image":"` + ref + `","command":["sleep","3600"]}]}}`
	for _, ns := range []string{"vms", "plain"} {
		s.CreateManifest(fmt.Sprintf(pod, ns))
	}
	harness.Eventually(t, 5*time.Minute, "both pods running", func() bool {
		return jsonpath(s, "{.status.phase}", "get", "pod", "-n", "vms", "p") == "Running" &&
			jsonpath(s, "{.status.phase}", "get", "pod", "-n", "plain", "p") == "Running"
	})
	host, _ := exec.Command("uname", "-r").Output()
	check := func(s *harness.Server) {
		t.Helper()
		for ns, want := range map[string]string{"vms": "microvm", "plain": "container"} {
			node := jsonpath(s, "{.spec.nodeName}", "get", "pod", "-n", ns, "p")
			if got := jsonpath(s, `{.metadata.labels.fargo\.dev/isolation}`, "get", "node", node); got != want {
				t.Errorf("node %s of %s/p: fargo.dev/isolation=%q, want %s", node, ns, got, want)
			}
			kernel := strings.TrimSpace(s.Kubectl("exec", "-n", ns, "p", "--", "busybox", "uname", "-r"))
			if own := kernel != strings.TrimSpace(string(host)); own != (want == "microvm") || kernel == "" {
				t.Errorf("uname -r in %s/p = %q (host %q): want its own kernel only in a VM", ns, kernel, strings.TrimSpace(string(host)))
			}
		}
		if vms := harness.VMs(dataDir); len(vms) != 1 {
			t.Errorf("QEMU processes %v, want one (the vms pod's)", vms)
		}
	}
	check(s)
	ids := jsonpath(s, "{.items[*].status.containerStatuses[0].containerID}", "get", "pods", "-A")
	s.Stop()
	s2 := harness.StartServerWith(t, args)
	time.Sleep(3 * time.Second) // a few agent resyncs
	if got := jsonpath(s2, "{.items[*].status.containerStatuses[0].containerID}", "get", "pods", "-A"); got != ids {
		t.Errorf("container IDs after restart %q, before %q", got, ids)
	}
	check(s2)
	for _, ns := range []string{"vms", "plain"} {
		s2.Kubectl("delete", "pod", "-n", ns, "p")
	}
	harness.Eventually(t, 60*time.Second, "VMs and sandboxes gone", func() bool {
		ns, _ := filepath.Glob("/run/netns/fargo-*")
		return len(harness.VMs(dataDir)) == 0 && len(ns) == 0
	})
}

// memTotal is the "Mem:" total of free -m.
func memTotal(t *testing.T, free string) int {
	for _, line := range strings.Split(free, "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "Mem:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Errorf("no Mem: line in free -m:\n%s", free)
	return 0
}
