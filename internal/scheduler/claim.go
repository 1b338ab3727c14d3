package scheduler

import (
	"context"
	"fmt"
	"net"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fargo-dev/fargo/internal/network/ipam"
	"github.com/fargo-dev/fargo/internal/network/names"
	"github.com/fargo-dev/fargo/internal/profile"
	"github.com/fargo-dev/fargo/internal/sizing"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// claim returns the pod's Sandbox, creating it on first call: the profile's least
// used subnet (an even spread, unlike EKS), its first free IP, and a live host with
// room for the size. The Sandbox is named after the IP, so the API server refuses a
// second claim on an address even when two schedulers race or the cache is behind.
// Choices are made under a lock and recorded before the create, so concurrent
// reconciles never pick the same IP or overfill a host, yet create in parallel.
func (s *Scheduler) claim(ctx context.Context, pod *corev1.Pod, prof *v1alpha1.FargateProfile, size sizing.Size, storageGiB int64) (*v1alpha1.Sandbox, error) {
	for {
		sb, existing, err := s.reserve(ctx, pod, prof, size, storageGiB)
		if err != nil || existing {
			return sb, err
		}
		err = s.Client.Create(ctx, sb)
		if apierrors.IsAlreadyExists(err) {
			// Someone our cache does not show yet holds the IP: keep it marked taken.
			s.claimMu.Lock()
			s.claimed[sb.Spec.IP] = &v1alpha1.Sandbox{ObjectMeta: metav1.ObjectMeta{Name: sb.Name}, Spec: v1alpha1.SandboxSpec{IP: sb.Spec.IP, SubnetID: sb.Spec.SubnetID}}
			s.claimMu.Unlock()
			continue
		}
		if err != nil {
			s.claimMu.Lock()
			delete(s.claimed, sb.Spec.IP)
			s.claimMu.Unlock()
			return nil, fmt.Errorf("creating sandbox for pod %s/%s: %w", pod.Namespace, pod.Name, err)
		}
		// No event: EKS's scheduler has none for this step (the pod's nominated
		// node names the sandbox), and each is a write on a pod's path.
		klog.V(2).Infof("sandbox %s (%s, %s in %s) claimed on host %s for pod %s/%s",
			sb.Name, sb.Spec.CapacityProvisioned, sb.Spec.IP, sb.Spec.SubnetID, sb.Spec.Host, pod.Namespace, pod.Name)
		return sb, nil
	}
}

// reserve returns the pod's existing sandbox (existing true), or chooses host,
// subnet and IP for a new one and records it as claimed.
func (s *Scheduler) reserve(ctx context.Context, pod *corev1.Pod, prof *v1alpha1.FargateProfile, size sizing.Size, storageGiB int64) (*v1alpha1.Sandbox, bool, error) {
	s.claimMu.Lock()
	defer s.claimMu.Unlock()
	all := &v1alpha1.SandboxList{}
	// Read-only views of the cache: copying every sandbox per claim is O(n²).
	if err := s.Client.List(ctx, all, client.UnsafeDisableDeepCopy); err != nil {
		return nil, false, fmt.Errorf("listing sandboxes: %w", err)
	}
	hosts := &v1alpha1.HostList{}
	if err := s.Client.List(ctx, hosts, client.UnsafeDisableDeepCopy); err != nil {
		return nil, false, fmt.Errorf("listing hosts: %w", err)
	}
	if s.claimed == nil {
		s.claimed = map[string]*v1alpha1.Sandbox{}
	}
	held := make([]*v1alpha1.Sandbox, 0, len(all.Items)+len(s.claimed))
	for i := range all.Items {
		sb := &all.Items[i]
		if sb.Labels[v1alpha1.LabelPodUID] == string(pod.UID) {
			return sb.DeepCopy(), true, nil
		}
		delete(s.claimed, sb.Spec.IP) // the cache has caught up with it
		held = append(held, sb)
	}
	for _, sb := range s.claimed {
		if sb.Labels[v1alpha1.LabelPodUID] == string(pod.UID) {
			return sb.DeepCopy(), true, nil // created, not yet in the cache
		}
		held = append(held, sb)
	}
	claims := ipam.Claims{}
	for _, sb := range held {
		// Owners are distinct by construction (one Sandbox per address); a second
		// owner would only mean the cache is behind, and Add keeps the first.
		_ = claims.Add(ipam.Claim{IP: sb.Spec.IP, Subnet: sb.Spec.SubnetID, Owner: ipam.Owner{Kind: "Sandbox", Name: sb.Name}})
	}
	perSubnet := claims.PerSubnet()
	isolation := profile.Isolation(prof)
	host, err := pickHost(offering(rooms(hosts.Items, held, s.now(), s.HostGrace), isolation), size, s.Placement)
	if err != nil {
		return nil, false, err
	}
	subnetID := ""
	for _, id := range prof.Spec.Subnets {
		if _, ok := s.Subnets[id]; ok && (subnetID == "" || perSubnet[id] < perSubnet[subnetID]) {
			subnetID = id
		}
	}
	if subnetID == "" {
		return nil, false, fmt.Errorf("Fargate profile %s has no subnet known to this cluster", prof.Name)
	}
	subnet := s.Subnets[subnetID]
	ip, ok := ipam.FreeIP(subnet.Net, func(ip net.IP) bool { return claims.Held(ip) || (s.Reserved != nil && s.Reserved(ip)) })
	if !ok {
		return nil, false, fmt.Errorf("no free IP address in subnet %s (%s) of Fargate profile %s", subnetID, subnet.Net, prof.Name)
	}
	sb := &v1alpha1.Sandbox{
		ObjectMeta: metav1.ObjectMeta{Name: names.SandboxName(ip), Labels: map[string]string{v1alpha1.LabelPodUID: string(pod.UID)},
			Finalizers: []string{v1alpha1.SandboxFinalizer}},
		Spec: v1alpha1.SandboxSpec{
			Pod:     v1alpha1.PodReference{Namespace: pod.Namespace, Name: pod.Name, UID: string(pod.UID)},
			Profile: prof.Name, CapacityProvisioned: size.String(), MilliCPU: size.MilliCPU, MemoryMiB: size.MemoryMiB,
			EphemeralStorageGiB: storageGiB, SubnetID: subnetID, SubnetCIDR: subnet.Net.String(), Zone: subnet.Zone, IP: ip.String(),
			NodeName: names.NodeName(ip, s.Region), Host: host, Isolation: isolation,
		},
	}
	s.claimed[ip.String()] = sb.DeepCopy()
	return sb, false, nil
}
