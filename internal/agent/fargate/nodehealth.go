package fargate

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// runtimeHealth is what one heartbeat learnt of the runtime: the sandboxes it
// has, or why it could not say.
type runtimeHealth struct {
	sandboxes map[string]bool
	err       error
}

func (r *Reconciler) runtimeHealth(ctx context.Context) runtimeHealth {
	if _, err := r.Runtime.Version(ctx); err != nil {
		return runtimeHealth{err: fmt.Errorf("the %s runtime is not answering: %w", r.Runtime.Name(), err)}
	}
	ids, err := r.Runtime.Sandboxes(ctx)
	if err != nil {
		return runtimeHealth{err: err}
	}
	h := runtimeHealth{sandboxes: map[string]bool{}}
	for _, id := range ids {
		h.sandboxes[id] = true
	}
	return h
}

// syncNodeReady keeps the node's Ready condition true only while its sandbox is
// healthy (the runtime answers and has it), as kubelet reports its own health.
func (r *Reconciler) syncNodeReady(ctx context.Context, node *corev1.Node, sandbox string, stopped bool, h runtimeHealth) error {
	status, reason, msg := corev1.ConditionTrue, "KubeletReady", "fargo sandbox "+sandbox+" is running"
	if stopped {
		msg = "fargo sandbox " + sandbox + " is stopped: its pod has finished; the node stays for its logs until the pod is deleted"
	}
	switch {
	case h.err != nil:
		status, reason, msg = corev1.ConditionFalse, "SandboxNotReady", h.err.Error()
	case !h.sandboxes[sandbox]:
		status, reason, msg = corev1.ConditionFalse, "SandboxNotReady", "sandbox "+sandbox+" is missing from the "+r.Runtime.Name()+" runtime"
	}
	for i := range node.Status.Conditions {
		c := &node.Status.Conditions[i]
		if c.Type != corev1.NodeReady {
			continue
		}
		if c.Status == status && c.Reason == reason && c.Message == msg {
			return nil
		}
		patch := client.MergeFrom(node.DeepCopy())
		now := metav1.NewTime(r.Clock.Now())
		if c.Status != status {
			c.LastTransitionTime = now
		}
		c.Status, c.Reason, c.Message, c.LastHeartbeatTime = status, reason, msg, now
		if err := r.Client.Status().Patch(ctx, node, patch); err != nil {
			return fmt.Errorf("setting node %s Ready=%s: %w", node.Name, status, err)
		}
		return nil
	}
	return nil
}
