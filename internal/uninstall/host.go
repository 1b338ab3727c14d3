package uninstall

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/fargo-dev/fargo/internal/network/cni"
)

// netnsDir holds named network namespaces; fargo's sandboxes' are fargo-*.
const netnsDir = "/run/netns"

// mountsUnder lists the mount points of mountinfo (/proc/self/mountinfo's
// text) that are one of dirs or below, or a sandbox's network namespace,
// innermost (longest) first.
func mountsUnder(mountinfo string, dirs []string) []string {
	var out []string
	for _, mp := range mountPoints(mountinfo) {
		if strings.HasPrefix(mp, netnsDir+"/fargo-") || under(mp, dirs) {
			out = append(out, mp)
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// dataDirs finds the data dirs of fargo servers and agents that are gone (a
// killed server, a deleted process) by the marks their mounts carry:
// sandboxes' namespaces and rootfs and LXCFS under DIR/containerd, node-group
// nodes' kubelets and containerd under DIR/nodes/<node IP>.
func dataDirs(mountinfo string) []string {
	seen := map[string]bool{}
	var out []string
	for _, mp := range mountPoints(mountinfo) {
		if d := dataDirOf(mp); d != "" && !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// dataDirOf returns the data dir a mount point of fargo's lies in, or "".
func dataDirOf(mp string) string {
	if i := strings.Index(mp, "/nodes/"); i > 0 {
		node, rest, _ := strings.Cut(mp[i+len("/nodes/"):], "/")
		if net.ParseIP(node) != nil && (rest == "kubelet" || strings.HasPrefix(rest, "containerd/")) {
			return mp[:i]
		}
	}
	for _, mark := range []string{"/containerd/ns/", "/containerd/lxcfs", "/containerd/state/io.containerd.runtime.v2.task/fargo/"} {
		if i := strings.Index(mp, mark); i > 0 {
			return mp[:i]
		}
	}
	return ""
}

// mountPoints lists the mount points of mountinfo (/proc/self/mountinfo's text).
func mountPoints(mountinfo string) []string {
	var out []string
	for _, line := range strings.Split(mountinfo, "\n") {
		if f := strings.Fields(line); len(f) >= 5 {
			out = append(out, unescape(f[4]))
		}
	}
	return out
}

func under(path string, dirs []string) bool {
	for _, d := range dirs {
		if d != "" && d != "/" && (path == d || strings.HasPrefix(path, strings.TrimSuffix(d, "/")+"/")) {
			return true
		}
	}
	return false
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var c int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &c); err == nil {
				b.WriteByte(byte(c))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unmount detaches a mount point; one already gone is no error.
func unmount(mp string) error {
	if err := syscall.Unmount(mp, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("unmounting %s: %w", mp, err)
	}
	return nil
}

// netns lists the sandboxes' named network namespaces.
func netns() []string {
	paths, _ := filepath.Glob(filepath.Join(netnsDir, "fargo-*"))
	return paths
}

// links lists node-group nodes' interfaces (fgn… and their fgp… peers).
func links() []string {
	paths, _ := filepath.Glob("/sys/class/net/fg[np]*")
	var out []string
	for _, p := range paths {
		out = append(out, filepath.Base(p))
	}
	return out
}

// routes lists fargo's routes, one `ip route` selector each ("blackhole
// 192.168.0.0/16 table main", "local 10.100.0.0/24 dev lo table local").
func routes() ([]string, error) {
	out, err := exec.Command("ip", "-4", "route", "show", "table", "all", "proto", cni.RouteProtocolName).Output()
	if err != nil {
		return nil, fmt.Errorf("listing routes: %w", err)
	}
	return parseRoutes(string(out)), nil
}

// parseRoutes turns `ip route show table all` lines into selectors for `ip
// route del`: type, destination, device and table.
func parseRoutes(out string) []string {
	var sel []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		typ, i := "unicast", 0
		switch f[0] {
		case "blackhole", "local", "unreachable", "prohibit", "broadcast", "throw":
			typ, i = f[0], 1
		}
		if i >= len(f) {
			continue
		}
		s := []string{typ, f[i]}
		table := "main"
		for j := i + 1; j+1 < len(f); j++ {
			switch f[j] {
			case "dev":
				s = append(s, "dev", f[j+1])
			case "table":
				table = f[j+1]
			}
		}
		sel = append(sel, strings.Join(append(s, "table", table), " "))
	}
	return sel
}

// nftTables lists the nftables tables fargo's service proxy owns.
func nftTables() []string {
	out, err := exec.Command("nft", "list", "tables").Output()
	if err != nil {
		return nil
	}
	var tables []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "table" && f[2] == "kube-proxy" {
			tables = append(tables, f[1]+" "+f[2])
		}
	}
	return tables
}

// cgroups lists fargo's cgroup roots that exist in some hierarchy.
func cgroups() []string {
	var out []string
	for _, root := range cgroupRoots {
		if paths, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", root)); len(paths) > 0 {
			out = append(out, root)
		}
	}
	return out
}

// logLinks lists kubelet links in /var/log/containers that point into dirs, or
// into a node-group node's pod-logs dir that is gone (its data dir deleted).
func logLinks(dirs []string) []string {
	paths, _ := filepath.Glob("/var/log/containers/*.log")
	var out []string
	for _, p := range paths {
		target, err := os.Readlink(p)
		if err != nil {
			continue
		}
		_, err = os.Stat(p)
		if under(target, dirs) || (errors.Is(err, os.ErrNotExist) && strings.Contains(target, "/pod-logs/")) {
			out = append(out, p)
		}
	}
	return out
}
