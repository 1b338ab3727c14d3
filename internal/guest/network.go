package guest

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/fargo-dev/fargo/internal/guest/api"
)

// setup makes the guest the pod's host: the NIC with the MAC the host gave it
// takes the pod's addresses and routes (copied from the sandbox's netns, so
// whatever the CNI plugins set up holds), and the guest takes its hostname
// and the pod's sysctls.
func setup(req *api.SetupRequest) error {
	if err := unix.Sethostname([]byte(req.Hostname)); err != nil {
		return fmt.Errorf("setting the hostname: %w", err)
	}
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("finding lo: %w", err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return fmt.Errorf("bringing lo up: %w", err)
	}
	link, err := linkByMAC(req.Mac)
	if err != nil {
		return err
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("bringing %s up: %w", link.Attrs().Name, err)
	}
	for _, a := range req.Addresses {
		addr, err := netlink.ParseAddr(a.Cidr)
		if err != nil {
			return fmt.Errorf("address %q: %w", a.Cidr, err)
		}
		if err := netlink.AddrReplace(link, addr); err != nil {
			return fmt.Errorf("adding %s to %s: %w", a.Cidr, link.Attrs().Name, err)
		}
	}
	// On-link routes first: a gateway must be reachable when its route goes in.
	for _, onLink := range []bool{true, false} {
		for _, r := range req.Routes {
			if r.Link != onLink {
				continue
			}
			route := netlink.Route{LinkIndex: link.Attrs().Index}
			if r.Destination != "" {
				_, dst, err := net.ParseCIDR(r.Destination)
				if err != nil {
					return fmt.Errorf("route %q: %w", r.Destination, err)
				}
				route.Dst = dst
			}
			if r.Gateway != "" {
				route.Gw = net.ParseIP(r.Gateway)
			}
			if r.Link {
				route.Scope = netlink.SCOPE_LINK
			}
			if err := netlink.RouteReplace(&route); err != nil {
				return fmt.Errorf("adding route %+v: %w", r, err)
			}
		}
	}
	for k, v := range req.Sysctls {
		path := filepath.Join("/proc/sys", strings.ReplaceAll(k, ".", "/"))
		if err := os.WriteFile(path, []byte(v), 0o644); err != nil {
			return fmt.Errorf("setting sysctl %s: %w", k, err)
		}
	}
	return podLimits(req.MilliCpu, req.MemoryBytes)
}

func linkByMAC(mac string) (netlink.Link, error) {
	links, err := netlink.LinkList()
	if err != nil {
		return nil, fmt.Errorf("listing links: %w", err)
	}
	for _, l := range links {
		if strings.EqualFold(l.Attrs().HardwareAddr.String(), mac) {
			return l, nil
		}
	}
	return nil, fmt.Errorf("no interface with MAC %s", mac)
}

// podLimits caps the pod's cgroup at its provisioned size: a fraction of a
// vCPU is a quota (the VM has whole vCPUs), memory a limit.
func podLimits(milliCPU, memoryBytes int64) error {
	if milliCPU > 0 {
		const period = 100000
		if err := os.WriteFile(filepath.Join(CgroupRoot, "cpu.max"), fmt.Appendf(nil, "%d %d", milliCPU*period/1000, period), 0o644); err != nil {
			return fmt.Errorf("setting the pod's CPU quota: %w", err)
		}
	}
	if memoryBytes > 0 {
		if err := os.WriteFile(filepath.Join(CgroupRoot, "memory.max"), fmt.Appendf(nil, "%d", memoryBytes), 0o644); err != nil {
			return fmt.Errorf("setting the pod's memory limit: %w", err)
		}
	}
	return nil
}
