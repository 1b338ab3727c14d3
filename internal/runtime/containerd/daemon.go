// Package containerd is the runtime backend that runs sandboxes' containers under
// containerd and runc. fargo starts and supervises its own containerd (config,
// root, state and socket under the data dir) rather than relying on a system
// service, and talks to it with the containerd Go client.
//
// Choices: Debian 12's containerd 1.6.20 and runc 1.1.5 (packages containerd,
// runc), driven by the containerd v2.2 Go client (v2.4 would upgrade grpc,
// OpenTelemetry and golang.org/x modules under the pinned Kubernetes 1.37).
package containerd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"golang.org/x/sys/unix"
	"k8s.io/klog/v2"

	"github.com/fargo-dev/fargo/internal/datadir"
)

// Namespace is the containerd namespace fargo's containers and images live in.
const Namespace = "fargo"

// Daemon is a containerd process fargo started (or found running on its socket),
// kept running: when it dies (a crash, kill -9) it is started again. Containers
// keep running meanwhile; their shims outlive containerd and the new one finds
// them.
type Daemon struct {
	Dir     string // DATA/containerd
	Socket  string
	bin     string
	logFile string
	conf    func(dir string) string

	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan error // of cmd
	stopping bool
	// adoptedPid is the process of a containerd adopted at start, 0 if none.
	adoptedPid int
	done       chan struct{} // closed when supervision has ended
	// Restarts counts the times containerd was started again after dying.
	Restarts atomic.Int32
	warnTo   func(error)
}

// WarnTo sets who is told of each death and restart, besides the log.
func (d *Daemon) WarnTo(warn func(error)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.warnTo = warn
}

// StartDaemon starts containerd with its state under dir, logging to logFile, and
// waits until it answers. A containerd already serving dir's socket (left by a
// previous fargo whose shims still run) is adopted instead.
func StartDaemon(ctx context.Context, dir, logFile string) (*Daemon, error) {
	return StartDaemonWith(ctx, dir, logFile, runtimeConfig)
}

// StartDaemonWith is StartDaemon with another configuration: conf(dir) is the
// config.toml, which must put the sockets at dir/containerd.sock(.ttrpc).
func StartDaemonWith(ctx context.Context, dir, logFile string, conf func(dir string) string) (*Daemon, error) {
	bin, err := exec.LookPath("containerd")
	if err != nil {
		return nil, fmt.Errorf("finding containerd (install Debian's containerd and runc packages, or use --runtime fake): %w", err)
	}
	if _, err := exec.LookPath("runc"); err != nil {
		return nil, fmt.Errorf("finding runc (install Debian's runc package): %w", err)
	}
	d := &Daemon{Dir: dir, Socket: filepath.Join(dir, "containerd.sock"), bin: bin, logFile: logFile, conf: conf, done: make(chan struct{})}
	if len(d.Socket) > 100 {
		return nil, fmt.Errorf("containerd socket path %s is too long for a unix socket (%d bytes); use a shorter --data-dir", d.Socket, len(d.Socket))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	if d.answers(ctx) {
		// Adopted: learn its process now, while it answers, so that a death
		// right after this returns is seen as one (not as 30 s of silence).
		d.adoptedPid = peerPid(d.Socket)
	} else if err := d.launch(ctx); err != nil {
		return nil, err
	}
	go d.supervise()
	return d, nil
}

// launch starts containerd and waits until it answers.
func (d *Daemon) launch(ctx context.Context) error {
	config := filepath.Join(d.Dir, "config.toml")
	if err := os.WriteFile(config, []byte(d.conf(d.Dir)), 0o600); err != nil {
		return fmt.Errorf("writing containerd config: %w", err)
	}
	log, err := os.OpenFile(d.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("opening containerd log: %w", err)
	}
	defer log.Close()
	cmd := exec.Command(d.bin, "--config", config)
	cmd.Stdout, cmd.Stderr = log, log
	datadir.Mark(cmd, d.Dir)
	// Its own process group: a Ctrl-C to fargo must not kill it before fargo
	// has stopped it in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting containerd: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	d.mu.Lock()
	d.cmd, d.exited = cmd, exited
	d.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	fail := func(err error) error {
		_ = cmd.Process.Kill()
		<-exited
		d.mu.Lock()
		d.cmd, d.exited = nil, nil
		d.mu.Unlock()
		return err
	}
	for !d.answers(ctx) {
		select {
		case err := <-exited:
			exited <- err
			return fail(fmt.Errorf("containerd exited at start: %v (log: %s)", err, d.logFile))
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fail(fmt.Errorf("containerd did not answer on %s within 30s (log: %s)", d.Socket, d.logFile))
		}
	}
	return nil
}

// supervise starts containerd again whenever it dies, until Stop. An adopted
// containerd (not fargo's child) is watched through its socket instead.
func (d *Daemon) supervise() {
	defer close(d.done)
	backoff := time.Second
	for {
		d.mu.Lock()
		exited := d.exited
		d.mu.Unlock()
		var err error
		if exited != nil {
			err = <-exited
		} else {
			err = d.waitSilent()
		}
		d.mu.Lock()
		stopping := d.stopping
		d.cmd, d.exited = nil, nil
		d.mu.Unlock()
		if stopping {
			return
		}
		d.warn(fmt.Errorf("containerd (%s) stopped unexpectedly: %v; starting it again (containers keep running; log: %s)", d.Socket, err, d.logFile))
		for {
			if d.answers(context.Background()) {
				break // it is serving after all (busy, or someone started it): watch it again
			}
			if err := d.launch(context.Background()); err == nil {
				d.Restarts.Add(1)
				d.warn(fmt.Errorf("containerd (%s) is serving again, after %d restart(s)", d.Socket, d.Restarts.Load()))
				backoff = time.Second
				d.mu.Lock()
				if d.stopping { // Stop came while it was starting: end it too
					_ = d.cmd.Process.Signal(syscall.SIGTERM)
				}
				d.mu.Unlock()
				break
			} else {
				d.mu.Lock()
				stopping := d.stopping
				d.mu.Unlock()
				if stopping {
					return
				}
				klog.Errorf("starting containerd again: %v; retrying in %s", err, backoff)
			}
			time.Sleep(backoff)
			backoff = min(2*backoff, 30*time.Second)
		}
	}
}

// waitSilent returns once an adopted containerd has died, or Stop was called.
// Its process is the peer of its socket (it is not our child); a busy containerd
// can be slow to answer, so the socket's answers alone would give false deaths.
func (d *Daemon) waitSilent() error {
	d.mu.Lock()
	pid := d.adoptedPid
	d.adoptedPid = 0
	d.mu.Unlock()
	if pid == 0 {
		pid = peerPid(d.Socket)
	}
	misses := 0
	for {
		time.Sleep(time.Second)
		d.mu.Lock()
		stopping := d.stopping
		d.mu.Unlock()
		if stopping {
			return nil
		}
		if pid != 0 {
			if syscall.Kill(pid, 0) != nil {
				return fmt.Errorf("process %d exited", pid)
			}
			continue
		}
		// Its process is unknown: only a long silence counts.
		if d.answers(context.Background()) {
			misses, pid = 0, peerPid(d.Socket)
		} else if misses++; misses >= 30 {
			return errors.New("it has not answered on its socket for 30 s")
		}
	}
}

// stopAdopted ends an adopted containerd, found through its socket.
func (d *Daemon) stopAdopted() error {
	pid := peerPid(d.Socket)
	if pid == 0 {
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for deadline := time.Now().Add(5 * time.Second); syscall.Kill(pid, 0) == nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			return fmt.Errorf("containerd (pid %d) did not stop within 5s; killed", pid)
		}
	}
	return nil
}

// peerPid is the pid of the process serving the unix socket, 0 if unknown.
func peerPid(socket string) int {
	c, err := net.DialTimeout("unix", socket, time.Second)
	if err != nil {
		return 0
	}
	defer c.Close()
	raw, err := c.(*net.UnixConn).SyscallConn()
	if err != nil {
		return 0
	}
	var cred *unix.Ucred
	_ = raw.Control(func(fd uintptr) { cred, err = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) })
	if err != nil || cred == nil {
		return 0
	}
	return int(cred.Pid)
}

// runtimeConfig is the configuration of the runtime backend's containerd:
// everything under dir, no CRI plugin (fargo is the kubelet), runc v2 shims.
func runtimeConfig(dir string) string {
	r := strings.NewReplacer("DIR", dir)
	return r.Replace(`version = 2
root = "DIR/root"
state = "DIR/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "DIR/containerd.sock"

[ttrpc]
  address = "DIR/containerd.sock.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""
`)
}

func (d *Daemon) answers(ctx context.Context) bool {
	if _, err := os.Stat(d.Socket); err != nil {
		return false
	}
	c, err := containerd.New(d.Socket, containerd.WithTimeout(time.Second))
	if err != nil {
		return false
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	ok, err := c.IsServing(ctx)
	return err == nil && ok
}

// Stop ends fargo's containerd, started or adopted (SIGTERM, then SIGKILL after
// 5 s), and its supervision. The shims, and so the containers, keep running; the
// next start adopts them.
func (d *Daemon) Stop() error {
	d.mu.Lock()
	d.stopping = true
	cmd := d.cmd
	d.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		<-d.done
		return d.stopAdopted()
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
		return nil
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-d.done
		return errors.New("containerd did not stop within 5s; killed")
	}
}

// Pid is the process id of the containerd fargo runs, 0 when it runs none.
func (d *Daemon) Pid() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd == nil || d.cmd.Process == nil {
		return 0
	}
	return d.cmd.Process.Pid
}

func (d *Daemon) warn(err error) {
	klog.Warning(err.Error())
	d.mu.Lock()
	warn := d.warnTo
	d.mu.Unlock()
	if warn != nil {
		warn(err)
	}
}
