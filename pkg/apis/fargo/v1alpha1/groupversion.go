package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the API group and version of fargo's CRDs.
var GroupVersion = schema.GroupVersion{Group: "fargo.dev", Version: "v1alpha1"}

var (
	schemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme registers fargo's types with a scheme.
	AddToScheme = schemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &FargateProfile{}, &FargateProfileList{}, &Sandbox{}, &SandboxList{}, &Host{}, &HostList{}, &NodeGroup{}, &NodeGroupList{}, &UsageRecord{}, &UsageRecordList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
