package agent

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fargo-dev/fargo/internal/network"
	"github.com/fargo-dev/fargo/internal/runtime"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// SandboxOfPod is the sandbox on this host that runs pod namespace/name, for the
// kubelet API; runtime.ErrNotFound when the pod is not on a Fargate node here.
func (a *Agent) SandboxOfPod(ctx context.Context, namespace, name string) (string, error) {
	pod := &corev1.Pod{}
	if err := a.client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, pod); err != nil {
		if apierrors.IsNotFound(err) {
			return "", fmt.Errorf("pod %s/%s: %w", namespace, name, runtime.ErrNotFound)
		}
		return "", fmt.Errorf("reading pod %s/%s: %w", namespace, name, err)
	}
	id, ok := network.SandboxOfNode(pod.Spec.NodeName)
	if !ok {
		return "", fmt.Errorf("pod %s/%s is not on a Fargate node: %w", namespace, name, runtime.ErrNotFound)
	}
	sb := &v1alpha1.Sandbox{}
	if err := a.client.Get(ctx, client.ObjectKey{Name: id}, sb); err != nil || sb.Spec.Host != a.cfg.HostName || sb.Spec.Pod.UID != string(pod.UID) {
		return "", fmt.Errorf("pod %s/%s has no sandbox on host %s: %w", namespace, name, a.cfg.HostName, runtime.ErrNotFound)
	}
	return id, nil
}
