package agent

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// nodeNameField indexes pods by the node they are bound to.
const nodeNameField = "spec.nodeName"

func indexNodeName(o client.Object) []string {
	if p, ok := o.(*corev1.Pod); ok && p.Spec.NodeName != "" {
		return []string{p.Spec.NodeName}
	}
	return nil
}

// rejectForeign fails every pod bound to the sandbox's node other than its own
// (through nodeName, or by another scheduler), as EKS's kubelet does: event
// UnsupportedPodSpec, phase Failed. A Fargate node runs exactly one pod.
func (a *Agent) rejectForeign(ctx context.Context, sb *v1alpha1.Sandbox) error {
	pods := &corev1.PodList{}
	if err := a.client.List(ctx, pods, client.MatchingFields{nodeNameField: sb.Spec.NodeName}); err != nil {
		return fmt.Errorf("listing pods on node %s: %w", sb.Spec.NodeName, err)
	}
	for i := range pods.Items {
		pod := &pods.Items[i]
		if string(pod.UID) == sb.Spec.Pod.UID || pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded {
			continue
		}
		msg := "Pod not supported: SchedulerName is not fargate-scheduler"
		if pod.Spec.SchedulerName == "fargate-scheduler" {
			msg = "Pod not supported: node " + sb.Spec.NodeName + " runs another pod's sandbox"
		}
		a.event(pod, corev1.EventTypeWarning, "UnsupportedPodSpec", "%s", msg)
		updated := pod.DeepCopy()
		updated.Status.Phase, updated.Status.Reason, updated.Status.Message = corev1.PodFailed, "UnsupportedPodSpec", msg
		now := metav1.Now()
		updated.Status.StartTime = &now
		if err := a.client.Status().Update(ctx, updated); err != nil {
			return fmt.Errorf("rejecting pod %s/%s: %w", pod.Namespace, pod.Name, err)
		}
	}
	return nil
}
