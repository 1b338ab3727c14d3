package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Host is a machine whose agent runs sandboxes: it registers what it can give
// (capacity) and renews a heartbeat; the fargate-scheduler places a Sandbox only on
// a live host with room for the sandbox's provisioned size.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,categories=fargo
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="mCPU",type=string,JSONPath=`.spec.capacity.milliCPU`,description="vCPU (×1000) offered to sandboxes"
// +kubebuilder:printcolumn:name="Machine-mCPU",type=string,JSONPath=`.spec.machine.milliCPU`,description="the machine's CPUs (×1000)"
// +kubebuilder:printcolumn:name="MemoryMiB",type=string,JSONPath=`.spec.capacity.memoryMiB`,description="memory offered to sandboxes"
// +kubebuilder:printcolumn:name="Machine-MemoryMiB",type=string,JSONPath=`.spec.machine.memoryMiB`,description="the machine's memory"
// +kubebuilder:printcolumn:name="Sandboxes",type=string,JSONPath=`.spec.capacity.sandboxes`
// +kubebuilder:printcolumn:name="Runtime",type=string,JSONPath=`.spec.runtime`
// +kubebuilder:printcolumn:name="Heartbeat",type=date,JSONPath=`.status.heartbeatTime`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Host struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   HostSpec   `json:"spec,omitempty"`
	Status HostStatus `json:"status,omitempty"`
}

// HostCapacity is what a host offers to sandboxes, in provisioned sizes.
type HostCapacity struct {
	// MilliCPU is the sum of provisioned vCPU (×1000) the host takes.
	// +kubebuilder:validation:Minimum=0
	MilliCPU int64 `json:"milliCPU"`
	// MemoryMiB is the sum of provisioned memory the host takes.
	// +kubebuilder:validation:Minimum=0
	MemoryMiB int64 `json:"memoryMiB"`
	// Sandboxes caps how many sandboxes the host runs at once; 0 means no cap.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Sandboxes int64 `json:"sandboxes,omitempty"`
}

// HostMachine is what the machine under a host has: its offer (HostCapacity) is
// this times the agent's overcommit ratios.
type HostMachine struct {
	// MilliCPU is the machine's CPUs (×1000).
	MilliCPU int64 `json:"milliCPU"`
	// MemoryMiB is the machine's memory.
	MemoryMiB int64 `json:"memoryMiB"`
}

// HostSpec is what the agent registers.
type HostSpec struct {
	Capacity HostCapacity `json:"capacity"`
	// Machine is the machine's own CPUs and memory (unset from older agents).
	// +optional
	Machine HostMachine `json:"machine,omitempty"`
	// Runtime names the agent's sandbox backend (containerd, fake, …).
	// +optional
	Runtime string `json:"runtime,omitempty"`
	// Isolations are the tiers the host runs sandboxes in (container,
	// microvm), its default first; unset from older agents: container.
	// +optional
	Isolations []string `json:"isolations,omitempty"`
	// Unschedulable stops new sandboxes from being placed here (drain).
	// +optional
	Unschedulable bool `json:"unschedulable,omitempty"`
}

// HostStatus is the agent's liveness.
type HostStatus struct {
	// HeartbeatTime is when the agent last said it is alive; a host silent for
	// longer than the scheduler's grace period gets no new sandboxes.
	// +optional
	HeartbeatTime *metav1.Time `json:"heartbeatTime,omitempty"`
	// KubeletEndpoint is host:port of the agent's kubelet API, where the
	// apiserver's egress proxy sends the kubelet port of this host's nodes.
	// +optional
	KubeletEndpoint string `json:"kubeletEndpoint,omitempty"`
}

// HostList is a list of Hosts.
//
// +kubebuilder:object:root=true
type HostList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Host `json:"items"`
}
