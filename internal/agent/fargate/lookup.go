package fargate

import (
	"context"
	"fmt"
	"net"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fargo-dev/fargo/internal/agent/kubeletapi"
	"github.com/fargo-dev/fargo/internal/network/names"
	"github.com/fargo-dev/fargo/internal/runtime"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// SandboxOfPod is the sandbox on this host that runs pod namespace/name on the
// node at nodeIP, for the kubelet API; runtime.ErrNotFound when the pod is not on
// that node.
func (r *Reconciler) SandboxOfPod(ctx context.Context, nodeIP net.IP, namespace, name string) (string, error) {
	pod := &corev1.Pod{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, pod); err != nil {
		if apierrors.IsNotFound(err) {
			return "", fmt.Errorf("pod %s/%s: %w", namespace, name, runtime.ErrNotFound)
		}
		return "", fmt.Errorf("reading pod %s/%s: %w", namespace, name, err)
	}
	list := &v1alpha1.SandboxList{}
	if pod.Spec.NodeName != "" {
		if err := r.Client.List(ctx, list, client.MatchingFields{sandboxNodeField: pod.Spec.NodeName}); err != nil {
			return "", fmt.Errorf("finding the sandbox of pod %s/%s: %w", namespace, name, err)
		}
	}
	for _, sb := range list.Items {
		if sb.Spec.Host == r.Host && sb.Spec.Pod.UID == string(pod.UID) && nodeIP != nil && sb.Spec.IP == nodeIP.String() {
			return sb.Name, nil
		}
	}
	return "", fmt.Errorf("pod %s/%s is not on the node at %s: %w", namespace, name, nodeIP, runtime.ErrNotFound)
}

// HasNode says whether ip is the address of one of this host's Fargate nodes,
// for the kubelet API.
func (r *Reconciler) HasNode(ctx context.Context, ip net.IP) bool {
	sb := &v1alpha1.Sandbox{}
	return r.Client.Get(ctx, client.ObjectKey{Name: names.SandboxName(ip)}, sb) == nil && sb.Spec.Host == r.Host && sb.Spec.IP == ip.String()
}

// PodOfNode is this host's Fargate node at ip, for the kubelet API's stats;
// runtime.ErrNotFound when there is none.
func (r *Reconciler) PodOfNode(ctx context.Context, ip net.IP) (kubeletapi.NodeInfo, error) {
	sb := &v1alpha1.Sandbox{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: names.SandboxName(ip)}, sb); err != nil || sb.Spec.Host != r.Host || sb.Spec.IP != ip.String() {
		return kubeletapi.NodeInfo{}, fmt.Errorf("no Fargate node of this host at %s: %w", ip, runtime.ErrNotFound)
	}
	return kubeletapi.NodeInfo{Node: names.NodeName(ip, r.Region), Sandbox: sb.Name, Pod: sb.Spec.Pod, Since: sb.CreationTimestamp.Time}, nil
}
