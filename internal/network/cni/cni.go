// Package cni is the host dataplane of the VPC: a network namespace per sandbox,
// plugged in the way the AWS VPC CNI does (a routed veth pair, no overlay), and
// the blackhole route that keeps VPC addresses on the machine. The agent prepares
// a sandbox's network here and hands the runtime backend the netns path, as
// containerd's sandbox controller takes its netns from outside.
//
// Plugins: Debian's containernetworking-plugins (ptp with static IPAM), driven
// through libcni.
package cni

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"strings"

	"github.com/containernetworking/cni/libcni"

	"github.com/fargo-dev/fargo/internal/network/ipam"
)

// DefaultPluginDirs is where Debian's containernetworking-plugins installs them.
var DefaultPluginDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}

// CNI plugs netns into the VPC: a veth pair per sandbox (CNI's ptp plugin), the
// sandbox's IP on the inside with a default route via the subnet's router
// address, and on the host a /32 route per sandbox.
type CNI struct {
	config     *libcni.CNIConfig
	pluginDirs []string
}

// New finds the plugins in dirs (DefaultPluginDirs when empty); cacheDir keeps
// libcni's results, for teardown after a restart.
func New(dirs []string, cacheDir string) *CNI {
	if len(dirs) == 0 {
		dirs = DefaultPluginDirs
	}
	return &CNI{config: libcni.NewCNIConfigWithCacheDir(dirs, cacheDir, nil), pluginDirs: dirs}
}

// netConf is the ptp + static IPAM configuration of one sandbox.
func netConf(ip net.IP, subnet *net.IPNet, mtu int) (*libcni.PluginConfig, error) {
	ones, _ := subnet.Mask.Size()
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       "fargo-vpc",
		"type":       "ptp",
		"ipMasq":     false,
		"mtu":        mtu,
		"ipam": map[string]any{
			"type":      "static",
			"addresses": []map[string]string{{"address": fmt.Sprintf("%s/%d", ip, ones), "gateway": ipam.Router(subnet).String()}},
			"routes":    []map[string]string{{"dst": "0.0.0.0/0"}},
		},
	}
	data, err := json.Marshal(conf)
	if err != nil {
		return nil, err
	}
	pc, err := libcni.NetworkPluginConfFromBytes(data)
	if err != nil {
		return nil, fmt.Errorf("CNI config for %s: %w", ip, err)
	}
	return pc, nil
}

func runtimeConf(id, netnsPath string) *libcni.RuntimeConf {
	return &libcni.RuntimeConf{ContainerID: id, NetNS: netnsPath, IfName: "eth0"}
}

// Attach gives netns its IP on eth0 and the host its /32 route. Attaching an
// attached sandbox is not an error.
func (c *CNI) Attach(ctx context.Context, id, netnsPath string, ip net.IP, subnet *net.IPNet) error {
	pc, err := netConf(ip, subnet, 1500)
	if err != nil {
		return err
	}
	if cached, err := c.config.GetNetworkCachedResult(pc, runtimeConf(id, netnsPath)); err == nil && cached != nil {
		return nil // attached before a restart
	}
	if _, err := c.config.AddNetwork(ctx, pc, runtimeConf(id, netnsPath)); err != nil {
		return fmt.Errorf("attaching sandbox %s (%s) with CNI ptp from %s: %w", id, ip, strings.Join(c.pluginDirs, ":"), err)
	}
	return nil
}

// Detach removes the veth pair and the host route; a detached sandbox is fine.
func (c *CNI) Detach(ctx context.Context, id, netnsPath string, ip net.IP, subnet *net.IPNet) error {
	pc, err := netConf(ip, subnet, 1500)
	if err != nil {
		return err
	}
	if err := c.config.DelNetwork(ctx, pc, runtimeConf(id, netnsPath)); err != nil {
		return fmt.Errorf("detaching sandbox %s (%s): %w", id, ip, err)
	}
	return nil
}

// RouteProtocol marks the routes fargo makes on the host (`ip route show table
// all proto 250`), so that `fargo uninstall` removes them and nothing else.
const (
	RouteProtocol     = 250
	RouteProtocolName = "250"
)

// RouteLocal makes ip, a load balancer's address inside the blackholed VPC,
// reachable from the host's own processes (add) or not (remove): a local route
// lets a connect to it pass the route lookup, and kube-proxy's output rules then
// send it on to an endpoint, as they do a cluster IP. Pods' traffic to it needs
// no route: kube-proxy rewrites it as it enters the host.
func RouteLocal(ip net.IP, add bool) error {
	return routeLocal(&net.IPNet{IP: ip, Mask: net.CIDRMask(32, 32)}, add)
}

// RouteServices routes the service CIDR locally on the host, for the same
// reason: the host's own connections to cluster IPs pass the route lookup and
// kube-proxy sends them on, and a cluster IP kube-proxy has no rule for (not
// yet synced, or not running) stays on this machine instead of following the
// default route off it.
func RouteServices(services *net.IPNet) error { return routeLocal(services, true) }

func routeLocal(n *net.IPNet, add bool) error {
	verb := "replace"
	if !add {
		verb = "del"
	}
	args := []string{"route", verb, "local", n.String(), "dev", "lo", "table", "local"}
	if add {
		args = append(args, "proto", RouteProtocolName)
	}
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil && !(verb == "del" && strings.Contains(string(out), "No such process")) {
		return fmt.Errorf("ip route %s local %s: %v: %s", verb, n, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// BlackholeVPC routes the VPC CIDR to a blackhole on the host, under the
// per-sandbox /32 routes: VPC addresses without a sandbox here go nowhere.
func BlackholeVPC(vpc *net.IPNet) error {
	if out, err := exec.Command("ip", "route", "replace", "blackhole", vpc.String(), "proto", RouteProtocolName).CombinedOutput(); err != nil {
		return fmt.Errorf("routing VPC %s to a blackhole on the host: %v: %s", vpc, err, strings.TrimSpace(string(out)))
	}
	return nil
}
