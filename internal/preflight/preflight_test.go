package preflight

import (
	"bytes"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fargo-dev/fargo/internal/controlplane"
)

// fakeHost is a host whose paths are the test's: plugins, cgroup
// hierarchies and a KVM device as named, programs found unless in missing.
func fakeHost(t *testing.T, uid int, plugins, controllers []string, kvm bool, missing ...string) Host {
	t.Helper()
	dir := t.TempDir()
	pluginDir, cgroups := filepath.Join(dir, "cni"), filepath.Join(dir, "cgroup")
	for _, p := range plugins {
		touch(t, filepath.Join(pluginDir, p))
	}
	for _, c := range controllers {
		touch(t, filepath.Join(cgroups, c, "cgroup.procs"))
	}
	if len(controllers) == 0 {
		touch(t, filepath.Join(cgroups, "cgroup.controllers")) // cgroup v2
	}
	dev := filepath.Join(dir, "kvm")
	if kvm {
		touch(t, dev)
	}
	return Host{
		DataDir: filepath.Join(dir, "data", "not-yet"), Sandboxes: true, NodeGroups: true,
		PluginDirs: []string{pluginDir}, CgroupRoot: cgroups, KVM: dev,
		Euid: func() int { return uid },
		LookPath: func(name string) (string, error) {
			for _, m := range missing {
				if m == name {
					return "", errors.New("executable file not found in $PATH")
				}
			}
			return "/usr/bin/" + name, nil
		},
		Command: func(string, ...string) error { return nil },
	}
}

func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
}

func byName(rs []Result) map[string]Result {
	m := map[string]Result{}
	for _, r := range rs {
		m[r.Name] = r
	}
	return m
}

func TestEverythingPresentIsOK(t *testing.T) {
	h := fakeHost(t, 0, cniPlugins, cgroupControllers, true)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	h.Ports = []controlplane.Port{{Flag: "--api-port", Host: "127.0.0.1", Port: port}}
	rs := h.Run()
	for _, r := range rs {
		if r.Status != OK {
			t.Errorf("%s: %s %s (fix: %s)", r.Name, r.Status, r.Detail, r.Fix)
		}
	}
	if len(rs) != 10 || Failed(rs) != 0 {
		t.Errorf("want 10 checks, none failed; got %d, %d failed", len(rs), Failed(rs))
	}
}

func TestEachMissingThingFailsWithItsFix(t *testing.T) {
	h := fakeHost(t, 1000, []string{"ptp"}, nil, false, "nft", "lxcfs", "runc")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	h.Ports = []controlplane.Port{{Flag: "--eks-api-port", Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port}}
	rs := byName(h.Run())
	for name, want := range map[string]struct {
		status      Status
		detail, fix string
	}{
		"root":        {Fail, "uid 1000", "run fargo as root"},
		"ports":       {Fail, "(--eks-api-port)", "choose others with --eks-api-port"},
		"cgroups":     {Fail, "cgroup v2 only", "systemd.unified_cgroup_hierarchy=0"},
		"nftables":    {Fail, "nft not found", "apt-get install -y nftables"},
		"CNI plugins": {Fail, "static and host-local not in", "apt-get install -y containernetworking-plugins"},
		"containerd":  {Fail, "runc not found", "apt-get install -y containerd runc"},
		"lxcfs":       {Warn, "host's figures", "apt-get install -y lxcfs"},
		"KVM":         {Warn, "optional", "kvm_intel"},
		"iproute2":    {OK, "ip found", ""},
		"disk":        {OK, "GiB free at", ""},
	} {
		r := rs[name]
		if r.Status != want.status || !strings.Contains(r.Detail, want.detail) || !strings.Contains(r.Fix, want.fix) {
			t.Errorf("%s: got %s %q (fix %q), want %s with %q (fix %q)", name, r.Status, r.Detail, r.Fix, want.status, want.detail, want.fix)
		}
	}
	var out bytes.Buffer
	Print(&out, h.Run())
	if !strings.Contains(out.String(), "FAIL  nftables") || !strings.Contains(out.String(), "fix: apt-get install -y nftables") {
		t.Errorf("the report does not show the failure beside its fix:\n%s", out.String())
	}
}

// A control plane alone (--runtime none, no node groups) runs unprivileged:
// not being root is a warning, and the sandbox checks do not apply.
func TestControlPlaneOnlyNeedsLess(t *testing.T) {
	h := fakeHost(t, 1000, nil, nil, false, "nft", "containerd")
	h.Sandboxes, h.NodeGroups = false, false
	rs := byName(h.Run())
	if rs["root"].Status != Warn {
		t.Errorf("root: %s, want warn", rs["root"].Status)
	}
	for _, n := range []string{"cgroups", "nftables", "CNI plugins", "containerd", "lxcfs"} {
		if _, ok := rs[n]; ok {
			t.Errorf("%s checked for a control plane alone", n)
		}
	}
}
