package network

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"strings"

	"github.com/containernetworking/cni/libcni"
)

// DefaultPluginDirs is where Debian's containernetworking-plugins installs them.
var DefaultPluginDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}

// CNI plugs sandboxes into the VPC the way the AWS VPC CNI does: a veth pair per
// sandbox (CNI's ptp plugin, driven by libcni), the sandbox's IP on the inside
// with a default route via the subnet's router address, and on the host a /32
// route per sandbox. The host routes the whole VPC CIDR to a blackhole under those
// /32s, so no packet for a VPC address ever leaves the machine.
type CNI struct {
	config     *libcni.CNIConfig
	pluginDirs []string
}

// NewCNI finds the plugins in dirs (DefaultPluginDirs when empty); cacheDir keeps
// libcni's results, for teardown after a restart.
func NewCNI(dirs []string, cacheDir string) *CNI {
	if len(dirs) == 0 {
		dirs = DefaultPluginDirs
	}
	return &CNI{config: libcni.NewCNIConfigWithCacheDir(dirs, cacheDir, nil), pluginDirs: dirs}
}

// Router is the subnet's router address (its base + 1, as in an AWS VPC): the
// gateway every sandbox of the subnet routes through.
func Router(subnet *net.IPNet) net.IP {
	ip := make(net.IP, 4)
	binary.BigEndian.PutUint32(ip, binary.BigEndian.Uint32(subnet.IP.To4())+1)
	return ip
}

// netConf is the ptp + static IPAM configuration of one sandbox.
func netConf(ip net.IP, subnet *net.IPNet, mtu int) ([]byte, error) {
	ones, _ := subnet.Mask.Size()
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       "fargo-vpc",
		"type":       "ptp",
		"ipMasq":     false,
		"mtu":        mtu,
		"ipam": map[string]any{
			"type":      "static",
			"addresses": []map[string]string{{"address": fmt.Sprintf("%s/%d", ip, ones), "gateway": Router(subnet).String()}},
			"routes":    []map[string]string{{"dst": "0.0.0.0/0"}},
		},
	}
	return json.Marshal(conf)
}

func runtimeConf(id, netnsPath string) *libcni.RuntimeConf {
	return &libcni.RuntimeConf{ContainerID: id, NetNS: netnsPath, IfName: "eth0"}
}

// Attach gives the sandbox's netns its IP on eth0 and the host its /32 route.
// Attaching an attached sandbox is not an error.
func (c *CNI) Attach(ctx context.Context, id, netnsPath string, ip net.IP, subnet *net.IPNet) error {
	conf, err := netConf(ip, subnet, 1500)
	if err != nil {
		return err
	}
	pc, err := libcni.NetworkPluginConfFromBytes(conf)
	if err != nil {
		return fmt.Errorf("CNI config of sandbox %s: %w", id, err)
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
	conf, err := netConf(ip, subnet, 1500)
	if err != nil {
		return err
	}
	pc, err := libcni.NetworkPluginConfFromBytes(conf)
	if err != nil {
		return err
	}
	if err := c.config.DelNetwork(ctx, pc, runtimeConf(id, netnsPath)); err != nil {
		return fmt.Errorf("detaching sandbox %s (%s): %w", id, ip, err)
	}
	return nil
}

// BlackholeVPC routes the VPC CIDR to a blackhole on the host, under the
// per-sandbox /32 routes: VPC addresses without a sandbox here go nowhere.
func BlackholeVPC(vpc *net.IPNet) error {
	if out, err := exec.Command("ip", "route", "replace", "blackhole", vpc.String()).CombinedOutput(); err != nil {
		return fmt.Errorf("routing VPC %s to a blackhole on the host: %v: %s", vpc, err, strings.TrimSpace(string(out)))
	}
	return nil
}
