package agent

import (
	"context"
	"errors"
	"fmt"
	"net"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/fargo-dev/fargo/internal/runtime"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// reconcile takes one Sandbox of this host through ordered, idempotent sub-steps:
// start sandbox → register node → mark Running → run pod; and, once released,
// terminate → tear down → delete node → let the Sandbox go. A restart in the middle
// repeats the current step.
func (a *Agent) reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	sb := &v1alpha1.Sandbox{}
	if err := a.client.Get(ctx, req.NamespacedName, sb); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if sb.Spec.Host != a.cfg.HostName {
		return ctrl.Result{}, nil
	}
	if sb.DeletionTimestamp != nil {
		return ctrl.Result{}, a.teardown(ctx, sb)
	}
	pod, err := a.podOf(ctx, sb)
	if err != nil {
		return ctrl.Result{}, err
	}
	if pod == nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return ctrl.Result{}, nil // the scheduler's releaser deletes the Sandbox
	}
	if err := a.cfg.Runtime.CreateSandbox(ctx, runtimeSandbox(sb, podHostname(pod))); err != nil {
		return ctrl.Result{}, a.failed(ctx, sb, fmt.Errorf("starting sandbox %s: %w", sb.Name, err))
	}
	if _, err := a.registerNode(ctx, sb); err != nil {
		return ctrl.Result{}, err
	}
	if sb.Status.Phase != v1alpha1.SandboxRunning || sb.Status.NodeName != sb.Spec.NodeName {
		sb.Status.Phase, sb.Status.NodeName, sb.Status.Message = v1alpha1.SandboxRunning, sb.Spec.NodeName, ""
		if err := a.client.Status().Update(ctx, sb); err != nil {
			return ctrl.Result{}, fmt.Errorf("marking sandbox %s Running: %w", sb.Name, err)
		}
	}
	if err := a.rejectForeign(ctx, sb); err != nil {
		return ctrl.Result{}, err
	}
	if pod.Spec.NodeName != sb.Spec.NodeName {
		return ctrl.Result{}, nil // not bound yet; the binding re-queues us
	}
	again, err := a.syncPod(ctx, pod, sb)
	return ctrl.Result{RequeueAfter: again}, err
}

// podOf is the sandbox's pod, or nil when it is gone or replaced.
func (a *Agent) podOf(ctx context.Context, sb *v1alpha1.Sandbox) (*corev1.Pod, error) {
	pod := &corev1.Pod{}
	err := a.client.Get(ctx, client.ObjectKey{Namespace: sb.Spec.Pod.Namespace, Name: sb.Spec.Pod.Name}, pod)
	if apierrors.IsNotFound(err) || (err == nil && string(pod.UID) != sb.Spec.Pod.UID) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading pod of sandbox %s: %w", sb.Name, err)
	}
	return pod, nil
}

func runtimeSandbox(sb *v1alpha1.Sandbox, hostname string) runtime.Sandbox {
	_, subnet, _ := net.ParseCIDR(sb.Spec.SubnetCIDR)
	return runtime.Sandbox{ID: sb.Name, Namespace: sb.Spec.Pod.Namespace, Pod: sb.Spec.Pod.Name, PodUID: sb.Spec.Pod.UID,
		Hostname: hostname, IP: net.ParseIP(sb.Spec.IP), Subnet: subnet, MilliCPU: sb.Spec.MilliCPU, MemoryMiB: sb.Spec.MemoryMiB}
}

// failed records a sandbox that could not start and returns the error for retry.
func (a *Agent) failed(ctx context.Context, sb *v1alpha1.Sandbox, cause error) error {
	if sb.Status.Message != cause.Error() {
		sb.Status.Phase, sb.Status.Message = v1alpha1.SandboxFailed, cause.Error()
		if err := a.client.Status().Update(ctx, sb); err != nil {
			return errors.Join(cause, fmt.Errorf("recording failure of sandbox %s: %w", sb.Name, err))
		}
	}
	return cause
}

// teardown stops everything of a released sandbox, deletes its node, and removes
// the finalizer so its IP returns to the pool.
func (a *Agent) teardown(ctx context.Context, sb *v1alpha1.Sandbox) error {
	if !controllerutil.ContainsFinalizer(sb, v1alpha1.SandboxFinalizer) {
		return nil
	}
	a.probes.stop(types.UID(sb.Spec.Pod.UID), "")
	a.tokens.forget(types.UID(sb.Spec.Pod.UID))
	if err := a.cfg.Runtime.RemoveSandbox(ctx, sb.Name); err != nil {
		return fmt.Errorf("tearing down sandbox %s: %w", sb.Name, err)
	}
	if err := a.deleteNode(ctx, sb); err != nil {
		return err
	}
	if err := a.removePodDir(sb.Spec.Pod.UID); err != nil {
		return fmt.Errorf("removing volumes of sandbox %s: %w", sb.Name, err)
	}
	patch := client.MergeFrom(sb.DeepCopy())
	controllerutil.RemoveFinalizer(sb, v1alpha1.SandboxFinalizer)
	if err := a.client.Patch(ctx, sb, patch); err != nil {
		return fmt.Errorf("releasing sandbox %s: %w", sb.Name, err)
	}
	return nil
}

func isNotFound(err error) bool { return errors.Is(err, runtime.ErrNotFound) }
