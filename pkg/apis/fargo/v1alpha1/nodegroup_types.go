package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NodeGroup is a managed node group: long-lived nodes, each an upstream kubelet
// with its own containerd, for pods that match no Fargate profile. It mirrors the
// EKS Nodegroup (API version 2017-11-01); its nodes run on the fargo server's
// machine.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=ng,categories=fargo
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.status`
// +kubebuilder:printcolumn:name="Min",type=integer,JSONPath=`.spec.scalingConfig.minSize`
// +kubebuilder:printcolumn:name="Max",type=integer,JSONPath=`.spec.scalingConfig.maxSize`
// +kubebuilder:printcolumn:name="Desired",type=integer,JSONPath=`.spec.scalingConfig.desiredSize`
// +kubebuilder:printcolumn:name="Instance_Type",type=string,JSONPath=`.spec.instanceType`
// +kubebuilder:printcolumn:name="Nodes",type=string,JSONPath=`.status.nodes`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type NodeGroup struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   NodeGroupSpec   `json:"spec,omitempty"`
	Status NodeGroupStatus `json:"status,omitempty"`
}

// NodeGroupSpec is the group as asked for; only its scaling changes afterwards.
type NodeGroupSpec struct {
	InstanceType  string        `json:"instanceType"`
	ScalingConfig ScalingConfig `json:"scalingConfig"`
	// Subnets are subnet ids from the cluster config, in the order nodes are
	// spread over them. Left empty, fargo fills in the public subnets, or the
	// private ones with privateNetworking, as eksctl does.
	// +optional
	Subnets []string `json:"subnets,omitempty"`
	// PrivateNetworking puts the nodes in the private subnets when no subnets
	// are given.
	// +optional
	PrivateNetworking bool `json:"privateNetworking,omitempty"`
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// +optional
	Taints []corev1.Taint `json:"taints,omitempty"`
	// NodeRole is the IAM role ARN given at creation (kept, not used).
	// +optional
	NodeRole string `json:"nodeRole,omitempty"`
	// Tags are the group's EKS tags.
	// +optional
	Tags map[string]string `json:"tags,omitempty"`
}

// ScalingConfig bounds the group's size, as on EKS.
type ScalingConfig struct {
	// +kubebuilder:validation:Minimum=0
	MinSize int `json:"minSize"`
	// +kubebuilder:validation:Minimum=1
	MaxSize int `json:"maxSize"`
	// +kubebuilder:validation:Minimum=0
	DesiredSize int `json:"desiredSize"`
}

// NodeGroupState is the lifecycle status, with EKS's values.
// +kubebuilder:validation:Enum=CREATING;ACTIVE;UPDATING;DELETING;CREATE_FAILED;DELETE_FAILED;DEGRADED
type NodeGroupState string

// The states a group moves through.
const (
	NodeGroupCreating NodeGroupState = "CREATING"
	NodeGroupActive   NodeGroupState = "ACTIVE"
	NodeGroupUpdating NodeGroupState = "UPDATING"
	NodeGroupDeleting NodeGroupState = "DELETING"
	// NodeGroupDeleteFailed: a node could not be drained or removed (retried).
	NodeGroupDeleteFailed NodeGroupState = "DELETE_FAILED"
	NodeGroupDegraded     NodeGroupState = "DEGRADED"
)

// NodeGroupStatus is maintained by fargo.
type NodeGroupStatus struct {
	// +optional
	Status NodeGroupState `json:"status,omitempty"`
	// Nodes are the names of the group's running nodes.
	// +optional
	Nodes []string `json:"nodes,omitempty"`
	// Message says what went wrong, when the group is DEGRADED or DELETE_FAILED.
	// +optional
	Message string `json:"message,omitempty"`
	// ObservedGeneration is the spec generation this status is about.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// +kubebuilder:object:root=true

// NodeGroupList is a list of NodeGroups.
type NodeGroupList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []NodeGroup `json:"items"`
}
