package preflight

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/fargo-dev/fargo/internal/controlplane"
)

// Status is a check's outcome.
type Status string

const (
	OK   Status = "ok"
	Fail Status = "FAIL" // fargo cannot run as asked
	Warn Status = "warn" // fargo runs, without something
)

// Result is one check: what it looked at, what it found, and the fix.
type Result struct {
	Name   string
	Status Status
	Detail string
	Fix    string
}

// Host is what the checks look at: the server's ports and data dir, whether
// the host runs sandboxes (a runtime that runs processes) and node groups, and
// the paths of this machine (tests point them elsewhere).
type Host struct {
	Ports      []controlplane.Port
	DataDir    string
	Sandboxes  bool
	NodeGroups bool

	PluginDirs []string   // CNI plugins; default cni.DefaultPluginDirs
	CgroupRoot string     // default /sys/fs/cgroup
	KVM        string     // default /dev/kvm
	Euid       func() int // default os.Geteuid
	// LookPath finds a program; default exec.LookPath.
	LookPath func(string) (string, error)
	// Command runs a command, for probes that need one (nft list tables).
	Command func(name string, args ...string) error
}

// Run runs every check that applies to h, in the order a user fixes them.
func (h Host) Run() []Result {
	h.defaults()
	checks := []func() Result{h.root, h.ports, h.disk}
	if h.Sandboxes || h.NodeGroups {
		checks = append(checks, h.cgroups, h.nft, h.iproute, h.cniPlugins, h.containerd)
	}
	if h.Sandboxes {
		checks = append(checks, h.lxcfs)
	}
	checks = append(checks, h.kvm)
	out := make([]Result, 0, len(checks))
	for _, c := range checks {
		out = append(out, c())
	}
	return out
}

// Failed counts the results that keep fargo from running.
func Failed(rs []Result) int {
	n := 0
	for _, r := range rs {
		if r.Status == Fail {
			n++
		}
	}
	return n
}

// Print writes one line per result, the fix beside each that is not ok.
func Print(w io.Writer, rs []Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range rs {
		line := fmt.Sprintf("%s\t%s\t%s", r.Status, r.Name, r.Detail)
		if r.Status != OK && r.Fix != "" {
			line += "\tfix: " + r.Fix
		}
		fmt.Fprintln(tw, line)
	}
	_ = tw.Flush()
}

// needed lists the names in names that none of dirs holds as a file.
func needed(dirs, names []string) []string {
	var missing []string
	for _, n := range names {
		found := false
		for _, d := range dirs {
			if st, err := os.Stat(filepath.Join(d, n)); err == nil && !st.IsDir() {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, n)
		}
	}
	return missing
}

// joined is names as "a, b and c".
func joined(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
