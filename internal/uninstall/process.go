package uninstall

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/fargo-dev/fargo/internal/datadir"
)

// process is one of fargo's processes on the host.
type process struct {
	pid  int
	what string // "fargo server", "containerd", "sandbox process", …
	// dir is the data dir it serves, where it says (its --data-dir flag or
	// datadir.StartedByEnv).
	dir string
	// first are fargo's servers and agents: stopped before the rest, so they
	// do not restart what is being removed.
	first bool
}

// cgroupRoots are where fargo puts its sandboxes and node-group nodes.
var cgroupRoots = []string{"/fargo", "/fargo-nodes"}

// processes lists fargo's processes from /proc (proc), leaving out self.
func processes(proc string, self int) []process {
	entries, _ := os.ReadDir(proc)
	var out []process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self || pid == 1 {
			continue
		}
		if p, ok := classify(filepath.Join(proc, e.Name()), pid); ok {
			out = append(out, p)
		}
	}
	return out
}

// classify says whether the process at dir (/proc/<pid>) is fargo's, and what.
func classify(dir string, pid int) (process, bool) {
	p := process{pid: pid}
	if zombie(dir) {
		return p, false // dead already, its parent not yet told
	}
	argv := split(read(filepath.Join(dir, "cmdline")))
	exe, _ := os.Readlink(filepath.Join(dir, "exe"))
	exe = filepath.Base(strings.TrimSuffix(exe, " (deleted)"))
	if exe == "fargo" && len(argv) > 1 {
		switch argv[1] {
		case "server", "agent":
			p.what, p.first, p.dir = "fargo "+argv[1], true, flagValue(argv, "--data-dir")
			if p.dir == "" {
				p.dir = "/var/lib/fargo"
			}
			return p, true
		case "kubelet":
			p.what = "node-group kubelet"
		}
	}
	for _, kv := range split(read(filepath.Join(dir, "environ"))) {
		if v, ok := strings.CutPrefix(kv, datadir.StartedByEnv+"="); ok {
			p.dir = v
			if p.what == "" {
				p.what = exe
			}
			return p, true
		}
	}
	if p.what != "" {
		return p, true
	}
	if inCgroups(read(filepath.Join(dir, "cgroup"))) {
		p.what = "process in fargo's cgroups (" + exe + ")"
		return p, true
	}
	return p, false
}

// inCgroups reports whether a /proc/<pid>/cgroup file places the process under
// one of fargo's cgroup roots in any hierarchy.
func inCgroups(cgroup []byte) bool {
	for _, line := range strings.Split(string(cgroup), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		for _, root := range cgroupRoots {
			if f[2] == root || strings.HasPrefix(f[2], root+"/") {
				return true
			}
		}
	}
	return false
}

// flagValue is the value of a --name=value or --name value argument.
func flagValue(argv []string, name string) string {
	for i, a := range argv {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
		if a == name && i+1 < len(argv) {
			return argv[i+1]
		}
	}
	return ""
}

func read(path string) []byte {
	data, _ := os.ReadFile(path)
	return data
}

// split is a NUL-separated /proc file's fields.
func split(data []byte) []string {
	var out []string
	for _, f := range bytes.Split(bytes.TrimRight(data, "\x00"), []byte{0}) {
		if len(f) > 0 {
			out = append(out, string(f))
		}
	}
	return out
}
