//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fargo-dev/fargo/test/harness"
	"github.com/fargo-dev/fargo/test/images"
)

// uninstallConfig is a small mixed cluster: one node-group node and a Fargate
// profile, in one private subnet.
const uninstallConfig = `apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
metadata: {name: gone, region: ap-southeast-1}
vpc:
  subnets:
    private:
      ap-southeast-1a: { id: subnet-a, cidr: 192.168.96.0/19 }
managedNodeGroups:
  - name: ng
    instanceType: m5.large
    desiredCapacity: 1
fargateProfiles:
  - name: apps
    selectors:
      - namespace: apps
`

// A server killed with SIGKILL and its data dir deleted leaves its sandboxes,
// node-group kubelet and containerd running; fargo uninstall removes all of it
// (processes, netns, mounts, cgroups, interfaces, routes, nftables), and a new
// server on the same VPC runs a pod at the address the old one's had.
func TestUninstallAfterKill(t *testing.T) {
	harness.RequireRoot(t)
	img, err := images.Busybox()
	ref := images.Serve(t, "busybox", img, err)
	before := hostState(t)
	dataDir, cfg := harness.ClusterDir(t, "fargo-gone-", uninstallConfig)
	args := append(harness.ServerArgs(t, dataDir), "--config", cfg, "--runtime", "containerd", "--host-name", "gone")
	s := harness.StartServerWith(t, args)
	ip := runSleeper(t, s, ref)
	s.CreateManifest(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"on-ng","namespace":"default"},
"spec":{"terminationGracePeriodSeconds":1,"containers":[{"name":"main","image":"` + ref + `","command":["sleep","3600"]}]}}`)
	harness.Eventually(t, 2*time.Minute, "the node-group pod Running", func() bool {
		out, _ := s.TryKubectl("get", "pod", "on-ng", "-o", "jsonpath={.status.phase}")
		return out == "Running"
	})
	during := hostState(t)
	if len(during.diff(before)) == 0 {
		t.Fatal("a running cluster changed nothing on the host that the test can see")
	}

	if err := s.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = s.WaitExit(30 * time.Second)
	_ = os.RemoveAll(dataDir) // fails on the mounts in it, as it does for a user

	// Before the uninstall, a new server with the host's name on the same VPC
	// finds the old sandbox's network (its route, its netns) where its first
	// pod's goes: it leaves it alone, and the pod's events name it and the
	// command that clears it.
	dataDirC, cfgC := harness.ClusterDir(t, "fargo-clash-", strings.Replace(uninstallConfig, "managedNodeGroups:\n  - name: ng\n    instanceType: m5.large\n    desiredCapacity: 1\n", "", 1))
	sc := harness.StartServerWith(t, append(harness.ServerArgs(t, dataDirC), "--config", cfgC, "--runtime", "containerd", "--host-name", "gone", "--without-nodegroup"))
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := sc.TryKubectl("get", "events,pods", "-n", "apps", "-o", "wide")
			t.Logf("the second server's pod and events:\n%s", out)
		}
	})
	sc.Kubectl("create", "namespace", "apps")
	harness.Eventually(t, 30*time.Second, "service account", func() bool {
		_, err := sc.TryKubectl("get", "sa", "default", "-n", "apps")
		return err == nil
	})
	sc.CreateManifest(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"sleeper","namespace":"apps"},
"spec":{"terminationGracePeriodSeconds":1,"containers":[{"name":"main","image":"` + ref + `","command":["sleep","3600"]}]}}`)
	harness.Eventually(t, time.Minute, "a FailedCreatePodSandBox event naming the old sandbox's network and fargo uninstall", func() bool {
		out, _ := sc.TryKubectl("get", "events", "-n", "apps", "--field-selector", "involvedObject.name=sleeper,reason=FailedCreatePodSandBox", "-o", "jsonpath={.items[*].message}")
		return strings.Contains(out, "/run/netns/fargo-gone_ip-"+strings.ReplaceAll(ip, ".", "-")+" already exists, not this agent's") && strings.Contains(out, "fargo uninstall")
	})
	if out, err := exec.Command("ip", "-4", "route", "show", "exact", ip+"/32").CombinedOutput(); err != nil || !strings.Contains(string(out), "dev veth") {
		t.Errorf("the new server touched the old sandbox's route: %v %s", err, out)
	}
	sc.Stop()

	out, err := exec.Command(harness.Bin(t, "fargo"), "uninstall", "--data-dir", dataDir).CombinedOutput()
	t.Logf("fargo uninstall:\n%s", out)
	if err != nil {
		t.Fatalf("fargo uninstall: %v", err)
	}
	for _, want := range []string{"removed process", "(containerd)", "removed network namespace /run/netns/fargo-gone_", "removed cgroup /fargo", "removed route blackhole 192.168.96.0/19", "removed nftables table ip kube-proxy", "removed data dir " + dataDir} {
		if !strings.Contains(string(out), want) {
			t.Errorf("fargo uninstall's report lacks %q", want)
		}
	}
	if left := hostState(t).diff(before); len(left) > 0 {
		t.Errorf("left on the host after fargo uninstall:\n%s", strings.Join(left, "\n"))
	}
	if _, err := os.Stat(dataDir); err == nil {
		t.Errorf("data dir %s is still there", dataDir)
	}
	if out, _ := exec.Command(harness.Bin(t, "fargo"), "uninstall").CombinedOutput(); !strings.Contains(string(out), "nothing of fargo's found") {
		t.Errorf("a second fargo uninstall found more:\n%s", out)
	}

	// A new server on the same VPC: the first address is free again.
	dataDir2, cfg2 := harness.ClusterDir(t, "fargo-again-", uninstallConfig)
	s2 := harness.StartServerWith(t, append(harness.ServerArgs(t, dataDir2), "--config", cfg2, "--runtime", "containerd", "--host-name", "gone", "--without-nodegroup"))
	if again := runSleeper(t, s2, ref); again != ip {
		t.Errorf("the new server's pod is at %s, the old one's was at %s", again, ip)
	}
}

// runSleeper runs a Fargate pod in namespace apps and returns its IP.
func runSleeper(t *testing.T, s *harness.Server, ref string) string {
	t.Helper()
	s.Kubectl("create", "namespace", "apps")
	harness.Eventually(t, 30*time.Second, "service account", func() bool {
		_, err := s.TryKubectl("get", "sa", "default", "-n", "apps")
		return err == nil
	})
	s.CreateManifest(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"sleeper","namespace":"apps"},
"spec":{"terminationGracePeriodSeconds":1,"containers":[{"name":"main","image":"` + ref + `","command":["sleep","3600"]}]}}`)
	var ip string
	harness.Eventually(t, 2*time.Minute, "the Fargate pod Running", func() bool {
		out, _ := s.TryKubectl("get", "pod", "sleeper", "-n", "apps", "-o", "jsonpath={.status.phase} {.status.podIP}")
		phase, addr, _ := strings.Cut(out, " ")
		ip = addr
		return phase == "Running"
	})
	if out, err := s.TryKubectl("exec", "-n", "apps", "sleeper", "--", "true"); err != nil {
		t.Errorf("kubectl exec in the pod at %s: %v: %s", ip, err, out)
	}
	return ip
}

// state is what fargo can leave on a host, one line per thing.
type state map[string]bool

// diff lists what s has that before did not.
func (s state) diff(before state) []string {
	var out []string
	for k := range s {
		if !before[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// hostState reads the host's network namespaces, mounts, fargo's cgroups,
// interfaces, routes, nftables tables and the processes fargo starts.
func hostState(t *testing.T) state {
	t.Helper()
	st := state{}
	add := func(kind string, items ...string) {
		for _, i := range items {
			if i = strings.TrimSpace(i); i != "" {
				st[kind+" "+i] = true
			}
		}
	}
	ns, _ := filepath.Glob("/run/netns/*")
	add("netns", ns...)
	if data, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) > 4 {
				add("mount", f[4])
			}
		}
	}
	cg, _ := filepath.Glob("/sys/fs/cgroup/*/fargo*")
	add("cgroup", cg...)
	links, _ := filepath.Glob("/sys/class/net/*")
	add("interface", links...)
	for _, cmd := range [][]string{{"ip", "-4", "route", "show", "table", "all"}, {"nft", "list", "tables"}} {
		out, _ := exec.Command(cmd[0], cmd[1:]...).Output()
		add(cmd[0], strings.Split(string(out), "\n")...)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		data, _ := os.ReadFile(p)
		cmdline := strings.ReplaceAll(string(data), "\x00", " ")
		for _, mark := range []string{"containerd", "fargo server", "fargo kubelet", "sleep 3600"} {
			if strings.Contains(cmdline, mark) && !strings.Contains(cmdline, "go test") {
				add("process", filepath.Base(filepath.Dir(p))+" "+cmdline)
			}
		}
	}
	return st
}
