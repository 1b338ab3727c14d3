package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Sandbox is the claim for one isolated, right-sized sandbox running one Fargate pod:
// created by the fargate-scheduler, fulfilled by a host agent, which registers the
// sandbox as a node. Its name is derived from its IP, so no IP is handed out twice.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=sb,categories=fargo
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Pod",type=string,JSONPath=`.spec.pod.name`
// +kubebuilder:printcolumn:name="Namespace",type=string,JSONPath=`.spec.pod.namespace`
// +kubebuilder:printcolumn:name="Capacity",type=string,JSONPath=`.spec.capacityProvisioned`
// +kubebuilder:printcolumn:name="IP",type=string,JSONPath=`.spec.ip`
// +kubebuilder:printcolumn:name="Node",type=string,JSONPath=`.status.nodeName`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Sandbox struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   SandboxSpec   `json:"spec,omitempty"`
	Status SandboxStatus `json:"status,omitempty"`
}

// PodReference names the pod a sandbox runs.
type PodReference struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	UID       string `json:"uid"`
}

// SandboxSpec is what the scheduler decided.
type SandboxSpec struct {
	Pod     PodReference `json:"pod"`
	Profile string       `json:"profile"`
	// CapacityProvisioned is EKS's annotation value, e.g. "1vCPU 2GB".
	CapacityProvisioned string `json:"capacityProvisioned"`
	MilliCPU            int64  `json:"milliCPU"`
	MemoryMiB           int64  `json:"memoryMiB"`
	EphemeralStorageGiB int64  `json:"ephemeralStorageGiB"`
	SubnetID            string `json:"subnetID"`
	// SubnetCIDR is the subnet's range: the sandbox routes via its router address.
	// +optional
	SubnetCIDR string `json:"subnetCIDR,omitempty"`
	Zone       string `json:"zone"`
	IP         string `json:"ip"`
	// NodeName is the node the sandbox registers as.
	NodeName string `json:"nodeName"`
	// +optional
	Host string `json:"host,omitempty"`
	// Isolation is the tier the profile asked for (container or microvm, from
	// its fargo.dev/isolation tag); empty: the host's default.
	// +optional
	Isolation string `json:"isolation,omitempty"`
}

// SandboxPhase is where a sandbox is in its life.
// +kubebuilder:validation:Enum=Pending;Running;Terminating;Failed
type SandboxPhase string

// Sandbox phases.
const (
	SandboxPending     SandboxPhase = "Pending"
	SandboxRunning     SandboxPhase = "Running"
	SandboxTerminating SandboxPhase = "Terminating"
	SandboxFailed      SandboxPhase = "Failed"
)

// SandboxStatus is maintained by the host agent.
type SandboxStatus struct {
	// +optional
	Phase SandboxPhase `json:"phase,omitempty"`
	// NodeName is set once the sandbox's node is registered.
	// +optional
	NodeName string `json:"nodeName,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
	// Conditions record each step of the sandbox's life with the time it
	// happened: Launched, Registered, Ready, Pulling, Stopped, Released.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Usage is what the sandbox's pod has used so far, from its cgroup's
	// counters: read by the agent now and then, and last as the pod stops.
	// +optional
	Usage *SandboxUsage `json:"usage,omitempty"`
}

// SandboxUsage is a reading of a sandbox's resource counters.
type SandboxUsage struct {
	// CPUSeconds is the CPU time used by all its containers (decimal seconds).
	CPUSeconds string `json:"cpuSeconds"`
	// MemoryPeakBytes is the most memory it has used at once.
	MemoryPeakBytes int64 `json:"memoryPeakBytes"`
	// Time is when it was read.
	Time metav1.Time `json:"time"`
}

// Sandbox conditions, one per step of its life (Karpenter's NodeClaim style).
const (
	// SandboxLaunched: the runtime sandbox and its network exist.
	SandboxLaunched = "Launched"
	// SandboxRegistered: the sandbox's node and lease exist.
	SandboxRegistered = "Registered"
	// SandboxReady: the node is Ready and the pod may be bound and run.
	SandboxReady = "Ready"
	// SandboxPulling: the pod is bound and its first image started to
	// download; the meter starts here, as EKS's does.
	SandboxPulling = "Pulling"
	// SandboxStopped: its pod has finished; its containers are stopped and its
	// compute released, while its node, IP and logs stay until the pod is
	// deleted.
	SandboxStopped = "Stopped"
	// SandboxReleased: everything the sandbox held on its host is gone.
	SandboxReleased = "Released"
)

// SandboxList is a list of Sandboxes.
//
// +kubebuilder:object:root=true
type SandboxList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Sandbox `json:"items"`
}
