package fargate

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// release tears down everything a released sandbox held on this host (its
// containers and runtime sandbox, its network, its node and lease, its pod's
// volumes), records Released, and removes the finalizer so its IP returns to
// the pool.
func (r *Reconciler) release(ctx context.Context, sb *v1alpha1.Sandbox) error {
	if !controllerutil.ContainsFinalizer(sb, v1alpha1.SandboxFinalizer) {
		return nil
	}
	if !stopped(sb) && !done(sb, v1alpha1.SandboxReleased) {
		// The last reading for the meter, while the cgroup is still there;
		// it goes with the Released step, which the ledger waits for.
		if _, err := r.readUsage(ctx, sb, true); err != nil {
			log.FromContext(ctx).Info("sandbox released without a last usage reading", "sandbox", sb.Name, "error", err.Error())
		}
	}
	r.Pods.StopProbes(types.UID(sb.Spec.Pod.UID))
	r.launched.Delete(sb.Name)
	r.gate.forget(sb.Name)
	if r.Endpoints != nil {
		r.Endpoints.Close(sb.Name)
	}
	if err := r.Runtime.RemoveSandbox(ctx, sb.Name); err != nil {
		return fmt.Errorf("tearing down sandbox %s: %w", sb.Name, err)
	}
	if err := r.Network.Teardown(ctx, sb.Name); err != nil {
		return fmt.Errorf("tearing down the network of sandbox %s: %w", sb.Name, err)
	}
	if err := r.deleteNode(ctx, sb.Spec.NodeName); err != nil {
		return err
	}
	// Volumes last: nothing runs that could still use them.
	if err := r.Pods.Forget(types.UID(sb.Spec.Pod.UID)); err != nil {
		return fmt.Errorf("releasing sandbox %s: %w", sb.Name, err)
	}
	if !done(sb, v1alpha1.SandboxReleased) {
		r.setCondition(sb, v1alpha1.SandboxReleased, true, "Released", "torn down on host "+r.Host)
		if err := r.Client.Status().Update(ctx, sb); err != nil {
			return fmt.Errorf("recording the release of sandbox %s: %w", sb.Name, err)
		}
	}
	patch := client.MergeFrom(sb.DeepCopy())
	controllerutil.RemoveFinalizer(sb, v1alpha1.SandboxFinalizer)
	if err := r.Client.Patch(ctx, sb, patch); err != nil {
		return fmt.Errorf("releasing sandbox %s: %w", sb.Name, err)
	}
	return nil
}
