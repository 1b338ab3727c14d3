package fargate

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// stop releases the compute of a sandbox whose pod has finished, as kubelet
// stops a finished pod's sandbox: probes end, the runtime stops it (no process,
// no cgroup; its containers' statuses and logs stay), its network goes, and
// its node is cordoned. The Sandbox, and so the node (Ready, with its lease),
// its IP and the logs behind `kubectl logs`, stay until the pod is deleted;
// then release tears down the rest.
func (r *Reconciler) stop(ctx context.Context, sb *v1alpha1.Sandbox, pod *corev1.Pod) error {
	if stopped(sb) {
		return nil
	}
	before := sb.Status.DeepCopy()
	// The last reading for the meter, while the cgroup is still there.
	if _, err := r.readUsage(ctx, sb, true); err != nil {
		log.FromContext(ctx).Info("pod stopped without a last usage reading", "sandbox", sb.Name, "error", err.Error())
	}
	r.Pods.StopProbes(types.UID(sb.Spec.Pod.UID))
	if r.Endpoints != nil {
		r.Endpoints.Close(sb.Name)
	}
	if err := r.Runtime.StopSandbox(ctx, sb.Name); err != nil {
		return fmt.Errorf("stopping sandbox %s: %w", sb.Name, err)
	}
	if err := r.Network.Teardown(ctx, sb.Name); err != nil {
		return fmt.Errorf("tearing down the network of sandbox %s: %w", sb.Name, err)
	}
	r.launched.Delete(sb.Name)
	if err := r.cordon(ctx, sb.Spec.NodeName); err != nil {
		return err
	}
	r.setCondition(sb, v1alpha1.SandboxStopped, true, "Pod"+string(pod.Status.Phase),
		"the pod has finished: its compute is released; its node, IP and logs stay until it is deleted")
	return r.writeStatus(ctx, sb, before)
}

// stopped reports whether the sandbox's pod has finished and its compute is
// released.
func stopped(sb *v1alpha1.Sandbox) bool { return done(sb, v1alpha1.SandboxStopped) }

// cordon marks the node unschedulable: its pod has finished, and no other pod
// ever runs there.
func (r *Reconciler) cordon(ctx context.Context, name string) error {
	node := &corev1.Node{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: name}, node); err != nil {
		return client.IgnoreNotFound(err)
	}
	if node.Spec.Unschedulable {
		return nil
	}
	patch := client.MergeFrom(node.DeepCopy())
	node.Spec.Unschedulable = true
	if err := r.Client.Patch(ctx, node, patch); err != nil {
		return fmt.Errorf("cordoning node %s: %w", name, err)
	}
	return nil
}
