package fargate

import (
	"context"
	"fmt"
	goruntime "runtime"
	"syscall"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fargo-dev/fargo/internal/agent/kubeletapi"
	"github.com/fargo-dev/fargo/internal/network/names"
	"github.com/fargo-dev/fargo/internal/runtime"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

const (
	// leaseNamespace is where kubelets keep their node leases.
	leaseNamespace = "kube-node-lease"
	// LeaseDuration is the node lease's duration, as kubelet's default.
	LeaseDuration = 40 * time.Second
)

// sandboxCapacity is the node's capacity and allocatable: the provisioned size
// (beyond EKS, which shows the host's) and one pod.
func sandboxCapacity(sb *v1alpha1.Sandbox) corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:              *resource.NewMilliQuantity(sb.Spec.MilliCPU, resource.DecimalSI),
		corev1.ResourceMemory:           *resource.NewQuantity(sb.Spec.MemoryMiB<<20, resource.BinarySI),
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(sb.Spec.EphemeralStorageGiB<<30, resource.BinarySI),
		corev1.ResourcePods:             *resource.NewQuantity(1, resource.DecimalSI),
	}
}

// nodeFor is the Node a sandbox registers: Fargate's name, labels and taint, the
// provisioned size as capacity (beyond EKS, which shows the host's), pods: 1.
func (r *Reconciler) nodeFor(sb *v1alpha1.Sandbox, runtimeVersion string) *corev1.Node {
	host := names.NodeHostname(sb.Spec.NodeName)
	capacity := sandboxCapacity(sb)
	isolation := sb.Spec.Isolation
	if isolation == "" {
		isolation = runtime.IsolationOf(r.Runtime)
	}
	now := metav1.NewTime(r.Clock.Now())
	cond := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg, LastHeartbeatTime: now, LastTransitionTime: now}
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: sb.Spec.NodeName,
			Labels: map[string]string{
				v1alpha1.LabelComputeType:           v1alpha1.ComputeFargate,
				v1alpha1.LabelSandbox:               sb.Name,
				corev1.LabelHostname:                host,
				corev1.LabelOSStable:                goruntime.GOOS,
				corev1.LabelArchStable:              goruntime.GOARCH,
				"beta.kubernetes.io/os":             goruntime.GOOS,
				"beta.kubernetes.io/arch":           goruntime.GOARCH,
				corev1.LabelTopologyRegion:          r.Region,
				corev1.LabelTopologyZone:            sb.Spec.Zone,
				corev1.LabelFailureDomainBetaRegion: r.Region,
				corev1.LabelFailureDomainBetaZone:   sb.Spec.Zone,
				v1alpha1.LabelHost:                  r.Host,
				v1alpha1.LabelProfileName:           sb.Spec.Profile,
				v1alpha1.LabelIsolation:             isolation,
			},
			Annotations: map[string]string{v1alpha1.AnnotationControllerAttachDetach: "true"},
		},
		Spec: corev1.NodeSpec{
			ProviderID: fmt.Sprintf("fargo:///%s/%s/%s", sb.Spec.Zone, sb.Name, sb.Spec.NodeName),
			Taints:     []corev1.Taint{{Key: v1alpha1.LabelComputeType, Value: v1alpha1.ComputeFargate, Effect: corev1.TaintEffectNoSchedule}},
		},
		Status: corev1.NodeStatus{
			Capacity: capacity, Allocatable: capacity,
			Conditions: []corev1.NodeCondition{
				cond(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
				cond(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
				cond(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
				cond(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "fargo sandbox "+sb.Name+" is running"),
			},
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: sb.Spec.IP},
				{Type: corev1.NodeInternalDNS, Address: host},
				{Type: corev1.NodeHostName, Address: host},
			},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: kubeletapi.Port}},
			NodeInfo: corev1.NodeSystemInfo{
				OperatingSystem: goruntime.GOOS, Architecture: goruntime.GOARCH,
				KubeletVersion: r.KubeletVersion, KubeProxyVersion: r.KubeletVersion,
				ContainerRuntimeVersion: runtimeVersion, OSImage: "fargo sandbox", KernelVersion: kernelVersion(),
			},
		},
	}
}

// kernelVersion is the host kernel's release, which every sandbox shares.
func kernelVersion() string {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		return ""
	}
	b := make([]byte, 0, len(u.Release))
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b)
}

// register creates the sandbox's node (status included, as kubelet does) and
// its lease. An existing node of the same sandbox is kept; once registered, the
// heartbeat keeps the lease.
func (r *Reconciler) register(ctx context.Context, sb *v1alpha1.Sandbox) error {
	if done(sb, v1alpha1.SandboxRegistered) && sb.Status.NodeName == sb.Spec.NodeName {
		err := r.Client.Get(ctx, client.ObjectKey{Name: sb.Spec.NodeName}, &corev1.Node{})
		if !apierrors.IsNotFound(err) {
			return nil // there (or unknown for now: the next reconcile looks again)
		}
		// Deleted from outside: register it again, as kubelet does.
	}
	if err := r.registerNode(ctx, sb); err != nil {
		r.setCondition(sb, v1alpha1.SandboxRegistered, false, "RegisterFailed", err.Error())
		r.notReady(sb, "RegisterFailed")
		return err
	}
	sb.Status.NodeName = sb.Spec.NodeName
	r.setCondition(sb, v1alpha1.SandboxRegistered, true, "Registered", "node "+sb.Spec.NodeName)
	return nil
}

func (r *Reconciler) registerNode(ctx context.Context, sb *v1alpha1.Sandbox) error {
	version, err := runtime.VersionFor(ctx, r.Runtime, sb.Spec.Isolation)
	if err != nil {
		return fmt.Errorf("asking the %s runtime its version: %w", r.Runtime.Name(), err)
	}
	node := r.nodeFor(sb, version)
	if err := r.Client.Create(ctx, node); apierrors.IsAlreadyExists(err) {
		err := r.Client.Get(ctx, client.ObjectKeyFromObject(node), node)
		if apierrors.IsNotFound(err) && r.Reader != nil {
			// Created by an earlier agent process, not yet in this one's cache.
			err = r.Reader.Get(ctx, client.ObjectKeyFromObject(node), node)
		}
		if err != nil {
			return fmt.Errorf("reading node %s: %w", node.Name, err)
		}
		if node.Labels[v1alpha1.LabelSandbox] != sb.Name {
			return fmt.Errorf("node %s exists and belongs to another sandbox (%q)", node.Name, node.Labels[v1alpha1.LabelSandbox])
		}
	} else if err != nil {
		return fmt.Errorf("registering node %s: %w", node.Name, err)
	}
	return r.renewLease(ctx, node)
}

// renewLease creates or renews the node's lease, the heartbeat the node lifecycle
// controller watches.
func (r *Reconciler) renewLease(ctx context.Context, node *corev1.Node) error {
	now := metav1.NewMicroTime(r.Clock.Now())
	lease := &coordinationv1.Lease{}
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: leaseNamespace, Name: node.Name}, lease)
	if apierrors.IsNotFound(err) {
		lease = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Namespace: leaseNamespace, Name: node.Name,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID}}},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(node.Name), LeaseDurationSeconds: ptr.To(int32(LeaseDuration / time.Second)), RenewTime: &now},
		}
		if err := r.Client.Create(ctx, lease); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating lease of node %s: %w", node.Name, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading lease of node %s: %w", node.Name, err)
	}
	lease.Spec.RenewTime = &now
	if err := r.Client.Update(ctx, lease); err != nil {
		return fmt.Errorf("renewing lease of node %s: %w", node.Name, err)
	}
	return nil
}

// deleteNode removes a node and its lease; missing ones are fine.
func (r *Reconciler) deleteNode(ctx context.Context, name string) error {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := r.Client.Delete(ctx, node); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting node %s: %w", node.Name, err)
	}
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: leaseNamespace, Name: name}}
	if err := r.Client.Delete(ctx, lease); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting lease of node %s: %w", node.Name, err)
	}
	return nil
}
