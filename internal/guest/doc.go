// Package guest is fargo-guest, the init (PID 1) of each micro-VM the microvm
// runtime boots: it mounts the guest's filesystems, loads the virtio modules
// the initramfs carries, and serves the host over a virtio-serial port with
// the fargo.guest.v1 ttrpc protocol (package api), running the pod's
// containers with runc, as Kata Containers' agent does.
//
// It imports nothing of fargo but the protocol, so the guest binary stays small.
package guest

// Paths inside the guest.
const (
	// Share is where the host's share of the sandbox (9p, tag "share") is
	// mounted: container root filesystems, volumes, pod files and logs.
	Share = "/run/fargo/share"
	// ModulesDir holds the kernel modules and "order", the load order.
	ModulesDir = "/lib/modules/fargo"
	// PortName is the virtio-serial port the host connects to.
	PortName = "fargo.guest.0"
	// ShareTag is the 9p mount tag of the host's share.
	ShareTag = "share"
	// CgroupRoot is the pod's cgroup, parent of every container's.
	CgroupRoot = "/sys/fs/cgroup/fargo"
	runcRoot   = "/run/runc"
	bundles    = "/run/fargo/bundles"
)
