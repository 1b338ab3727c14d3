package uninstall

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/fargo-dev/fargo/internal/nodegroup"
)

// Options say what to remove besides fargo's host state, and where to report.
type Options struct {
	// DataDirs are deleted too, after everything mounted in them is unmounted.
	DataDirs []string
	// DryRun lists what would be removed and removes nothing.
	DryRun bool
	// Grace is how long fargo's servers and agents get to stop on SIGTERM
	// before they are killed.
	Grace time.Duration
	// Out gets one line per thing removed (or, in a dry run, found).
	Out io.Writer
}

// Report counts what was removed, by kind.
type Report struct {
	Removed map[string]int
	Errors  []error
}

// Run removes fargo's processes and host state, in order: servers and agents,
// then the rest of the processes, mounts, network namespaces, cgroups,
// interfaces, routes, nftables tables, log links, and the data dirs.
func Run(o Options) Report {
	r := &run{o: o, rep: Report{Removed: map[string]int{}}}
	if r.o.Out == nil {
		r.o.Out = io.Discard
	}
	dirs := r.stopProcesses()
	mountinfo, _ := os.ReadFile("/proc/self/mountinfo")
	dirs = append(dirs, dataDirs(string(mountinfo))...)
	dirs = append(dirs, o.DataDirs...)
	for _, mp := range mountsUnder(string(mountinfo), dirs) {
		r.do("mount", mp, func() error { return unmount(mp) })
	}
	for _, ns := range netns() {
		r.do("network namespace", ns, func() error { return removeNetns(ns) })
	}
	for _, root := range cgroups() {
		r.do("cgroup", root, func() error { return nodegroup.RemoveCgroups(root) })
	}
	for _, l := range links() {
		if _, err := os.Stat("/sys/class/net/" + l); err != nil && !o.DryRun {
			continue // a veth's peer, gone with it
		}
		r.do("interface", l, func() error { return ip("link", "del", l) })
	}
	sel, err := routes()
	r.fail(err)
	for _, s := range sel {
		r.do("route", s, func() error { return ip(append([]string{"route", "del"}, strings.Fields(s)...)...) })
	}
	for _, t := range nftTables() {
		r.do("nftables table", t, func() error { return run1("nft", append([]string{"delete", "table"}, strings.Fields(t)...)...) })
	}
	for _, l := range logLinks(dirs) {
		r.do("log link", l, func() error { return os.Remove(l) })
	}
	for _, d := range o.DataDirs {
		if _, err := os.Stat(d); err == nil {
			r.do("data dir", d, func() error { return os.RemoveAll(d) })
		}
	}
	return r.rep
}

type run struct {
	o   Options
	rep Report
}

// do removes one thing (unless a dry run) and reports it.
func (r *run) do(kind, name string, remove func() error) {
	verb := "removed"
	if r.o.DryRun {
		verb = "would remove"
	} else if err := remove(); err != nil {
		r.fail(fmt.Errorf("removing %s %s: %w", kind, name, err))
		return
	}
	r.rep.Removed[kind]++
	fmt.Fprintf(r.o.Out, "%s %s %s\n", verb, kind, name)
}

func (r *run) fail(err error) {
	if err != nil {
		r.rep.Errors = append(r.rep.Errors, err)
		fmt.Fprintf(r.o.Out, "error: %v\n", err)
	}
}

// stopProcesses stops fargo's servers and agents (SIGTERM, then SIGKILL after
// the grace period), then kills the rest, and returns the data dirs they
// served.
func (r *run) stopProcesses() []string {
	procs := processes("/proc", os.Getpid())
	var dirs []string
	for _, p := range procs {
		if p.dir != "" {
			dirs = append(dirs, p.dir)
		}
	}
	for _, first := range []bool{true, false} {
		var pids []int
		for _, p := range procs {
			if p.first != first {
				continue
			}
			sig := syscall.SIGKILL
			if first {
				sig = syscall.SIGTERM
			}
			r.do("process", fmt.Sprintf("%d (%s)", p.pid, p.what), func() error { return signal(p.pid, sig) })
			pids = append(pids, p.pid)
		}
		if r.o.DryRun {
			continue
		}
		grace := 5 * time.Second
		if first {
			grace = r.o.Grace
		}
		if left := waitGone(pids, grace); len(left) > 0 {
			for _, pid := range left {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			if left = waitGone(left, 5*time.Second); len(left) > 0 {
				r.fail(fmt.Errorf("processes %v did not exit after SIGKILL", left))
			}
		}
	}
	return dirs
}

func signal(pid int, sig syscall.Signal) error {
	if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// waitGone waits up to d for pids to exit and returns those still there.
func waitGone(pids []int, d time.Duration) []int {
	deadline := time.Now().Add(d)
	for {
		var left []int
		for _, pid := range pids {
			if syscall.Kill(pid, 0) == nil && !zombie(fmt.Sprintf("/proc/%d", pid)) {
				left = append(left, pid)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// zombie reports whether the process at dir (/proc/<pid>) has exited and
// waits for its parent to reap it.
func zombie(dir string) bool {
	stat := string(read(filepath.Join(dir, "stat")))
	if i := strings.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] == 'Z'
	}
	return false
}

// removeNetns unmounts a named network namespace and removes its file.
func removeNetns(path string) error {
	if err := unmount(path); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func ip(args ...string) error { return run1("ip", args...) }

func run1(name string, args ...string) error {
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
