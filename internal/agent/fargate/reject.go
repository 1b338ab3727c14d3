package fargate

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// nodeNameField indexes pods by the node they are bound to; sandboxNodeField
// indexes Sandboxes by theirs, so a pod's sandbox is found by its node, not by
// parsing the node's name.
const (
	nodeNameField    = "spec.nodeName"
	sandboxNodeField = "spec.nodeName"
)

func indexNodeName(o client.Object) []string {
	if p, ok := o.(*corev1.Pod); ok && p.Spec.NodeName != "" {
		return []string{p.Spec.NodeName}
	}
	return nil
}

func indexSandboxNode(o client.Object) []string {
	if sb, ok := o.(*v1alpha1.Sandbox); ok && sb.Spec.NodeName != "" {
		return []string{sb.Spec.NodeName}
	}
	return nil
}

// podSandbox maps a pod bound to one of this host's Fargate nodes to the node's
// sandbox.
func (r *Reconciler) podSandbox(ctx context.Context, o client.Object) []reconcile.Request {
	pod, ok := o.(*corev1.Pod)
	if !ok || pod.Spec.NodeName == "" {
		return nil
	}
	list := &v1alpha1.SandboxList{}
	if err := r.Client.List(ctx, list, client.MatchingFields{sandboxNodeField: pod.Spec.NodeName}); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		if list.Items[i].Spec.Host == r.Host {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKey{Name: list.Items[i].Name}})
		}
	}
	return out
}

// rejectForeign fails every pod bound to the sandbox's node other than its own
// (through nodeName, or by another scheduler), as EKS's kubelet does: event
// UnsupportedPodSpec, phase Failed. A Fargate node runs exactly one pod.
func (r *Reconciler) rejectForeign(ctx context.Context, sb *v1alpha1.Sandbox) error {
	pods := &corev1.PodList{}
	if err := r.Client.List(ctx, pods, client.MatchingFields{nodeNameField: sb.Spec.NodeName}); err != nil {
		return fmt.Errorf("listing pods on node %s: %w", sb.Spec.NodeName, err)
	}
	for i := range pods.Items {
		pod := &pods.Items[i]
		if string(pod.UID) == sb.Spec.Pod.UID || pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded {
			continue
		}
		msg := "Pod not supported: SchedulerName is not fargate-scheduler"
		if pod.Spec.SchedulerName == v1alpha1.SchedulerName {
			msg = "Pod not supported: node " + sb.Spec.NodeName + " runs another pod's sandbox"
		}
		r.Recorder.Eventf(pod, corev1.EventTypeWarning, "UnsupportedPodSpec", "%s", msg)
		updated := pod.DeepCopy()
		updated.Status.Phase, updated.Status.Reason, updated.Status.Message = corev1.PodFailed, "UnsupportedPodSpec", msg
		now := metav1.NewTime(r.Clock.Now())
		updated.Status.StartTime = &now
		if err := r.Client.Status().Update(ctx, updated); err != nil {
			return fmt.Errorf("rejecting pod %s/%s: %w", pod.Namespace, pod.Name, err)
		}
	}
	return nil
}
