package fargate

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// ready marks a launched, registered sandbox Running: the scheduler binds its
// pod to the node from here on.
func (r *Reconciler) ready(sb *v1alpha1.Sandbox) {
	sb.Status.Phase, sb.Status.Message = v1alpha1.SandboxRunning, ""
	r.setCondition(sb, v1alpha1.SandboxReady, true, "Ready", "node "+sb.Spec.NodeName+" is Ready")
}

// notReady marks the sandbox not Ready because an earlier step failed.
func (r *Reconciler) notReady(sb *v1alpha1.Sandbox, reason string) {
	if done(sb, v1alpha1.SandboxReady) {
		r.setCondition(sb, v1alpha1.SandboxReady, false, reason, "an earlier step failed; see its condition")
	}
}

// run fails every foreign pod bound to the sandbox's node and, once the
// sandbox's own pod is bound, hands it to its pod worker.
func (r *Reconciler) run(ctx context.Context, sb *v1alpha1.Sandbox, pod *corev1.Pod) (ctrl.Result, error) {
	if err := r.rejectForeign(ctx, sb); err != nil {
		return ctrl.Result{}, err
	}
	if pod.Spec.NodeName != sb.Spec.NodeName {
		return ctrl.Result{}, nil // not bound yet; the binding re-queues us
	}
	if err := r.pulling(ctx, sb, pod); err != nil {
		return ctrl.Result{}, err
	}
	again, err := r.Pods.Sync(ctx, pod, placement(sb))
	if err != nil {
		return ctrl.Result{}, err
	}
	before := sb.Status.DeepCopy()
	next, err := r.readUsage(ctx, sb, false)
	if err == nil {
		err = r.writeStatus(ctx, sb, before)
	}
	if next > 0 && (again == 0 || next < again) {
		again = next
	}
	return ctrl.Result{RequeueAfter: again}, err
}
