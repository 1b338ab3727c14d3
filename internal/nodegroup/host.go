package nodegroup

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/fargo-dev/fargo/internal/instancetype"
)

// linkName is the host-side interface carrying a node's address: "fgn" and the
// address in hex, within the kernel's 15 characters. This kernel has no dummy
// link type, so it is one end of a veth pair whose other end ("fgp…") is unused.
func linkName(ip net.IP) string { return fmt.Sprintf("fgn%x", []byte(ip.To4())) }

func peerName(ip net.IP) string { return fmt.Sprintf("fgp%x", []byte(ip.To4())) }

// ensureAddress puts the node's address on its own host interface, up.
func ensureAddress(ip net.IP) error {
	link, err := netlink.LinkByName(linkName(ip))
	if err != nil {
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: linkName(ip)}, PeerName: peerName(ip)}
		if err := netlink.LinkAdd(veth); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("adding interface %s for node address %s: %w", linkName(ip), ip, err)
		}
		if link, err = netlink.LinkByName(linkName(ip)); err != nil {
			return fmt.Errorf("finding interface %s: %w", linkName(ip), err)
		}
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: ip, Mask: net.CIDRMask(32, 32)}}
	if err := netlink.AddrReplace(link, addr); err != nil {
		return fmt.Errorf("adding %s to %s: %w", ip, linkName(ip), err)
	}
	for _, name := range []string{peerName(ip), linkName(ip)} {
		if l, err := netlink.LinkByName(name); err == nil {
			if err := netlink.LinkSetUp(l); err != nil {
				return fmt.Errorf("setting %s up: %w", name, err)
			}
		}
	}
	return nil
}

// removeAddress takes the node's interface (and so its address) away.
func removeAddress(ip net.IP) error {
	link, err := netlink.LinkByName(linkName(ip))
	if err != nil {
		return nil // gone already
	}
	if err := netlink.LinkDel(link); err != nil {
		return fmt.Errorf("removing interface %s: %w", linkName(ip), err)
	}
	return nil
}

// cgroupV1 is where the v1 hierarchies are mounted.
const cgroupV1 = "/sys/fs/cgroup"

// ensureCgroups makes the node's cgroup in every hierarchy (the kubelet refuses a
// cgroupRoot with missing paths), with cpuset's CPUs and memory nodes copied
// down from the parent, and limits it to the instance type's size.
func ensureCgroups(root string, t instancetype.Type) error {
	hierarchies, err := os.ReadDir(cgroupV1)
	if err != nil {
		return fmt.Errorf("reading %s: %w", cgroupV1, err)
	}
	for _, h := range hierarchies {
		base := filepath.Join(cgroupV1, h.Name())
		if fi, err := os.Lstat(base); err != nil || !fi.IsDir() || h.Name() == "unified" {
			continue // a symlink (cpu -> cpu,cpuacct) or the v2 mount
		}
		path := base
		for _, part := range strings.Split(strings.Trim(root, "/"), "/") {
			parent := path
			path = filepath.Join(path, part)
			if err := os.Mkdir(path, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
				return fmt.Errorf("creating cgroup %s: %w", path, err)
			}
			if strings.Contains(h.Name(), "cpuset") {
				for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
					if v, err := os.ReadFile(filepath.Join(parent, f)); err == nil {
						_ = os.WriteFile(filepath.Join(path, f), v, 0o644)
					}
				}
			}
		}
		switch {
		case h.Name() == "memory":
			if err := os.WriteFile(filepath.Join(path, "memory.limit_in_bytes"), []byte(fmt.Sprint(t.MemoryMiB<<20)), 0o644); err != nil {
				return fmt.Errorf("limiting node memory: %w", err)
			}
		case fileExists(filepath.Join(path, "cpu.cfs_quota_us")):
			_ = os.WriteFile(filepath.Join(path, "cpu.cfs_period_us"), []byte("100000"), 0o644)
			if err := os.WriteFile(filepath.Join(path, "cpu.cfs_quota_us"), []byte(fmt.Sprint(t.VCPU*100000)), 0o644); err != nil {
				return fmt.Errorf("limiting node CPU: %w", err)
			}
		}
	}
	return nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// machineMemoryMiB is MemTotal, what the kubelet reports as memory capacity.
func machineMemoryMiB() (int64, error) {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, fmt.Errorf("reading the machine's memory: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		var kb int64
		if _, err := fmt.Sscanf(line, "MemTotal: %d kB", &kb); err == nil {
			return kb >> 10, nil
		}
	}
	return 0, fmt.Errorf("no MemTotal in /proc/meminfo")
}
