package microvm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fargo-dev/fargo/internal/datadir"
	"github.com/fargo-dev/fargo/internal/guest"
)

// guestPath is where a host path under a sandbox's share is in the guest.
func guestPath(rel string) string { return filepath.Join(guest.Share, rel) }

// vm is one sandbox's files on the host.
type vm struct{ dir string }

func (v vm) path(name string) string { return filepath.Join(v.dir, name) }
func (v vm) share(rel ...string) string {
	return filepath.Join(append([]string{v.dir, "share"}, rel...)...)
}

// pid is QEMU's PID if it runs, else 0.
func (v vm) pid() int {
	b, err := os.ReadFile(v.path("qemu.pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	// The PID is QEMU's only while its command line names this VM.
	cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil || !bytes.Contains(cmdline, []byte(v.path("guest.sock"))) {
		return 0
	}
	return pid
}

// machine is how a VM is booted.
type machine struct {
	qemu, kernel, initrd string
	accel                string // "kvm" or "tcg"
}

// kernelArgs is the guest kernel's command line.
const kernelArgs = "console=ttyS0 quiet reboot=t panic=-1"

// tcg is how QEMU emulates the CPUs without KVM: multi-threaded TCG, a
// 64 MiB translation cache per VM (the default is 1 GiB).
var tcg = []string{"-accel", "tcg,thread=multi,tb-size=64"}

// machineType is QEMU's q35, not microvm: under TCG here, microvm boots hung
// at random (most of them with three at once) in the kernel's LAPIC timer
// calibration, waiting for PIT ticks that never came; q35's HPET gives the
// kernel another reference, and its boots all went through
// (docs/microvm.md). Option ROMs are left out (romfile=): no firmware
// network boot.
const machineType = "q35"

// vcpus is the VM's CPU count: whole vCPUs, at least the provisioned
// millicores (the guest's pod cgroup holds it to the fraction).
func vcpus(milliCPU int64) int64 { return max(1, (milliCPU+999)/1000) }

// args is QEMU's command line for a VM of the given size; the tap is fd 3.
func (m machine) args(v vm, name, mac string, milliCPU, memoryMiB int64) []string {
	accel, cpu := tcg, "max"
	if m.accel == "kvm" {
		accel, cpu = []string{"-accel", "kvm"}, "host"
	}
	return append(append([]string{
		"-name", "fargo-" + name,
		"-M", machineType}, accel...),
		"-cpu", cpu,
		"-smp", strconv.FormatInt(vcpus(milliCPU), 10), "-m", strconv.FormatInt(memoryMiB, 10)+"M",
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-kernel", m.kernel, "-initrd", m.initrd,
		"-append", kernelArgs,
		"-serial", "file:"+v.path("console.log"),
		"-netdev", "tap,id=net0,fd=3,vhost=off",
		"-device", "virtio-net-pci,netdev=net0,romfile=,mac="+mac,
		"-fsdev", "local,id=share,path="+v.share()+",security_model=passthrough,multidevs=remap",
		"-device", "virtio-9p-pci,fsdev=share,mount_tag="+guest.ShareTag,
		"-chardev", "socket,id=guest,path="+v.path("guest.sock")+",server=on,wait=off",
		"-device", "virtio-serial-pci,max_ports=2",
		"-device", "virtserialport,chardev=guest,name="+guest.PortName,
		"-qmp", "unix:"+v.path("qmp.sock")+",server=on,wait=off",
		"-pidfile", v.path("qemu.pid"),
		"-daemonize",
	)
}

// boot starts QEMU daemonized with the tap's fd; it returns once QEMU has
// set the machine up (QEMU's parent exits then), not once the guest is up.
func (m machine) boot(ctx context.Context, v vm, tap *os.File, name, mac string, milliCPU, memoryMiB int64) error {
	cmd := exec.CommandContext(ctx, m.qemu, m.args(v, name, mac, milliCPU, memoryMiB)...)
	cmd.ExtraFiles = []*os.File{tap}
	// fargo uninstall finds it by this mark (DATA/microvm/<sandbox> → DATA).
	datadir.Mark(cmd, filepath.Dir(filepath.Dir(v.dir)))
	// Its own session: a signal to the agent's process group is not the VM's.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("starting QEMU: %w: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// errBootHung is a boot whose kernel said nothing in kernelDeadline.
var errBootHung = errors.New("the guest kernel hung at boot (no console output)")

// kernelDeadline is how long a kernel may take to its first console line
// (about 0.3 s of guest time; seconds under TCG on loaded cores).
const kernelDeadline = 20 * time.Second

// awaitKernel waits for the kernel's first console line.
func (v vm) awaitKernel(ctx context.Context) error {
	for deadline := time.Now().Add(kernelDeadline); ; time.Sleep(100 * time.Millisecond) {
		if fi, err := os.Stat(v.path("console.log")); err == nil && fi.Size() > 0 {
			return nil
		}
		if v.pid() == 0 {
			return fmt.Errorf("QEMU exited at boot: %s", v.consoleTail())
		}
		if time.Now().After(deadline) {
			return errBootHung
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// kill stops QEMU at once and waits until it is gone.
func (v vm) kill() error {
	pid := v.pid()
	if pid == 0 {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("killing QEMU %d: %w", pid, err)
	}
	for deadline := time.Now().Add(10 * time.Second); v.pid() != 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			return fmt.Errorf("QEMU %d still runs 10s after SIGKILL", pid)
		}
	}
	return nil
}

// consoleTail is the end of the guest's console, for errors about a guest
// that did not come up.
func (v vm) consoleTail() string {
	b, _ := os.ReadFile(v.path("console.log"))
	b = bytes.TrimSpace(b)
	if len(b) > 600 {
		b = b[len(b)-600:]
	}
	if len(b) == 0 {
		return "(console empty)"
	}
	return string(b)
}

func usec(n uint64) time.Duration { return time.Duration(n) * time.Microsecond }
