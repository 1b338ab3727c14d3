package harness

import (
	"context"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/fargo-dev/fargo/internal/scheme"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

var quietLogs sync.Once

// CRClient is a controller-runtime client that knows fargo's types.
func (s *Server) CRClient() client.WithWatch {
	s.t.Helper()
	quietLogs.Do(func() { ctrllog.SetLogger(logr.Discard()) })
	cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig())
	if err != nil {
		s.t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 500, 1000
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme.Scheme})
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

// TestHost describes a host a test runs.
type TestHost struct {
	Name      string
	MilliCPU  int64
	MemoryMiB int64
	Sandboxes int64
}

// RunTestHost runs a large host named test-host; see RunTestHostWith.
func (s *Server) RunTestHost() {
	s.RunTestHostWith(TestHost{Name: "test-host", MilliCPU: 1 << 20, MemoryMiB: 1 << 30})
}

// RunTestHostWith runs the real host agent, `fargo agent --runtime fake`, as a
// process against the server: it registers the Host with h's capacity and runs
// the sandboxes placed on it (nodes, leases, pods reported Running, nothing
// executed). It returns once the Host has a heartbeat; when the test ends the
// agent is stopped and its Host deleted.
func (s *Server) RunTestHostWith(h TestHost) {
	s.t.Helper()
	args := []string{"agent", "--kubeconfig", s.Kubeconfig(), "--runtime", "fake", "--data-dir", s.t.TempDir(),
		"--host-name", h.Name, "--host-cpu", strconv.FormatInt(h.MilliCPU, 10) + "m", "--host-memory", strconv.FormatInt(h.MemoryMiB, 10) + "Mi",
		"--max-sandboxes", strconv.FormatInt(h.Sandboxes, 10)}
	out := &syncBuffer{}
	cmd := exec.Command(Bin(s.t, "fargo"), args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("starting fargo agent: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	c := s.CRClient()
	s.t.Cleanup(func() {
		if s.t.Failed() {
			s.t.Logf("fargo agent %s output:\n%s", h.Name, out.String())
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		_ = c.Delete(context.Background(), &v1alpha1.Host{ObjectMeta: metav1.ObjectMeta{Name: h.Name}})
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		host := &v1alpha1.Host{}
		err := c.Get(context.Background(), client.ObjectKey{Name: h.Name}, host)
		if err == nil && host.Status.HeartbeatTime != nil && host.Spec.Capacity.MilliCPU == h.MilliCPU {
			return
		}
		select {
		case <-exited:
			s.t.Fatalf("fargo agent %s exited:\n%s", h.Name, out.String())
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("fargo agent %s registered no Host in 60 s (%v):\n%s", h.Name, err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Eventually polls cond every 50 ms until it holds or timeout passes.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
