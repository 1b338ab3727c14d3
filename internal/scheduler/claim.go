package scheduler

import (
	"context"
	"fmt"
	"net"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fargo-dev/fargo/internal/network"
	"github.com/fargo-dev/fargo/internal/sizing"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// claim returns the pod's Sandbox, creating it on first call: the profile's least
// used subnet (an even spread, unlike EKS), and its first free IP. The Sandbox is
// named after the IP, so the API server refuses a second claim on an address even
// when two schedulers race or the cache is behind.
func (s *Scheduler) claim(ctx context.Context, pod *corev1.Pod, prof *v1alpha1.FargateProfile, size sizing.Size, storageGiB int64) (*v1alpha1.Sandbox, error) {
	s.claimMu.Lock()
	defer s.claimMu.Unlock()
	all := &v1alpha1.SandboxList{}
	if err := s.Client.List(ctx, all); err != nil {
		return nil, fmt.Errorf("listing sandboxes: %w", err)
	}
	if s.claimed == nil {
		s.claimed = map[string]bool{}
	}
	used := map[string]bool{}
	perSubnet := map[string]int{}
	for i := range all.Items {
		sb := &all.Items[i]
		if sb.Labels[LabelPodUID] == string(pod.UID) {
			return sb, nil
		}
		used[sb.Spec.IP] = true
		delete(s.claimed, sb.Spec.IP) // the cache has caught up with it
		perSubnet[sb.Spec.SubnetID]++
	}
	for ip := range s.claimed {
		used[ip] = true
	}
	subnetID := ""
	for _, id := range prof.Spec.Subnets {
		if _, ok := s.Subnets[id]; ok && (subnetID == "" || perSubnet[id] < perSubnet[subnetID]) {
			subnetID = id
		}
	}
	if subnetID == "" {
		return nil, fmt.Errorf("Fargate profile %s has no subnet known to this cluster", prof.Name)
	}
	subnet := s.Subnets[subnetID]
	for {
		ip, ok := network.FreeIP(subnet.Net, func(ip net.IP) bool { return used[ip.String()] })
		if !ok {
			return nil, fmt.Errorf("no free IP address in subnet %s (%s) of Fargate profile %s", subnetID, subnet.Net, prof.Name)
		}
		sb := &v1alpha1.Sandbox{
			ObjectMeta: metav1.ObjectMeta{Name: network.SandboxName(ip), Labels: map[string]string{LabelPodUID: string(pod.UID)}},
			Spec: v1alpha1.SandboxSpec{
				Pod:     v1alpha1.PodReference{Namespace: pod.Namespace, Name: pod.Name, UID: string(pod.UID)},
				Profile: prof.Name, CapacityProvisioned: size.String(), MilliCPU: size.MilliCPU, MemoryMiB: size.MemoryMiB,
				EphemeralStorageGiB: storageGiB, SubnetID: subnetID, Zone: subnet.Zone, IP: ip.String(),
				NodeName: network.NodeName(ip, s.Region),
			},
		}
		err := s.Client.Create(ctx, sb)
		if apierrors.IsAlreadyExists(err) {
			used[ip.String()] = true
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("creating sandbox for pod %s/%s: %w", pod.Namespace, pod.Name, err)
		}
		s.claimed[ip.String()] = true
		s.Recorder.Eventf(pod, corev1.EventTypeNormal, "SandboxClaimed", "Sandbox %s (%s, %s in %s) claimed", sb.Name, sb.Spec.CapacityProvisioned, sb.Spec.IP, subnetID)
		return sb, nil
	}
}
