package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// FargateProfile says which pods run on Fargate: those matching any of its selectors
// get their own right-sized sandbox in one of its subnets. It mirrors the EKS
// FargateProfile (API version 2017-11-01); the cluster is the fargo server itself.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=fp,categories=fargo
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Selector_Namespace",type=string,JSONPath=`.spec.selectors[*].namespace`
// +kubebuilder:printcolumn:name="Selector_Labels",type=string,JSONPath=`.spec.selectors[*].labels`
// +kubebuilder:printcolumn:name="Pod_Execution_Role_ARN",type=string,JSONPath=`.spec.podExecutionRoleArn`
// +kubebuilder:printcolumn:name="Subnets",type=string,JSONPath=`.spec.subnets`
// +kubebuilder:printcolumn:name="Tags",type=string,JSONPath=`.spec.tags`,priority=1
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type FargateProfile struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   FargateProfileSpec   `json:"spec,omitempty"`
	Status FargateProfileStatus `json:"status,omitempty"`
}

// FargateProfileSpec is what the user asked for; it is immutable once created.
type FargateProfileSpec struct {
	// PodExecutionRoleArn is the IAM role pods of this profile run with.
	// +optional
	PodExecutionRoleArn string `json:"podExecutionRoleArn,omitempty"`
	// Subnets are the ids of private subnets from the cluster config; empty means
	// all private subnets of the cluster.
	// +optional
	Subnets []string `json:"subnets,omitempty"`
	// Selectors choose the pods; a pod matches when it matches any selector.
	// +optional
	Selectors []FargateProfileSelector `json:"selectors,omitempty"`
	// Tags are key/value metadata, as on the EKS resource.
	// +optional
	Tags map[string]string `json:"tags,omitempty"`
}

// FargateProfileSelector matches pods by namespace and, optionally, labels.
type FargateProfileSelector struct {
	// Namespace may contain the wildcards * and ?.
	Namespace string `json:"namespace"`
	// Labels must all be present on the pod; keys and values may contain * and ?.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
}

// FargateProfileState is the lifecycle status, with EKS's values.
// +kubebuilder:validation:Enum=CREATING;ACTIVE;DELETING;CREATE_FAILED;DELETE_FAILED
type FargateProfileState string

// The states a profile moves through.
const (
	ProfileCreating     FargateProfileState = "CREATING"
	ProfileActive       FargateProfileState = "ACTIVE"
	ProfileDeleting     FargateProfileState = "DELETING"
	ProfileCreateFailed FargateProfileState = "CREATE_FAILED"
	ProfileDeleteFailed FargateProfileState = "DELETE_FAILED"
)

// FargateProfileStatus is maintained by fargo.
type FargateProfileStatus struct {
	// +optional
	Status FargateProfileState `json:"status,omitempty"`
	// FargateProfileArn is arn:aws:eks:<region>:<account>:fargateprofile/<cluster>/<name>/<uuid>.
	// +optional
	FargateProfileArn string `json:"fargateProfileArn,omitempty"`
	// +optional
	CreatedAt *metav1.Time `json:"createdAt,omitempty"`
	// +optional
	Health FargateProfileHealth `json:"health,omitempty"`
}

// FargateProfileHealth lists what keeps a profile from working.
type FargateProfileHealth struct {
	// +optional
	Issues []FargateProfileIssue `json:"issues,omitempty"`
}

// FargateProfileIssue is one problem, as in the EKS API.
type FargateProfileIssue struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// +optional
	ResourceIds []string `json:"resourceIds,omitempty"`
}

// FargateProfileList is a list of FargateProfiles.
//
// +kubebuilder:object:root=true
type FargateProfileList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []FargateProfile `json:"items"`
}
