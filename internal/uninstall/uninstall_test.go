package uninstall

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fargo-dev/fargo/internal/datadir"
)

// fakeProc makes /proc/<pid> with an exe link, cmdline, environ and cgroup.
func fakeProc(t *testing.T, proc string, pid, exe string, argv, env []string, cgroup string) {
	t.Helper()
	dir := filepath.Join(proc, pid)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if exe != "" { // a zombie's exe link reads as nothing
		if err := os.Symlink(exe, filepath.Join(dir, "exe")); err != nil {
			t.Fatal(err)
		}
	}
	nul := func(f []string) []byte { return []byte(strings.Join(f, "\x00") + "\x00") }
	state := "S"
	if exe == "" {
		state = "Z"
	}
	stat := []byte(pid + " (" + filepath.Base(exe) + ") " + state + " 1 1")
	for name, data := range map[string][]byte{"cmdline": nul(argv), "environ": nul(env), "cgroup": []byte(cgroup), "stat": stat} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// fargo's processes are found by what they are, not by a data dir: its
// servers and agents (first), what it started (marked), what runs in its
// cgroups; nothing else, and not the caller.
func TestProcesses(t *testing.T) {
	proc := t.TempDir()
	other := "0::/user.slice\n"
	fakeProc(t, proc, "10", "/opt/bin/fargo (deleted)", []string{"fargo", "server", "--data-dir=/tmp/d1"}, nil, other)
	fakeProc(t, proc, "11", "/usr/bin/fargo", []string{"fargo", "agent"}, nil, other)
	fakeProc(t, proc, "12", "/usr/bin/containerd", []string{"containerd", "--config", "/tmp/d1/containerd/config.toml"}, []string{"PATH=/bin", datadir.StartedByEnv + "=/tmp/d1/containerd"}, other)
	fakeProc(t, proc, "13", "/usr/bin/containerd", []string{"containerd"}, []string{"PATH=/bin"}, other) // the host's own
	fakeProc(t, proc, "14", "/bin/sleep", []string{"sleep", "1d"}, nil, "4:memory:/fargo/h/ip-1-2-3-4/c\n0::/\n")
	fakeProc(t, proc, "15", "/bin/sleep", []string{"sleep", "1d"}, nil, "4:memory:/fargo-other\n")
	fakeProc(t, proc, "16", "/usr/bin/fargo", []string{"fargo", "uninstall"}, nil, other)
	fakeProc(t, proc, "18", "", nil, nil, "4:memory:/fargo/h/ip-1-2-3-4/c\n") // a zombie
	fakeProc(t, proc, "17", "/usr/bin/fargo", []string{"fargo", "kubelet", "--config=/tmp/d1/nodes/x/kubelet.yaml"}, []string{datadir.StartedByEnv + "=/tmp/d1/nodes/x"}, "4:memory:/fargo-nodes/192.168.1.1\n")
	got := processes(proc, 16)
	want := []process{
		{pid: 10, what: "fargo server", dir: "/tmp/d1", first: true},
		{pid: 11, what: "fargo agent", dir: "/var/lib/fargo", first: true},
		{pid: 12, what: "containerd", dir: "/tmp/d1/containerd"},
		{pid: 14, what: "process in fargo's cgroups (sleep)"},
		{pid: 17, what: "node-group kubelet", dir: "/tmp/d1/nodes/x"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("processes:\n got %+v\nwant %+v", got, want)
	}
}

// Mounts under the data dirs and the sandboxes' namespaces go, innermost first;
// others stay, a sibling with the same prefix among them.
func TestMountsUnder(t *testing.T) {
	info := `22 1 0:21 / / rw - ext4 /dev/vda rw
30 22 0:4 / /run/netns/fargo-h_ip-192-168-96-7 rw - nsfs nsfs rw
31 22 0:4 / /run/netns/cni-1234 rw - nsfs nsfs rw
40 22 0:50 / /tmp/d1/containerd/state/x/rootfs rw - overlay overlay rw
41 22 0:51 / /tmp/d1/pods/uid/volumes/a\040b rw - tmpfs tmpfs rw
42 22 0:52 / /tmp/d10/x rw - tmpfs tmpfs rw
43 22 0:53 / /tmp/d1 rw - tmpfs tmpfs rw
`
	got := mountsUnder(info, []string{"/tmp/d1"})
	want := []string{"/run/netns/fargo-h_ip-192-168-96-7", "/tmp/d1/containerd/state/x/rootfs", "/tmp/d1/pods/uid/volumes/a b", "/tmp/d1"}
	if len(got) != len(want) || got[len(got)-1] != "/tmp/d1" {
		t.Fatalf("mounts %q, want %q, /tmp/d1 last", got, want)
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			t.Errorf("mounts %q lack %q", got, w)
		}
	}
}

// The data dirs of servers that are gone are found by their mounts' marks;
// mounts that only look alike are not taken.
func TestDataDirs(t *testing.T) {
	info := `22 1 0:21 / / rw - ext4 /dev/vda rw
40 22 0:4 / /tmp/d1/containerd/ns/ip-192-168-96-4/uts rw - nsfs nsfs rw
41 22 0:50 / /tmp/d1/containerd/state/io.containerd.runtime.v2.task/fargo/ip-192-168-96-4_app_0/rootfs rw - overlay overlay rw
42 22 0:51 / /tmp/d1/containerd/lxcfs rw - fuse.lxcfs lxcfs rw
43 22 0:21 / /var/lib/fargo/nodes/192.168.31.193/kubelet rw - ext4 /dev/vda rw
44 22 0:4 / /var/lib/fargo/nodes/192.168.31.193/containerd/state/io.containerd.grpc.v1.cri/netns/cni-1 rw - nsfs nsfs rw
45 22 0:52 / /srv/nodes/web/kubelet rw - tmpfs tmpfs rw
46 22 0:53 / /var/lib/containerd/state/io.containerd.runtime.v2.task/k8s.io/x/rootfs rw - overlay overlay rw
47 22 0:4 / /tmp/a\040b/containerd/ns/s/ipc rw - nsfs nsfs rw
`
	got := dataDirs(info)
	want := []string{"/tmp/d1", "/var/lib/fargo", "/tmp/a b"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("data dirs %q, want %q", got, want)
	}
}

// Routes become `ip route del` selectors that name their table and device.
func TestParseRoutes(t *testing.T) {
	out := `blackhole 192.168.0.0/16 proto 250
local 10.100.0.0/24 dev lo table local proto 250 scope host
local 192.168.0.9 dev lo table local proto 250 scope host
10.9.0.0/24 via 10.0.0.1 dev eth0 proto 250
`
	want := []string{
		"blackhole 192.168.0.0/16 table main",
		"local 10.100.0.0/24 dev lo table local",
		"local 192.168.0.9 dev lo table local",
		"unicast 10.9.0.0/24 dev eth0 table main",
	}
	if got := parseRoutes(out); !reflect.DeepEqual(got, want) {
		t.Errorf("selectors:\n got %q\nwant %q", got, want)
	}
}
