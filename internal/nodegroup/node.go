package nodegroup

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/klog/v2"

	"github.com/fargo-dev/fargo/internal/airgap"
	"github.com/fargo-dev/fargo/internal/datadir"
	"github.com/fargo-dev/fargo/internal/runtime/containerd"
)

// Cluster is what every node needs of its cluster.
type Cluster struct {
	DataDir, LogDir string
	// APIServer is the apiserver's URL; CA and CAKey the cluster CA, which signs
	// the nodes' certificates.
	APIServer string
	CA        *x509.Certificate
	CAKey     crypto.Signer
	DNS       net.IP
	// Fargo is the multicall binary, run as `fargo kubelet`.
	Fargo string
	// Token is a bootstrap token (BootstrapToken) for nodes without a client
	// certificate yet.
	Token string
	// Images are put into every node's containerd besides the pause image (the
	// cluster DNS image), as k3s imports its air-gap images.
	Images []airgap.Image
}

// Node is one running node: its containerd and its kubelet, both kept running.
type Node struct {
	Spec Spec
	c    *Cluster
	d    dirs

	containerd *containerd.Daemon
	mu         sync.Mutex
	kubelet    *exec.Cmd
	stopping   bool
	done       chan struct{} // closed when the kubelet's supervision ends
}

// Start brings the node up: address, cgroups, files, containerd with the pause
// image, then the kubelet, which registers the Node. Pods a previous run left
// keep running: their shims outlive containerd and the kubelet finds them.
func Start(ctx context.Context, c *Cluster, spec Spec) (*Node, error) {
	n := &Node{Spec: spec, c: c, d: dirs{root: filepath.Join(c.DataDir, "nodes", spec.IP.String())}, done: make(chan struct{})}
	for _, dir := range []string{n.d.root, n.d.containerd(), n.d.kubelet(), n.d.pki(), n.d.cniConf(), n.d.cniData(), n.d.manifests(), n.d.podLogs()} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("node %s: creating %s: %w", spec.Name, dir, err)
		}
	}
	if err := n.writeFiles(); err != nil {
		return nil, fmt.Errorf("node %s: %w", spec.Name, err)
	}
	if err := ensureAddress(spec.IP); err != nil {
		return nil, fmt.Errorf("node %s: %w", spec.Name, err)
	}
	if err := ensureCgroups(cgroupRoot(spec.IP), spec.Type); err != nil {
		return nil, fmt.Errorf("node %s: %w", spec.Name, err)
	}
	d, err := containerd.StartDaemonWith(ctx, n.d.containerd(), n.logFile("containerd"), containerdConfig(n.d))
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", spec.Name, err)
	}
	n.containerd = d
	if err := airgap.Import(ctx, d.Socket, criNamespace, append([]airgap.Image{pause()}, n.c.Images...)...); err != nil {
		_ = d.Stop()
		return nil, fmt.Errorf("node %s: %w", spec.Name, err)
	}
	stopStaleKubelet(n.d.pidFile(), n.d.config())
	if err := n.startKubelet(); err != nil {
		_ = d.Stop()
		return nil, fmt.Errorf("node %s: %w", spec.Name, err)
	}
	go n.supervise()
	return n, nil
}

func (n *Node) writeFiles() error {
	if err := writeCA(n.d.pki(), n.c.CA); err != nil {
		return err
	}
	if err := writeServingCert(n.d.pki(), &n.Spec, n.c.CA, n.c.CAKey); err != nil {
		return err
	}
	if err := writeBootstrapKubeconfig(n.d, n.c.APIServer, n.c.Token); err != nil {
		return err
	}
	mem, err := machineMemoryMiB()
	if err != nil {
		return err
	}
	cfg, err := kubeletConfig(n.d, &n.Spec, n.c.DNS, mem)
	if err != nil {
		return fmt.Errorf("making the kubelet configuration: %w", err)
	}
	if err := writeFile(n.d.config(), cfg); err != nil {
		return err
	}
	cni, err := cniConfig(n.d, &n.Spec)
	if err != nil {
		return err
	}
	return writeFile(filepath.Join(n.d.cniConf(), "10-fargo-vpc.conflist"), cni)
}

func (n *Node) logFile(what string) string { return nodeLog(n.c, n.Spec, what) }

// nodeLog is where a node's kubelet or containerd logs.
func nodeLog(c *Cluster, s Spec, what string) string {
	return filepath.Join(c.LogDir, "node-"+s.IP.String()+"-"+what+".log")
}

// kubeletArgs are what the config file cannot say: who the node is.
func (n *Node) kubeletArgs() []string {
	args := []string{"kubelet",
		"--config=" + n.d.config(),
		"--bootstrap-kubeconfig=" + n.d.bootstrap(),
		"--kubeconfig=" + n.d.kubeconfig(),
		"--root-dir=" + n.d.kubelet(),
		"--cert-dir=" + n.d.pki(),
		"--hostname-override=" + n.Spec.Name,
		"--node-ip=" + n.Spec.IP.String(),
		"--node-labels=" + labelFlag(n.Spec.NodeLabels()),
	}
	if len(n.Spec.Taints) > 0 {
		args = append(args, "--register-with-taints="+taintFlag(n.Spec.Taints))
	}
	return args
}

func (n *Node) startKubelet() error {
	log, err := os.OpenFile(n.logFile("kubelet"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("opening the kubelet's log: %w", err)
	}
	defer log.Close()
	cmd := exec.Command(n.c.Fargo, n.kubeletArgs()...)
	cmd.Stdout, cmd.Stderr = log, log
	datadir.Mark(cmd, n.d.root)
	// Its own process group: a Ctrl-C to fargo must not reach it before fargo
	// stops it in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the kubelet: %w", err)
	}
	n.mu.Lock()
	n.kubelet = cmd
	n.mu.Unlock()
	return writeFile(n.d.pidFile(), []byte(strconv.Itoa(cmd.Process.Pid)))
}

// stopStaleKubelet ends the kubelet an earlier fargo left running (it was killed,
// its kubelet was not): a kubelet restart is harmless, its pods run on, and two
// would fight over the node's port.
func stopStaleKubelet(pidFile, config string) {
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		return
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), "--config="+config) {
		return // gone, or the pid is someone else's now
	}
	klog.Infof("stopping the kubelet (pid %d) an earlier run left for %s", pid, config)
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for deadline := time.Now().Add(10 * time.Second); syscall.Kill(pid, 0) == nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			return
		}
	}
}

// supervise starts the kubelet again whenever it exits, until Stop.
func (n *Node) supervise() {
	defer close(n.done)
	backoff := time.Second
	for {
		n.mu.Lock()
		cmd := n.kubelet
		n.mu.Unlock()
		err := cmd.Wait()
		if n.isStopping() {
			return
		}
		klog.Warningf("node %s: kubelet exited (%v) (log: %s)", n.Spec.Name, err, n.logFile("kubelet"))
		for {
			if n.isStopping() {
				return
			}
			time.Sleep(backoff)
			backoff = min(2*backoff, 30*time.Second)
			if n.isStopping() {
				return
			}
			err := n.startKubelet()
			if err == nil {
				break
			}
			klog.Errorf("node %s: %v; retrying in %s", n.Spec.Name, err, backoff)
		}
	}
}

func (n *Node) isStopping() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stopping
}

// Stop ends the node's kubelet and containerd (SIGTERM, then SIGKILL after 10 s).
// Its pods keep running, as on a machine whose kubelet restarts; the next Start
// finds them.
func (n *Node) Stop() error {
	var errs []error
	if err := n.stopKubelet(); err != nil {
		errs = append(errs, err)
	}
	if err := n.containerd.Stop(); err != nil {
		errs = append(errs, fmt.Errorf("node %s: %w", n.Spec.Name, err))
	}
	return errors.Join(errs...)
}

// stopKubelet ends the kubelet and its supervision.
func (n *Node) stopKubelet() error {
	n.mu.Lock()
	n.stopping = true
	cmd := n.kubelet
	n.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return nil
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
		return nil
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-n.done
		return fmt.Errorf("node %s: the kubelet did not stop within 10s; killed", n.Spec.Name)
	}
}
