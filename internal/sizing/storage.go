package sizing

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// Ephemeral storage, as Fargate provisions it.
const (
	DefaultStorageGiB = 20
	MaxStorageGiB     = 175
)

// EphemeralStorageGiB is the volume Fargate provisions for a pod: 20 GiB, or when
// the containers request more, their sum + 10 % + 5 GiB (rounded up to whole GiB).
func EphemeralStorageGiB(spec *corev1.PodSpec) (int64, error) {
	var sum int64
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range cs {
			if q, ok := cs[i].Resources.Requests[corev1.ResourceEphemeralStorage]; ok {
				sum = satAdd(sum, value(q))
			}
		}
	}
	const gib = 1 << 30
	if sum > MaxStorageGiB*gib {
		return 0, fmt.Errorf("the pod requests %.1f GiB of ephemeral storage; Fargate provides at most %d GiB", float64(sum)/gib, MaxStorageGiB)
	}
	provisioned := ceilDiv(sum+sum/10+5*gib, gib)
	return max(provisioned, DefaultStorageGiB), nil
}
