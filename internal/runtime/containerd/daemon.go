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
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
)

// Namespace is the containerd namespace fargo's containers and images live in.
const Namespace = "fargo"

// Daemon is a containerd process fargo started (or found running on its socket).
type Daemon struct {
	Dir     string // DATA/containerd
	Socket  string
	cmd     *exec.Cmd
	exited  chan error
	adopted bool
}

// StartDaemon starts containerd with its state under dir, logging to logFile, and
// waits until it answers. A containerd already serving dir's socket (left by a
// previous fargo whose shims still run) is adopted instead.
func StartDaemon(ctx context.Context, dir, logFile string) (*Daemon, error) {
	bin, err := exec.LookPath("containerd")
	if err != nil {
		return nil, fmt.Errorf("finding containerd (install Debian's containerd and runc packages, or use --runtime fake): %w", err)
	}
	if _, err := exec.LookPath("runc"); err != nil {
		return nil, fmt.Errorf("finding runc (install Debian's runc package): %w", err)
	}
	d := &Daemon{Dir: dir, Socket: filepath.Join(dir, "containerd.sock")}
	if len(d.Socket) > 100 {
		return nil, fmt.Errorf("containerd socket path %s is too long for a unix socket (%d bytes); use a shorter --data-dir", d.Socket, len(d.Socket))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	if d.answers(ctx) {
		d.adopted = true
		return d, nil
	}
	config := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(config, []byte(d.config()), 0o600); err != nil {
		return nil, fmt.Errorf("writing containerd config: %w", err)
	}
	log, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening containerd log: %w", err)
	}
	defer log.Close()
	d.cmd = exec.Command(bin, "--config", config)
	d.cmd.Stdout, d.cmd.Stderr = log, log
	// Its own process group: a Ctrl-C to fargo must not kill it before fargo
	// has stopped it in order.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting containerd: %w", err)
	}
	d.exited = make(chan error, 1)
	go func() { d.exited <- d.cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for !d.answers(ctx) {
		select {
		case err := <-d.exited:
			return nil, fmt.Errorf("containerd exited at start: %v (log: %s)", err, logFile)
		case <-ctx.Done():
			d.Stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.Stop()
			return nil, fmt.Errorf("containerd did not answer on %s within 30s (log: %s)", d.Socket, logFile)
		}
	}
	return d, nil
}

// config is containerd's configuration: everything under Dir, no CRI plugin
// (fargo is the kubelet), runc v2 shims.
func (d *Daemon) config() string {
	r := strings.NewReplacer("DIR", d.Dir)
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

// Stop ends the containerd fargo started (SIGTERM, then SIGKILL after 5 s). The
// shims, and so the containers, keep running; the next start adopts them.
func (d *Daemon) Stop() error {
	if d.cmd == nil || d.cmd.Process == nil {
		return nil
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
		return nil
	case <-time.After(5 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.exited
		return errors.New("containerd did not stop within 5s; killed")
	}
}
