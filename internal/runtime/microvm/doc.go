// Package microvm is the runtime backend that gives each sandbox its own
// kernel: a QEMU microvm machine booting Debian's kernel with fargo-guest as
// init (internal/guest), which runs the pod's containers with runc, as Kata
// Containers does. The host side keeps what the containerd backend has:
// images and root filesystems come from fargo's containerd (pulled and
// unpacked there, each container's snapshot mounted on the host), and the
// sandbox's netns the agent prepared carries the VM's NIC (a tap joined to
// the veth by tc redirects), so routes, Services and DNS do not change.
//
// Per sandbox, under DATA/microvm/<id>/:
//
//	sandbox.json       the runtime.Sandbox it was created with
//	qemu.pid           QEMU (-daemonize: VMs outlive the agent and are adopted)
//	guest.sock         the guest agent's virtio-serial port (ttrpc fargo.guest.v1)
//	qmp.sock           QEMU's monitor
//	console.log        the guest's serial console
//	containers.json    the containers' last known statuses (after a stop or crash)
//	share/             the guest's /run/fargo/share over 9p: rootfs/<ctr>,
//	                   mounts/<ctr>/<n>, files/, logs/<name>/<attempt>.log
//
// The image's root filesystem reaches the guest over 9p: Debian 12 ships no
// virtiofsd, and microvm machines take no hot-plugged block devices, while
// containers start after the VM boots.
package microvm
