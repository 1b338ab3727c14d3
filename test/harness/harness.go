// Package harness starts the built bin/fargo as a process for integration, e2e and
// benchmark tests, on free loopback ports and a temporary data dir, so no test binary
// links the control plane.
package harness

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// ReadyLine is what `fargo server` prints once every component is ready.
const ReadyLine = "fargo is ready"

// Root is the repository root (where bin/ lives).
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Bin is the path of a built binary under bin/, failing the test when it is missing.
func Bin(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(Root(), "bin", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is not built (run make build, or make bin/etcd): %v", p, err)
	}
	return p
}

// Ports are picked below Linux's ephemeral range (32768–60999), where outgoing
// connections take theirs: a port the kernel handed out for :0 can be taken by a
// client connection before the server binds it. None is handed out twice.
const (
	portLow  = 20000
	portHigh = 32000
)

var (
	portMu    sync.Mutex
	portsUsed = map[int]bool{}
)

// FreePort returns a loopback TCP port that was free a moment ago and that no
// other caller in this process has been given.
func FreePort(t testing.TB) int {
	t.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	for range 1000 {
		p := portLow + rand.IntN(portHigh-portLow)
		if portsUsed[p] {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		l.Close()
		portsUsed[p] = true
		return p
	}
	t.Fatalf("no free port in %d-%d", portLow, portHigh)
	return 0
}

// Server is a running `fargo server` process.
type Server struct {
	t       testing.TB
	DataDir string
	APIPort int
	// EKSAPIPort is the port of the EKS-compatible API.
	EKSAPIPort int
	Args       []string
	cmd        *exec.Cmd
	out        *syncBuffer
	exited     chan struct{}
	waitErr    error
	// Started is when the process was started; Ready when it printed ReadyLine.
	Started, Ready time.Time
}

// ServerArgs returns the flags for a server on fresh free ports in dataDir.
func ServerArgs(t testing.TB, dataDir string) []string {
	return append(append([]string{"--data-dir", dataDir}, PortArgs(t)...),
		// Tests bring their own hosts (RunTestHost, or --runtime fake), node
		// groups only where they say so (--config), cluster DNS only where
		// they drop --without-dns.
		"--runtime", "none",
		"--without-nodegroup",
		"--without-dns",
	)
}

// PortArgs gives each port a server opens a free one, as flags.
func PortArgs(t testing.TB) []string {
	var args []string
	for _, f := range []string{"--api-port", "--etcd-client-port", "--etcd-peer-port", "--controller-manager-port", "--scheduler-port", "--webhook-port", "--eks-api-port"} {
		args = append(args, f, strconv.Itoa(FreePort(t)))
	}
	return args
}

// Without is args without flag (one that takes no value), e.g. ServerArgs
// without --without-dns.
func Without(args []string, flag string) []string {
	var out []string
	for _, a := range args {
		if a != flag {
			out = append(out, a)
		}
	}
	return out
}

// ArgValue returns the value following flag in args, or "".
func ArgValue(args []string, flag string) string {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == flag {
			return args[i+1]
		}
	}
	return ""
}

// StartServer starts a server in a new temp data dir and waits until it is ready.
func StartServer(t testing.TB, extra ...string) *Server {
	t.Helper()
	return StartServerWith(t, append(ServerArgs(t, t.TempDir()), extra...))
}

// StartServerWith starts `fargo server args...` and waits until it is ready; the
// server is stopped when the test ends.
func StartServerWith(t testing.TB, args []string) *Server {
	t.Helper()
	s := Launch(t, args)
	if err := s.WaitReady(90 * time.Second); err != nil {
		t.Fatal(err)
	}
	return s
}

// Launch starts `fargo server args...` without waiting.
func Launch(t testing.TB, args []string) *Server {
	t.Helper()
	s := &Server{t: t, Args: args, out: &syncBuffer{}, exited: make(chan struct{})}
	for i := 0; i+1 < len(args); i++ {
		switch args[i] {
		case "--data-dir":
			s.DataDir = args[i+1]
		case "--api-port":
			s.APIPort, _ = strconv.Atoi(args[i+1])
		case "--eks-api-port":
			s.EKSAPIPort, _ = strconv.Atoi(args[i+1])
		}
	}
	s.cmd = exec.Command(Bin(t, "fargo"), append([]string{"server"}, args...)...)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	s.Started = time.Now()
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting fargo server: %v", err)
	}
	go func() { s.waitErr = s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() {
		failed := t.Failed() // before Stop, which prints everything when it fails
		s.Stop()
		if failed {
			t.Logf("fargo server output (last %d lines):\n%s", outputTail, Tail(s.out.String(), outputTail))
			t.Logf("errors and warnings in %s (last %d):\n%s", s.LogFile(), outputTail, Tail(problems(s.LogFile()), outputTail))
		}
	})
	return s
}

// outputTail is how much of a failed test's server output is shown.
const outputTail = 300

// LogFile is the server's klog file.
func (s *Server) LogFile() string { return filepath.Join(s.DataDir, "logs", "fargo.log") }

// problems is the error and warning lines of a klog file.
func problems(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "E") || strings.HasPrefix(line, "W") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// Tail is the last n lines of s.
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// WaitReady waits for the ready line, or fails with the server's output.
func (s *Server) WaitReady(timeout time.Duration) error {
	deadline := time.After(timeout)
	for {
		if strings.Contains(s.out.String(), ReadyLine) {
			s.Ready = time.Now()
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("fargo server exited before ready (%v):\n%s", s.waitErr, s.out)
		case <-deadline:
			return fmt.Errorf("fargo server not ready after %s:\n%s", timeout, s.out)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// WaitExit waits for the process to end and returns its error (nil on exit 0).
func (s *Server) WaitExit(timeout time.Duration) error {
	select {
	case <-s.exited:
		return s.waitErr
	case <-time.After(timeout):
		return fmt.Errorf("fargo server still running after %s", timeout)
	}
}

// Exited reports whether the server process has ended.
func (s *Server) Exited() bool {
	select {
	case <-s.exited:
		return true
	default:
		return false
	}
}

// Output is everything the server printed so far.
func (s *Server) Output() string { return s.out.String() }

// Pid is the server's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Signal sends sig to the server.
func (s *Server) Signal(sig syscall.Signal) error { return s.cmd.Process.Signal(sig) }

// Stop sends SIGTERM and waits up to 15 s, then kills the process.
func (s *Server) Stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		if s.waitErr != nil {
			s.t.Errorf("fargo server exited with %v on SIGTERM. Output:\n%s", s.waitErr, s.out)
		}
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
		s.t.Errorf("fargo server did not stop on SIGTERM within 15s; killed it. Output:\n%s", s.out)
	}
}

// Kubeconfig is the admin kubeconfig the server wrote.
func (s *Server) Kubeconfig() string { return filepath.Join(s.DataDir, "kubeconfig.yaml") }

// Client is a clientset with admin rights.
func (s *Server) Client() kubernetes.Interface {
	s.t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig())
	if err != nil {
		s.t.Fatalf("loading kubeconfig: %v", err)
	}
	cfg.QPS = -1 // no client-side throttling: tests and benchmarks create in bursts
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		s.t.Fatalf("creating client: %v", err)
	}
	return c
}

// Kubectl runs the embedded kubectl against this server and returns its output;
// a failure fails the test.
func (s *Server) Kubectl(args ...string) string {
	s.t.Helper()
	out, err := s.TryKubectl(args...)
	if err != nil {
		s.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// TryKubectl is Kubectl that returns the error instead of failing.
func (s *Server) TryKubectl(args ...string) (string, error) { return s.KubectlStdin("", args...) }

// CreateManifest creates the object in manifest and returns kubectl's output,
// warnings included; a failure fails the test.
func (s *Server) CreateManifest(manifest string) string {
	s.t.Helper()
	out, err := s.KubectlStdin(manifest, "create", "-f", "-")
	if err != nil {
		s.t.Fatalf("kubectl create: %v\n%s", err, out)
	}
	return out
}

// KubectlStdin runs kubectl with stdin as its standard input.
func (s *Server) KubectlStdin(stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, Bin(s.t, "kubectl"), append([]string{"--kubeconfig", s.Kubeconfig()}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// RSS is the resident set size of the server process in bytes.
func (s *Server) RSS() (int64, error) { return RSS(s.Pid()) }

// RSS reads VmRSS of process pid.
func RSS(pid int) (int64, error) {
	return procKB(fmt.Sprintf("/proc/%d/status", pid), "VmRSS:")
}

// PSS reads the proportional set size of process pid: its resident memory with
// pages shared with other processes (a binary's text, say) divided among them.
func PSS(pid int) (int64, error) {
	return procKB(fmt.Sprintf("/proc/%d/smaps_rollup", pid), "Pss:")
}

// procKB reads a "field: N kB" line of a /proc file, in bytes.
func procKB(path, field string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no %s in %s", field, path)
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
