package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// UsageRecord is the meter's record of one run: a Fargate pod from the moment
// its first image started to download until it stopped, or a node-group node
// from its start until its removal, billed per second at its size. Named by
// the pod's (or node's) UID, so a pod whose containers restart has one. Kept
// after the pod is gone, for the retention period.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=usage,categories=fargo
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Kind",type=string,JSONPath=`.spec.kind`
// +kubebuilder:printcolumn:name="Namespace",type=string,JSONPath=`.spec.pod.namespace`
// +kubebuilder:printcolumn:name="Pod",type=string,JSONPath=`.spec.pod.name`
// +kubebuilder:printcolumn:name="Node",type=string,JSONPath=`.spec.node`,priority=1
// +kubebuilder:printcolumn:name="Profile",type=string,JSONPath=`.spec.profile`,priority=1
// +kubebuilder:printcolumn:name="Size",type=string,JSONPath=`.spec.size.name`
// +kubebuilder:printcolumn:name="Start",type=date,JSONPath=`.status.start`
// +kubebuilder:printcolumn:name="Stopped",type=boolean,JSONPath=`.status.final`
// +kubebuilder:printcolumn:name="Seconds",type=integer,JSONPath=`.status.billedSeconds`
// +kubebuilder:printcolumn:name="Cost",type=string,JSONPath=`.status.cost`
type UsageRecord struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   UsageRecordSpec   `json:"spec,omitempty"`
	Status UsageRecordStatus `json:"status,omitempty"`
}

// Kinds of run.
const (
	UsagePod  = "Pod"
	UsageNode = "Node"
)

// UsageRecordSpec is what ran: set when the record is made, never changed.
type UsageRecordSpec struct {
	// Kind is Pod (a Fargate pod) or Node (a node-group node).
	// +kubebuilder:validation:Enum=Pod;Node
	Kind string `json:"kind"`
	// Pod is the Fargate pod metered.
	// +optional
	Pod *PodReference `json:"pod,omitempty"`
	// Profile is the Fargate profile that selected the pod.
	// +optional
	Profile string `json:"profile,omitempty"`
	// NodeGroup is the node's group.
	// +optional
	NodeGroup string `json:"nodeGroup,omitempty"`
	// Node is the node the pod ran as, or the node metered.
	Node string `json:"node"`
	// Size is what is billed.
	Size UsageSize `json:"size"`
}

// UsageSize is a run's billed size.
type UsageSize struct {
	// Name is EKS's CapacityProvisioned ("0.25vCPU 0.5GB"), or the instance type.
	Name       string `json:"name"`
	MilliCPU   int64  `json:"milliCPU,omitempty"`
	MemoryMiB  int64  `json:"memoryMiB,omitempty"`
	StorageGiB int64  `json:"storageGiB,omitempty"`
	// +optional
	InstanceType string `json:"instanceType,omitempty"`
}

// UsageRecordStatus is the meter's reading: updated while the run goes on,
// final once it has stopped.
type UsageRecordStatus struct {
	// Start is when the meter started.
	// +optional
	Start *metav1.Time `json:"start,omitempty"`
	// Until is how far the run is metered: its stop once final, else the last
	// reading (a crash loses no more than the time since).
	// +optional
	Until *metav1.Time `json:"until,omitempty"`
	// Final is set, once, when the run has stopped; the record never changes after.
	// +optional
	Final bool `json:"final,omitempty"`
	// StopReason says what stopped the meter.
	// +optional
	StopReason string `json:"stopReason,omitempty"`
	// BilledSeconds is Until-Start rounded up to the second, at least 60.
	// +optional
	BilledSeconds int64 `json:"billedSeconds,omitempty"`
	// Cost is BilledSeconds at the size and the cluster's rates, in Currency.
	// +optional
	Cost string `json:"cost,omitempty"`
	// +optional
	Currency string `json:"currency,omitempty"`
	// CPUSecondsUsed and MemoryPeakBytes are what the pod used (beyond EKS),
	// from the runtime's counters, as of the last reading.
	// +optional
	CPUSecondsUsed string `json:"cpuSecondsUsed,omitempty"`
	// +optional
	MemoryPeakBytes int64 `json:"memoryPeakBytes,omitempty"`
}

// UsageRecordList is a list of UsageRecords.
//
// +kubebuilder:object:root=true
type UsageRecordList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []UsageRecord `json:"items"`
}
