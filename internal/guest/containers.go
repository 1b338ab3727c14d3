package guest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/fargo-dev/fargo/internal/guest/api"
)

// container is one container the guest runs with runc.
type container struct {
	id     string
	labels map[string]string
	cgroup string // under /sys/fs/cgroup
	pid    int
	log    *criLog

	mu       sync.Mutex
	running  bool
	exitCode int32
	oom      bool
	started  time.Time
	finished time.Time
	res      *specs.LinuxResources
}

// containers are the guest's containers by ID.
type containers struct {
	reaper *reaper
	mu     sync.Mutex
	byID   map[string]*container
}

// runc runs runc with the guest's state root and waits for it; its error
// carries runc's own log (its stderr belongs to the container).
func (cs *containers) runc(logFile string, stdio [3]*os.File, args ...string) error {
	all := append([]string{"--root", runcRoot, "--log", logFile, "--log-format", "json"}, args...)
	cmd := exec.Command("runc", all...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio[0], stdio[1], stdio[2]
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("runc %s: %w", args[0], err)
	}
	ws := <-cs.reaper.exit(cmd.Process.Pid)
	logf("runc %s: exit %d after %s", args[0], code(ws), time.Since(start).Round(time.Millisecond))
	_ = cmd.Process.Release()
	if ws.ExitStatus() != 0 || ws.Signaled() {
		return fmt.Errorf("runc %s: exit %d: %s", args[0], code(ws), lastRuncError(logFile))
	}
	return nil
}

// lastRuncError is the last error runc logged (JSON lines with "msg").
func lastRuncError(logFile string) string {
	f, err := os.Open(logFile)
	if err != nil {
		return "no log"
	}
	defer f.Close()
	msg := "no error logged"
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec struct{ Level, Msg string }
		if json.Unmarshal(sc.Bytes(), &rec) == nil && (rec.Level == "error" || rec.Level == "fatal") {
			msg = rec.Msg
		}
	}
	return msg
}

func devNull() *os.File {
	f, _ := os.OpenFile("/dev/null", os.O_RDWR, 0)
	return f
}

// create writes the bundle, creates the container with runc and starts it.
// runc runs with --no-pivot: pivot_root cannot leave the initramfs the guest
// runs from (Kata's agent does the same for initrd guests).
func (cs *containers) create(req *api.CreateRequest) (*container, error) {
	cs.mu.Lock()
	if c, ok := cs.byID[req.Id]; ok {
		cs.mu.Unlock()
		return c, nil
	}
	cs.mu.Unlock()
	if req.Tty || req.Stdin {
		return nil, fmt.Errorf("container %s: stdin and TTY are not supported by the microvm runtime yet", req.Id)
	}
	var spec specs.Spec
	if err := json.Unmarshal(req.Spec, &spec); err != nil || spec.Linux == nil {
		return nil, fmt.Errorf("reading the spec of %s: %v", req.Id, err)
	}
	// The pod's sysctls are the guest's (its network, IPC and UTS namespaces
	// are the pod's); runc refuses net.* ones without a netns of its own.
	if len(spec.Linux.Sysctl) > 0 {
		for k, v := range spec.Linux.Sysctl {
			if err := os.WriteFile(filepath.Join("/proc/sys", strings.ReplaceAll(k, ".", "/")), []byte(v), 0o644); err != nil {
				return nil, fmt.Errorf("setting sysctl %s: %w", k, err)
			}
		}
		spec.Linux.Sysctl = nil
		b, err := json.Marshal(&spec)
		if err != nil {
			return nil, err
		}
		req.Spec = b
	}
	bundle := filepath.Join(bundles, req.Id)
	_ = os.RemoveAll(bundle)
	if err := os.MkdirAll(bundle, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), req.Spec, 0o600); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(req.LogPath), 0o755); err != nil {
		return nil, fmt.Errorf("creating the log directory: %w", err)
	}
	log, err := openLog(req.LogPath)
	if err != nil {
		return nil, fmt.Errorf("opening the log of %s: %w", req.Id, err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	null := devNull()
	runcLog := filepath.Join(bundle, "runc.log")
	err = cs.runc(runcLog, [3]*os.File{null, outW, errW}, "create", "--no-pivot", "--bundle", bundle, "--pid-file", filepath.Join(bundle, "pid"), req.Id)
	_ = null.Close()
	_ = outW.Close()
	_ = errW.Close()
	if err != nil {
		_ = outR.Close()
		_ = errR.Close()
		log.close()
		return nil, err
	}
	go log.copy("stdout", outR)
	go log.copy("stderr", errR)
	b, _ := os.ReadFile(filepath.Join(bundle, "pid"))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	c := &container{id: req.Id, labels: req.Labels, cgroup: spec.Linux.CgroupsPath, pid: pid, log: log, running: true, res: spec.Linux.Resources}
	exited := cs.reaper.exit(pid)
	if err := cs.runc(runcLog, [3]*os.File{nil, nil, nil}, "start", req.Id); err != nil {
		_ = cs.runc(runcLog, [3]*os.File{}, "delete", "--force", req.Id)
		return nil, err
	}
	c.started = time.Now()
	cs.mu.Lock()
	cs.byID[req.Id] = c
	cs.mu.Unlock()
	go cs.watch(c, exited, runcLog)
	return c, nil
}

// watch records the container's exit, then frees its runc state and cgroup.
func (cs *containers) watch(c *container, exited <-chan unix.WaitStatus, runcLog string) {
	ws := <-exited
	oom := oomKilled(c.cgroup)
	_ = cs.runc(runcLog, [3]*os.File{}, "delete", "--force", c.id)
	c.mu.Lock()
	c.running, c.exitCode, c.oom, c.finished = false, code(ws), oom, time.Now()
	c.mu.Unlock()
	// The log's pipes end with the container's last process; its file closes
	// when the container is removed.
}

// oomKilled reads whether the kernel killed a process of the cgroup for memory.
func oomKilled(cgroup string) bool {
	b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", cgroup, "memory.events"))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "oom_kill" && f[1] != "0" {
			return true
		}
	}
	return false
}

func (cs *containers) get(id string) (*container, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	c, ok := cs.byID[id]
	if !ok {
		return nil, fmt.Errorf("container %s: not found", id)
	}
	return c, nil
}

// kill signals the container's init, or every process of its cgroup with all.
func (cs *containers) kill(id string, sig unix.Signal, all bool) error {
	c, err := cs.get(id)
	if err != nil {
		return err
	}
	c.mu.Lock()
	running := c.running
	c.mu.Unlock()
	if !running {
		return nil
	}
	if all {
		b, _ := os.ReadFile(filepath.Join("/sys/fs/cgroup", c.cgroup, "cgroup.procs"))
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				_ = unix.Kill(pid, sig)
			}
		}
	}
	if err := unix.Kill(c.pid, sig); err != nil && err != unix.ESRCH {
		return fmt.Errorf("signalling container %s: %w", id, err)
	}
	return nil
}

// remove kills a running container, waits for its exit and forgets it.
func (cs *containers) remove(id string) error {
	c, err := cs.get(id)
	if err != nil {
		return nil
	}
	if err := cs.kill(id, unix.SIGKILL, true); err != nil {
		return err
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c.mu.Lock()
		running := c.running
		c.mu.Unlock()
		if !running {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("container %s still runs 10s after SIGKILL", id)
		}
	}
	c.log.close()
	cs.mu.Lock()
	delete(cs.byID, id)
	cs.mu.Unlock()
	return os.RemoveAll(filepath.Join(bundles, id))
}

func (c *container) status() *api.Container {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := &api.Container{Id: c.id, Labels: c.labels, Running: c.running, ExitCode: c.exitCode, OomKilled: c.oom, Pid: int32(c.pid)}
	if !c.started.IsZero() {
		out.StartedUnixNano = c.started.UnixNano()
	}
	if !c.finished.IsZero() {
		out.FinishedUnixNano = c.finished.UnixNano()
	}
	if r := c.res; r != nil {
		if r.CPU != nil {
			if r.CPU.Shares != nil {
				out.CpuWeight = int64(*r.CPU.Shares)
			}
			if r.CPU.Quota != nil {
				out.CpuQuota = *r.CPU.Quota
			}
			if r.CPU.Period != nil {
				out.CpuPeriod = int64(*r.CPU.Period)
			}
		}
		if r.Memory != nil && r.Memory.Limit != nil {
			out.MemoryLimit = *r.Memory.Limit
		}
	}
	return out
}

func (cs *containers) list() []*api.Container {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	out := make([]*api.Container, 0, len(cs.byID))
	for _, c := range cs.byID {
		out = append(out, c.status())
	}
	return out
}

// update sets a running container's resources with runc update.
func (cs *containers) update(id string, resources []byte, labels map[string]string) error {
	c, err := cs.get(id)
	if err != nil {
		return err
	}
	var res specs.LinuxResources
	if err := json.Unmarshal(resources, &res); err != nil {
		return fmt.Errorf("reading resources: %w", err)
	}
	if err := cs.runcInput(filepath.Join(bundles, id, "runc.log"), resources, "update", "--resources", "-", id); err != nil {
		return err
	}
	c.mu.Lock()
	c.res, c.labels = &res, labels
	c.mu.Unlock()
	return nil
}

// runcInput runs runc with input on its stdin.
func (cs *containers) runcInput(logFile string, input []byte, args ...string) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	go func() {
		_, _ = w.Write(input)
		_ = w.Close()
	}()
	defer r.Close()
	return cs.runc(logFile, [3]*os.File{r, nil, nil}, args...)
}
