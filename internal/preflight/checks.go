package preflight

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/fargo-dev/fargo/internal/controlplane"
	"github.com/fargo-dev/fargo/internal/network/cni"
)

// apt is the fix that installs Debian packages.
func apt(pkgs ...string) string { return "apt-get install -y " + strings.Join(pkgs, " ") }

func (h *Host) defaults() {
	if h.PluginDirs == nil {
		h.PluginDirs = cni.DefaultPluginDirs
	}
	if h.CgroupRoot == "" {
		h.CgroupRoot = "/sys/fs/cgroup"
	}
	if h.KVM == "" {
		h.KVM = "/dev/kvm"
	}
	if h.Euid == nil {
		h.Euid = os.Geteuid
	}
	if h.LookPath == nil {
		h.LookPath = exec.LookPath
	}
	if h.Command == nil {
		h.Command = func(name string, args ...string) error {
			out, err := exec.Command(name, args...).CombinedOutput()
			if err != nil {
				return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
			}
			return nil
		}
	}
}

func (h *Host) root() Result {
	r := Result{Name: "root"}
	if uid := h.Euid(); uid != 0 {
		r.Detail = fmt.Sprintf("running as uid %d", uid)
	} else {
		r.Status, r.Detail = OK, "running as root"
		return r
	}
	r.Fix = "run fargo as root (sudo): sandboxes need network namespaces, cgroups, routes and mounts"
	r.Status = Fail
	if !h.Sandboxes && !h.NodeGroups {
		r.Status = Warn // a control plane alone runs unprivileged
	}
	return r
}

func (h *Host) ports() Result {
	r := Result{Name: "ports"}
	var busy, flags []string
	for _, p := range h.Ports {
		if err := controlplane.CheckPorts([]controlplane.Port{p}); err != nil {
			busy = append(busy, fmt.Sprintf("%d (%s)", p.Port, p.Flag))
			flags = append(flags, p.Flag)
		}
	}
	if len(busy) == 0 {
		r.Status, r.Detail = OK, fmt.Sprintf("%d ports free", len(h.Ports))
		return r
	}
	r.Status = Fail
	r.Detail = "in use: " + joined(busy)
	r.Fix = "stop what listens there (ss -ltnp shows it; another fargo server? fargo uninstall stops them all) or choose others with " + joined(flags)
	return r
}

// minFree is the disk a data dir needs: etcd, images and container logs.
const minFree = 2 << 30

func (h *Host) disk() Result {
	r := Result{Name: "disk"}
	dir := h.DataDir
	for { // the data dir, or the nearest parent that exists
		if _, err := os.Stat(dir); err == nil || dir == filepath.Dir(dir) {
			break
		}
		dir = filepath.Dir(dir)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		r.Status, r.Detail, r.Fix = Fail, fmt.Sprintf("%s: %v", dir, err), "choose another --data-dir"
		return r
	}
	free := st.Bavail * uint64(st.Bsize)
	r.Detail = fmt.Sprintf("%.1f GiB free at %s", float64(free)/(1<<30), dir)
	if free < minFree {
		r.Status, r.Fix = Fail, "free disk space there, or choose a --data-dir on a larger filesystem (2 GiB at least)"
		return r
	}
	r.Status = OK
	return r
}

// cgroupControllers are the cgroup v1 hierarchies the runtime writes sizes to
// and reads usage from.
var cgroupControllers = []string{"cpu", "cpuacct", "cpuset", "memory", "pids"}

func (h *Host) cgroups() Result {
	r := Result{Name: "cgroups"}
	var missing []string
	for _, c := range cgroupControllers {
		if _, err := os.Stat(filepath.Join(h.CgroupRoot, c, "cgroup.procs")); err != nil {
			missing = append(missing, c)
		}
	}
	if len(missing) == 0 {
		r.Status, r.Detail = OK, "cgroup v1: "+strings.Join(cgroupControllers, ", ")
		return r
	}
	r.Status = Fail
	if _, err := os.Stat(filepath.Join(h.CgroupRoot, "cgroup.controllers")); err == nil {
		r.Detail = "cgroup v2 only (unified hierarchy); fargo's runtime uses cgroup v1"
		r.Fix = "boot with systemd.unified_cgroup_hierarchy=0 on the kernel command line (GRUB_CMDLINE_LINUX in /etc/default/grub, then update-grub and reboot)"
		return r
	}
	r.Detail = "no cgroup v1 hierarchy for " + joined(missing) + " under " + h.CgroupRoot
	r.Fix = "mount them (mount -t cgroup -o <controller> cgroup " + h.CgroupRoot + "/<controller>), or in a container run it --privileged with the host's cgroups"
	return r
}

func (h *Host) nft() Result {
	r := Result{Name: "nftables"}
	if _, err := h.LookPath("nft"); err != nil {
		r.Status, r.Detail, r.Fix = Fail, "nft not found (kube-proxy's Service rules)", apt("nftables")
		return r
	}
	if err := h.Command("nft", "list", "tables"); err != nil {
		r.Status, r.Detail = Fail, err.Error()
		r.Fix = "run as root, on a kernel with nf_tables (modprobe nf_tables)"
		return r
	}
	r.Status, r.Detail = OK, "nft lists tables"
	return r
}

func (h *Host) iproute() Result {
	r := Result{Name: "iproute2"}
	if _, err := h.LookPath("ip"); err != nil {
		r.Status, r.Detail, r.Fix = Fail, "ip not found", apt("iproute2")
		return r
	}
	r.Status, r.Detail = OK, "ip found"
	return r
}

// cniPlugins are the plugins sandboxes (ptp, static) and node groups
// (ptp, host-local) are wired with.
var cniPlugins = []string{"ptp", "static", "host-local"}

func (h *Host) cniPlugins() Result {
	r := Result{Name: "CNI plugins"}
	if missing := needed(h.PluginDirs, cniPlugins); len(missing) > 0 {
		r.Status = Fail
		r.Detail = joined(missing) + " not in " + strings.Join(h.PluginDirs, " or ")
		r.Fix = apt("containernetworking-plugins")
		return r
	}
	r.Status, r.Detail = OK, strings.Join(cniPlugins, ", ")
	return r
}

func (h *Host) containerd() Result {
	r := Result{Name: "containerd"}
	var missing []string
	for _, p := range []string{"containerd", "runc", "containerd-shim-runc-v2"} {
		if _, err := h.LookPath(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		r.Status, r.Detail, r.Fix = Fail, joined(missing)+" not found", apt("containerd", "runc")
		return r
	}
	r.Status, r.Detail = OK, "containerd, runc and the runc shim found (fargo starts its own containerd)"
	return r
}

func (h *Host) lxcfs() Result {
	r := Result{Name: "lxcfs"}
	if _, err := h.LookPath("lxcfs"); err != nil {
		r.Status = Warn
		r.Detail = "lxcfs not found: free -m and /proc/cpuinfo in a Fargate pod show the host's figures"
		r.Fix = apt("lxcfs")
		return r
	}
	r.Status, r.Detail = OK, "pods see their size in /proc"
	return r
}

func (h *Host) kvm() Result {
	r := Result{Name: "KVM"}
	f, err := os.OpenFile(h.KVM, os.O_RDWR, 0)
	if err != nil {
		r.Status = Warn
		r.Detail = fmt.Sprintf("%s: %v (optional: only micro-VM sandboxes would use it; the containerd runtime does not)", h.KVM, errors.Unwrap(err))
		r.Fix = "enable virtualization (VT-x/AMD-V, or nested virtualization on a VM) and load kvm_intel or kvm_amd"
		return r
	}
	f.Close()
	r.Status, r.Detail = OK, h.KVM+" opens"
	return r
}
