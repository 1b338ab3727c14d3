package meter

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// Labels of node-group nodes, as EKS sets them.
const (
	labelNodeGroup    = "eks.amazonaws.com/nodegroup"
	labelInstanceType = "node.kubernetes.io/instance-type"
)

// reading is what the ledger knows of a run now, from its Sandbox or Node.
type reading struct {
	spec v1alpha1.UsageRecordSpec
	// start is when the meter started (zero: not yet); stop when it stopped
	// (zero: it runs), for reason.
	start, stop time.Time
	reason      string
	usage       *v1alpha1.SandboxUsage
	// settling: the pod is deleted and its host has not yet released the
	// sandbox, whose last usage reading comes with the Released step.
	settling bool
}

// sandboxReading is a Fargate pod's run: metered from its first image pull
// (the Pulling step) until its containers have all terminated (the Stopped
// step) or, under StopPod, until the pod is deleted.
func sandboxReading(sb *v1alpha1.Sandbox, rule StopRule) reading {
	s := sb.Spec
	pod := s.Pod
	r := reading{spec: v1alpha1.UsageRecordSpec{Kind: v1alpha1.UsagePod, Pod: &pod, Profile: s.Profile, Node: s.NodeName,
		Size: v1alpha1.UsageSize{Name: s.CapacityProvisioned, MilliCPU: s.MilliCPU, MemoryMiB: s.MemoryMiB, StorageGiB: s.EphemeralStorageGiB}},
		usage: sb.Status.Usage}
	if c := meta.FindStatusCondition(sb.Status.Conditions, v1alpha1.SandboxPulling); c != nil && c.Status == metav1.ConditionTrue {
		r.start = c.LastTransitionTime.Time
	}
	if c := meta.FindStatusCondition(sb.Status.Conditions, v1alpha1.SandboxStopped); rule == StopContainers && c != nil && c.Status == metav1.ConditionTrue {
		r.stop, r.reason = c.LastTransitionTime.Time, "ContainersTerminated"
	} else if sb.DeletionTimestamp != nil {
		r.stop, r.reason = sb.DeletionTimestamp.Time, "PodDeleted"
		r.settling = controllerutil.ContainsFinalizer(sb, v1alpha1.SandboxFinalizer) &&
			!meta.IsStatusConditionTrue(sb.Status.Conditions, v1alpha1.SandboxStopped) && // read as it stopped
			!meta.IsStatusConditionTrue(sb.Status.Conditions, v1alpha1.SandboxReleased)
	}
	return r
}

// nodeReading is a node-group node's run: from its creation to its deletion.
func nodeReading(n *corev1.Node) reading {
	t := n.Labels[labelInstanceType]
	r := reading{spec: v1alpha1.UsageRecordSpec{Kind: v1alpha1.UsageNode, NodeGroup: n.Labels[labelNodeGroup], Node: n.Name,
		Size: v1alpha1.UsageSize{Name: t, InstanceType: t}}, start: n.CreationTimestamp.Time}
	if n.DeletionTimestamp != nil {
		r.stop, r.reason = n.DeletionTimestamp.Time, "NodeDeleted"
	}
	return r
}

// size is the record's size for pricing.
func size(s v1alpha1.UsageSize) Size {
	return Size{MilliCPU: s.MilliCPU, MemoryMiB: s.MemoryMiB, StorageGiB: s.StorageGiB, InstanceType: s.InstanceType}
}
