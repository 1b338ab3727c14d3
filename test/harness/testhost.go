package harness

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

var quietLogs sync.Once

// CRClient is a controller-runtime client that knows fargo's types.
func (s *Server) CRClient() client.WithWatch {
	s.t.Helper()
	quietLogs.Do(func() { ctrllog.SetLogger(logr.Discard()) })
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		s.t.Fatal(err)
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		s.t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig())
	if err != nil {
		s.t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 500, 1000
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

// TestHost describes a host the test host registers.
type TestHost struct {
	Name      string
	MilliCPU  int64
	MemoryMiB int64
	Sandboxes int64
}

// RunTestHost registers a large host named test-host and fulfils the sandboxes
// placed on it; see RunTestHostWith.
func (s *Server) RunTestHost() {
	s.RunTestHostWith(TestHost{Name: "test-host", MilliCPU: 1 << 20, MemoryMiB: 1 << 30})
}

// RunTestHostWith fulfils Sandbox objects as a host agent would, without running
// anything: it registers the Host with its capacity and a heartbeat, registers each
// placed sandbox's node (Ready, with Fargate's labels and taint), marks the sandbox
// Running, and on release deletes the node and lets the sandbox go. It stops, and
// deletes its Host, when the test ends.
func (s *Server) RunTestHostWith(h TestHost) {
	c := s.CRClient()
	ctx, cancel := context.WithCancel(context.Background())
	host := &v1alpha1.Host{ObjectMeta: metav1.ObjectMeta{Name: h.Name},
		Spec: v1alpha1.HostSpec{Runtime: "test", Capacity: v1alpha1.HostCapacity{MilliCPU: h.MilliCPU, MemoryMiB: h.MemoryMiB, Sandboxes: h.Sandboxes}}}
	if err := c.Create(ctx, host); apierrors.IsAlreadyExists(err) { // registered before a restart
		old := &v1alpha1.Host{}
		if err = c.Get(ctx, client.ObjectKeyFromObject(host), old); err == nil {
			old.Spec = host.Spec
			host = old
			err = c.Update(ctx, host)
		}
		if err != nil {
			s.t.Fatalf("re-registering test host %s: %v", h.Name, err)
		}
	} else if err != nil {
		s.t.Fatalf("registering test host %s: %v", h.Name, err)
	}
	beat := func() {
		host.Status.HeartbeatTime = &metav1.Time{Time: time.Now()}
		_ = c.Status().Update(ctx, host)
	}
	beat()
	done := make(chan struct{})
	s.t.Cleanup(func() {
		cancel()
		<-done
		_ = c.Delete(context.Background(), host)
	})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		defer wg.Wait()
		slots := make(chan struct{}, 16)
		handle := func(sb *v1alpha1.Sandbox) {
			if sb.Spec.Host != h.Name {
				return
			}
			slots <- struct{}{}
			wg.Add(1)
			go func() { defer func() { <-slots; wg.Done() }(); fulfil(ctx, c, sb) }()
		}
		for ctx.Err() == nil {
			watchSandboxes(ctx, c, handle, beat)
		}
	}()
}

// watchSandboxes lists the sandboxes, handles each, then handles every change until
// the watch ends; it beats the host's heartbeat meanwhile.
func watchSandboxes(ctx context.Context, c client.WithWatch, handle func(*v1alpha1.Sandbox), beat func()) {
	list := &v1alpha1.SandboxList{}
	if err := c.List(ctx, list); err != nil {
		time.Sleep(100 * time.Millisecond)
		return
	}
	for i := range list.Items {
		handle(&list.Items[i])
	}
	w, err := c.Watch(ctx, &v1alpha1.SandboxList{}, &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: list.ResourceVersion}})
	if err != nil {
		time.Sleep(100 * time.Millisecond)
		return
	}
	defer w.Stop()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			beat()
		case ev, ok := <-w.ResultChan():
			if !ok {
				return
			}
			if sb, isSandbox := ev.Object.(*v1alpha1.Sandbox); isSandbox && ev.Type != watch.Deleted {
				handle(sb)
			}
		}
	}
}

func fulfil(ctx context.Context, c client.Client, sb *v1alpha1.Sandbox) {
	if sb.DeletionTimestamp != nil {
		_ = c.Delete(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: sb.Spec.NodeName}})
		if controllerutil.RemoveFinalizer(sb, v1alpha1.SandboxFinalizer) {
			_ = c.Update(ctx, sb)
		}
		return
	}
	if sb.Status.Phase == v1alpha1.SandboxRunning {
		return
	}
	// A kubelet creates its node with the status filled in; so does this.
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: sb.Spec.NodeName, Labels: map[string]string{
		"eks.amazonaws.com/compute-type": "fargate", "topology.kubernetes.io/zone": sb.Spec.Zone}},
		Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "eks.amazonaws.com/compute-type", Value: "fargate", Effect: corev1.TaintEffectNoSchedule}}},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: metav1.Now()}},
			Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: sb.Spec.IP}},
		}}
	if err := c.Create(ctx, node); err != nil && !apierrors.IsAlreadyExists(err) {
		return
	}
	sb.Status.Phase, sb.Status.NodeName = v1alpha1.SandboxRunning, node.Name
	_ = c.Status().Update(ctx, sb)
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
