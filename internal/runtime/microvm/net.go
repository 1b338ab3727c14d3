package microvm

import (
	"fmt"
	"os"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/fargo-dev/fargo/internal/guest/api"
)

// The VM's NIC: a tap in the sandbox's netns, joined to the netns's eth0 (the
// veth the agent attached) by two tc redirects, as Kata's "tcfilter" model
// does. The guest's NIC takes eth0's MAC, addresses and routes, so the
// network outside the netns sees the same pod as with containers.

const (
	podIf = "eth0"
	tapIf = "tap0"
)

// nic is what the guest's network is made from.
type nic struct {
	tap   *os.File // the tap's queue, for QEMU
	setup *api.SetupRequest
}

// attachTap makes the tap in the netns at path, redirects eth0 ↔ tap, and
// reads eth0's MAC, addresses and routes for the guest.
func attachTap(path string) (*nic, error) {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("opening netns %s: %w", path, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("netlink in %s: %w", path, err)
	}
	defer h.Close()
	eth, err := h.LinkByName(podIf)
	if err != nil {
		return nil, fmt.Errorf("finding %s in %s: %w", podIf, path, err)
	}
	// A tap left by a VM that died is gone with its fd; one of a boot cut off
	// midway may still be there.
	if old, err := h.LinkByName(tapIf); err == nil {
		_ = h.LinkDel(old)
	}
	tap, err := newTap(ns)
	if err != nil {
		return nil, err
	}
	link, err := h.LinkByName(tapIf)
	if err != nil {
		tap.Close()
		return nil, fmt.Errorf("finding %s: %w", tapIf, err)
	}
	if err := h.LinkSetMTU(link, eth.Attrs().MTU); err != nil {
		tap.Close()
		return nil, fmt.Errorf("setting the MTU of %s: %w", tapIf, err)
	}
	if err := h.LinkSetUp(link); err != nil {
		tap.Close()
		return nil, fmt.Errorf("bringing %s up: %w", tapIf, err)
	}
	for _, p := range [][2]netlink.Link{{eth, link}, {link, eth}} {
		if err := redirect(h, p[0], p[1]); err != nil {
			tap.Close()
			return nil, err
		}
	}
	setup, err := guestNetwork(h, eth)
	if err != nil {
		tap.Close()
		return nil, err
	}
	return &nic{tap: tap, setup: setup}, nil
}

// newTap creates the tap in ns and opens its queue: the ioctl makes it in
// the calling thread's netns, so the thread enters ns for it.
func newTap(ns netns.NsHandle) (*os.File, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("reading this thread's netns: %w", err)
	}
	defer orig.Close()
	if err := netns.Set(ns); err != nil {
		return nil, fmt.Errorf("entering the sandbox's netns: %w", err)
	}
	defer func() {
		if err := netns.Set(orig); err != nil {
			panic(fmt.Sprintf("returning to the host's netns: %v", err)) // a thread left in a sandbox must not serve anything else
		}
	}()
	tap := &netlink.Tuntap{LinkAttrs: netlink.LinkAttrs{Name: tapIf}, Mode: netlink.TUNTAP_MODE_TAP,
		Flags: netlink.TUNTAP_NO_PI | netlink.TUNTAP_VNET_HDR, Queues: 1, NonPersist: true}
	if err := netlink.LinkAdd(tap); err != nil {
		return nil, fmt.Errorf("creating %s: %w", tapIf, err)
	}
	if len(tap.Fds) != 1 {
		return nil, fmt.Errorf("creating %s: %d queues opened, want 1", tapIf, len(tap.Fds))
	}
	return tap.Fds[0], nil
}

// redirect sends every frame arriving on from out of to.
func redirect(h *netlink.Handle, from, to netlink.Link) error {
	ingress := &netlink.Ingress{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: from.Attrs().Index, Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_INGRESS}}
	// One left by an earlier boot goes, with its filter to a tap now gone (an
	// ingress qdisc cannot be replaced).
	_ = h.QdiscDel(ingress)
	if err := h.QdiscAdd(ingress); err != nil {
		return fmt.Errorf("adding the ingress qdisc of %s: %w", from.Attrs().Name, err)
	}
	filter := &netlink.U32{
		FilterAttrs: netlink.FilterAttrs{LinkIndex: from.Attrs().Index, Parent: netlink.MakeHandle(0xffff, 0), Priority: 1, Protocol: unix.ETH_P_ALL},
		Sel:         &netlink.TcU32Sel{Keys: []netlink.TcU32Key{{Mask: 0, Val: 0}}, Flags: netlink.TC_U32_TERMINAL},
		Actions: []netlink.Action{&netlink.MirredAction{ActionAttrs: netlink.ActionAttrs{Action: netlink.TC_ACT_STOLEN},
			MirredAction: netlink.TCA_EGRESS_REDIR, Ifindex: to.Attrs().Index}},
	}
	if err := h.FilterReplace(filter); err != nil {
		return fmt.Errorf("redirecting %s to %s: %w", from.Attrs().Name, to.Attrs().Name, err)
	}
	return nil
}

// guestNetwork is eth0's configuration, for the guest's NIC.
func guestNetwork(h *netlink.Handle, eth netlink.Link) (*api.SetupRequest, error) {
	req := &api.SetupRequest{Mac: eth.Attrs().HardwareAddr.String()}
	addrs, err := h.AddrList(eth, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("reading the addresses of %s: %w", podIf, err)
	}
	for _, a := range addrs {
		req.Addresses = append(req.Addresses, &api.Address{Cidr: a.IPNet.String()})
	}
	routes, err := h.RouteList(eth, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("reading the routes of %s: %w", podIf, err)
	}
	for _, r := range routes {
		out := &api.Route{Link: r.Scope == netlink.SCOPE_LINK}
		if r.Dst != nil {
			out.Destination = r.Dst.String()
		}
		if r.Gw != nil {
			out.Gateway = r.Gw.String()
		}
		req.Routes = append(req.Routes, out)
	}
	if len(req.Addresses) == 0 {
		return nil, fmt.Errorf("%s has no IPv4 address: the sandbox's network is not attached", podIf)
	}
	return req, nil
}
