package clusterdns

import (
	"github.com/fargo-dev/fargo/internal/profile"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// FargateProfile is the profile that would take CoreDNS's pods were they not
// annotated compute-type: ec2, or nil. As eksctl does when a profile selects
// CoreDNS (`create cluster --fargate`, a profile for kube-system), such a
// profile sends CoreDNS to Fargate.
func FargateProfile(profiles []*v1alpha1.FargateProfile) *v1alpha1.FargateProfile {
	return profile.Select(profiles, profile.Pod{Namespace: Namespace, Labels: map[string]string{AppLabel: AppValue, Component: Name}})
}
