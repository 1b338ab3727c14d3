package fargate

import (
	"context"
	"fmt"
	"net"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/fargo-dev/fargo/internal/agent/podworker"
	"github.com/fargo-dev/fargo/internal/runtime"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// launch prepares the sandbox's network and starts its runtime sandbox at the
// provisioned size, with the pod's hosts and resolver files. Both calls are
// idempotent: the first reconcile of a sandbox in this process makes them,
// healing a half-made sandbox after a restart; later ones skip them.
func (r *Reconciler) launch(ctx context.Context, sb *v1alpha1.Sandbox, pod *corev1.Pod) error {
	if uid, ok := r.launched.Load(sb.Name); ok && uid == sb.Spec.Pod.UID && done(sb, v1alpha1.SandboxLaunched) {
		return nil
	}
	if err := r.launchSandbox(ctx, sb, pod); err != nil {
		r.launched.Delete(sb.Name)
		sb.Status.Phase, sb.Status.Message = v1alpha1.SandboxFailed, err.Error()
		r.setCondition(sb, v1alpha1.SandboxLaunched, false, "LaunchFailed", err.Error())
		r.notReady(sb, "LaunchFailed")
		// As kubelet: what keeps the pod from running is an event on the pod.
		r.Recorder.Eventf(pod, corev1.EventTypeWarning, "FailedCreatePodSandBox", "Failed to create pod sandbox: %v", err)
		return err
	}
	r.setCondition(sb, v1alpha1.SandboxLaunched, true, "Launched", "runtime "+r.Runtime.Name())
	r.launched.Store(sb.Name, sb.Spec.Pod.UID)
	return nil
}

func (r *Reconciler) launchSandbox(ctx context.Context, sb *v1alpha1.Sandbox, pod *corev1.Pod) error {
	ip := net.ParseIP(sb.Spec.IP)
	_, subnet, _ := net.ParseCIDR(sb.Spec.SubnetCIDR)
	netns, err := r.Network.Setup(ctx, sb.Name, ip, subnet)
	if err != nil {
		return fmt.Errorf("starting sandbox %s: network: %w", sb.Name, err)
	}
	files, err := r.Pods.Files(pod, sb.Spec.IP)
	if err != nil {
		return fmt.Errorf("starting sandbox %s: %w", sb.Name, err)
	}
	spec := runtime.Sandbox{ID: sb.Name, Namespace: sb.Spec.Pod.Namespace, Pod: sb.Spec.Pod.Name, PodUID: sb.Spec.Pod.UID,
		Hostname: podworker.Hostname(pod), IP: ip, Subnet: subnet, NetnsPath: netns,
		MilliCPU: sb.Spec.MilliCPU, MemoryMiB: sb.Spec.MemoryMiB, Files: files, Isolation: sb.Spec.Isolation}
	if err := r.Runtime.CreateSandbox(ctx, spec); err != nil {
		return fmt.Errorf("starting sandbox %s: %w", sb.Name, err)
	}
	// Before the containers start, as a kubelet is up before its pods. Without
	// it the pod runs; only clients inside the VPC (metrics-server) miss the node.
	if r.Endpoints != nil && netns != "" {
		if err := r.Endpoints.Open(sb.Name, netns, ip); err != nil {
			klog.Warningf("%v; metrics-server and other in-cluster clients cannot reach node %s", err, sb.Spec.NodeName)
		}
	}
	return nil
}
