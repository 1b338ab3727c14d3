//go:build integration

package integration

import (
	"context"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// nodeStub is a host that does only what binding needs: it registers a Host and,
// for each sandbox placed on it, a Ready node, and marks the sandbox Running. It
// runs no pods, so bench-scheduler can measure the fargate-scheduler alone, as
// kube-scheduler is measured onto a node nothing runs on. Tests use the real
// agent (harness.RunTestHost); this stand-in is the benchmark's only.
func nodeStub(b *testing.B, c client.WithWatch, name string) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	now := metav1.Now()
	host := &v1alpha1.Host{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.HostSpec{Runtime: "stub", Capacity: v1alpha1.HostCapacity{MilliCPU: 1 << 20, MemoryMiB: 1 << 30}}}
	if err := c.Create(ctx, host); err != nil {
		b.Fatal(err)
	}
	host.Status.HeartbeatTime = &now
	if err := c.Status().Update(ctx, host); err != nil {
		b.Fatal(err)
	}
	w, err := c.Watch(ctx, &v1alpha1.SandboxList{})
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	slots := make(chan struct{}, 16)
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			sb, ok := ev.Object.(*v1alpha1.Sandbox)
			if !ok || ev.Type == watch.Deleted || sb.Spec.Host != name || sb.Status.Phase == v1alpha1.SandboxRunning {
				continue
			}
			slots <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-slots; wg.Done() }()
				node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: sb.Spec.NodeName, Labels: map[string]string{v1alpha1.LabelSandbox: sb.Name}},
					Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now()}}}}
				if err := c.Create(ctx, node); err != nil && !apierrors.IsAlreadyExists(err) {
					return
				}
				sb.Status.Phase, sb.Status.NodeName = v1alpha1.SandboxRunning, node.Name
				_ = c.Status().Update(ctx, sb)
			}()
		}
	}()
	return func() {
		cancel()
		wg.Wait()
		time.Sleep(10 * time.Millisecond)
	}
}
