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
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// testHostFinalizer holds a sandbox until the test host has removed its node.
const testHostFinalizer = "fargo.dev/test-host"

var quietLogs sync.Once

// CRClient is a controller-runtime client that knows fargo's types.
func (s *Server) CRClient() client.Client {
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
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

// RunTestHost fulfils Sandbox objects as a host agent would, without running
// anything: it registers each sandbox's node (Ready, with Fargate's labels and
// taint), marks the sandbox Running, and on release deletes the node. It stops
// when the test ends.
func (s *Server) RunTestHost() {
	c := s.CRClient()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	s.t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			list := &v1alpha1.SandboxList{}
			if err := c.List(ctx, list); err == nil {
				for i := range list.Items {
					fulfil(ctx, c, &list.Items[i])
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(30 * time.Millisecond):
			}
		}
	}()
}

func fulfil(ctx context.Context, c client.Client, sb *v1alpha1.Sandbox) {
	if sb.DeletionTimestamp != nil {
		_ = c.Delete(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: sb.Spec.NodeName}})
		if controllerutil.RemoveFinalizer(sb, testHostFinalizer) {
			_ = c.Update(ctx, sb)
		}
		return
	}
	if sb.Status.Phase == v1alpha1.SandboxRunning {
		return
	}
	if controllerutil.AddFinalizer(sb, testHostFinalizer) {
		if err := c.Update(ctx, sb); err != nil {
			return
		}
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: sb.Spec.NodeName, Labels: map[string]string{
		"eks.amazonaws.com/compute-type": "fargate", "topology.kubernetes.io/zone": sb.Spec.Zone}},
		Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "eks.amazonaws.com/compute-type", Value: "fargate", Effect: corev1.TaintEffectNoSchedule}}}}
	if err := c.Create(ctx, node); err != nil && !apierrors.IsAlreadyExists(err) {
		return
	}
	node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: metav1.Now()}}
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: sb.Spec.IP}}
	if err := c.Status().Update(ctx, node); err != nil {
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
