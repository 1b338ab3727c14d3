package agent

import (
	"context"
	"fmt"
	goruntime "runtime"
	"strings"
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
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// Fargate node labels and taint (reference §3.2).
const (
	LabelComputeType = "eks.amazonaws.com/compute-type"
	ComputeFargate   = "fargate"
	// LabelSandbox and LabelHost tie a node to its Sandbox object and host, for the sweep.
	LabelSandbox = "fargo.dev/sandbox"
	LabelHost    = "fargo.dev/host"
	// leaseNamespace is where kubelets keep their node leases.
	leaseNamespace = "kube-node-lease"
	// LeaseDuration is the node lease's duration, as kubelet's default.
	LeaseDuration = 40 * time.Second
)

// hostname is EKS's un-prefixed node hostname: ip-a-b-c-d.<region>.compute.internal.
func hostname(nodeName string) string { return strings.TrimPrefix(nodeName, "fargate-") }

// nodeFor is the Node a sandbox registers: Fargate's name, labels and taint, the
// provisioned size as capacity (beyond EKS, which shows the host's), pods: 1.
func (a *Agent) nodeFor(sb *v1alpha1.Sandbox, runtimeVersion string) *corev1.Node {
	host := hostname(sb.Spec.NodeName)
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:              *resource.NewMilliQuantity(sb.Spec.MilliCPU, resource.DecimalSI),
		corev1.ResourceMemory:           *resource.NewQuantity(sb.Spec.MemoryMiB<<20, resource.BinarySI),
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(sb.Spec.EphemeralStorageGiB<<30, resource.BinarySI),
		corev1.ResourcePods:             *resource.NewQuantity(1, resource.DecimalSI),
	}
	now := metav1.Now()
	cond := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg, LastHeartbeatTime: now, LastTransitionTime: now}
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: sb.Spec.NodeName,
			Labels: map[string]string{
				LabelComputeType:                         ComputeFargate,
				LabelSandbox:                             sb.Name,
				corev1.LabelHostname:                     host,
				corev1.LabelOSStable:                     goruntime.GOOS,
				corev1.LabelArchStable:                   goruntime.GOARCH,
				"beta.kubernetes.io/os":                  goruntime.GOOS,
				"beta.kubernetes.io/arch":                goruntime.GOARCH,
				corev1.LabelTopologyRegion:               a.cfg.Region,
				corev1.LabelTopologyZone:                 sb.Spec.Zone,
				corev1.LabelFailureDomainBetaRegion:      a.cfg.Region,
				corev1.LabelFailureDomainBetaZone:        sb.Spec.Zone,
				LabelHost:                                a.cfg.HostName,
				"eks.amazonaws.com/fargate-profile-name": sb.Spec.Profile,
			},
			Annotations: map[string]string{"volumes.kubernetes.io/controller-managed-attach-detach": "true"},
		},
		Spec: corev1.NodeSpec{
			ProviderID: fmt.Sprintf("fargo:///%s/%s/%s", sb.Spec.Zone, sb.Name, sb.Spec.NodeName),
			Taints:     []corev1.Taint{{Key: LabelComputeType, Value: ComputeFargate, Effect: corev1.TaintEffectNoSchedule}},
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
				KubeletVersion: a.cfg.KubeletVersion, KubeProxyVersion: a.cfg.KubeletVersion,
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

// registerNode creates the sandbox's node (status included, as kubelet does) and
// its lease. An existing node of the same sandbox is kept.
func (a *Agent) registerNode(ctx context.Context, sb *v1alpha1.Sandbox) (*corev1.Node, error) {
	version, err := a.cfg.Runtime.Version(ctx)
	if err != nil {
		return nil, fmt.Errorf("asking the %s runtime its version: %w", a.cfg.Runtime.Name(), err)
	}
	node := a.nodeFor(sb, version)
	if err := a.client.Create(ctx, node); apierrors.IsAlreadyExists(err) {
		if err := a.client.Get(ctx, client.ObjectKeyFromObject(node), node); err != nil {
			return nil, fmt.Errorf("reading node %s: %w", node.Name, err)
		}
		if node.Labels[LabelSandbox] != sb.Name {
			return nil, fmt.Errorf("node %s exists and belongs to another sandbox (%q)", node.Name, node.Labels[LabelSandbox])
		}
	} else if err != nil {
		return nil, fmt.Errorf("registering node %s: %w", node.Name, err)
	}
	return node, a.renewLease(ctx, node)
}

// renewLease creates or renews the node's lease, the heartbeat the node lifecycle
// controller watches.
func (a *Agent) renewLease(ctx context.Context, node *corev1.Node) error {
	now := metav1.NewMicroTime(time.Now())
	lease := &coordinationv1.Lease{}
	err := a.client.Get(ctx, client.ObjectKey{Namespace: leaseNamespace, Name: node.Name}, lease)
	if apierrors.IsNotFound(err) {
		lease = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Namespace: leaseNamespace, Name: node.Name,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID}}},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(node.Name), LeaseDurationSeconds: ptr.To(int32(LeaseDuration / time.Second)), RenewTime: &now},
		}
		if err := a.client.Create(ctx, lease); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating lease of node %s: %w", node.Name, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading lease of node %s: %w", node.Name, err)
	}
	lease.Spec.RenewTime = &now
	if err := a.client.Update(ctx, lease); err != nil {
		return fmt.Errorf("renewing lease of node %s: %w", node.Name, err)
	}
	return nil
}

// deleteNode removes the sandbox's node and lease; missing ones are fine.
func (a *Agent) deleteNode(ctx context.Context, sb *v1alpha1.Sandbox) error {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: sb.Spec.NodeName}}
	if err := a.client.Delete(ctx, node); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting node %s: %w", node.Name, err)
	}
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: leaseNamespace, Name: sb.Spec.NodeName}}
	if err := a.client.Delete(ctx, lease); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting lease of node %s: %w", node.Name, err)
	}
	return nil
}
