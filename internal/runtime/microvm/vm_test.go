package microvm

import (
	"slices"
	"strings"
	"testing"
)

// A VM has the provisioned memory and whole vCPUs, at least one; TCG unless
// KVM works; the tap is the fd QEMU is given.
func TestArgs(t *testing.T) {
	v := vm{dir: "/data/microvm/ip-1-2-3-4"}
	m := machine{qemu: "qemu", kernel: "/g/vmlinuz", initrd: "/g/initrd.img", accel: "tcg"}
	for _, tc := range []struct {
		milliCPU, mem int64
		smp, memArg   string
	}{{250, 512, "1", "512M"}, {1000, 2048, "1", "2048M"}, {1500, 4096, "2", "4096M"}, {4000, 30720, "4", "30720M"}} {
		args := m.args(v, "ip-1-2-3-4", "02:00:00:00:00:01", tc.milliCPU, tc.mem)
		if got := after(args, "-smp"); got != tc.smp {
			t.Errorf("%d mCPU: -smp %s, want %s", tc.milliCPU, got, tc.smp)
		}
		if got := after(args, "-m"); got != tc.memArg {
			t.Errorf("%d MiB: -m %s, want %s", tc.mem, got, tc.memArg)
		}
	}
	args := m.args(v, "ip-1-2-3-4", "02:00:00:00:00:01", 250, 512)
	joined := strings.Join(args, " ")
	for _, want := range []string{"-M q35", "-accel tcg", "tap,id=net0,fd=3", "mac=02:00:00:00:00:01", "path=/data/microvm/ip-1-2-3-4/guest.sock",
		"path=/data/microvm/ip-1-2-3-4/share,", "-pidfile /data/microvm/ip-1-2-3-4/qemu.pid", "-daemonize"} {
		if !strings.Contains(joined, want) {
			t.Errorf("QEMU's command line lacks %q:\n%s", want, joined)
		}
	}
	m.accel = "kvm"
	if args := m.args(v, "ip-1-2-3-4", "02:00:00:00:00:01", 250, 512); after(args, "-accel") != "kvm" || after(args, "-cpu") != "host" {
		t.Errorf("with KVM: %v", args)
	}
}

func after(args []string, flag string) string {
	if i := slices.Index(args, flag); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}
