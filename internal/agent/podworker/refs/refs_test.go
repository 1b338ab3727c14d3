package refs

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestDownwardValues(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "n", UID: "u1", Labels: map[string]string{"app": "web", "tier": "a"}},
		Spec: corev1.PodSpec{NodeName: "fargate-ip-1", Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{
			Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("1Gi")}}}}},
		Status: corev1.PodStatus{PodIP: "192.168.1.4"},
	}
	for path, want := range map[string]string{
		"metadata.name": "p", "metadata.namespace": "n", "metadata.uid": "u1", "spec.nodeName": "fargate-ip-1",
		"status.podIP": "192.168.1.4", "metadata.labels['app']": "web", "metadata.labels": "app=\"web\"\ntier=\"a\"",
	} {
		if got, err := Field(pod, path); err != nil || got != want {
			t.Errorf("Field(%s) = %q, %v; want %q", path, got, err, want)
		}
	}
	if _, err := Field(pod, "spec.bogus"); err == nil {
		t.Error("unsupported field accepted")
	}
	for _, tc := range []struct {
		res, div, want string
	}{{"limits.cpu", "", "1"}, {"limits.cpu", "1m", "250"}, {"limits.memory", "1Mi", "1024"}, {"limits.memory", "", "1073741824"},
		// Unset: a limit is the node's allocatable (the provisioned size), a request 0.
		{"limits.ephemeral-storage", "1Gi", "20"}, {"requests.cpu", "1m", "0"}} {
		ref := &corev1.ResourceFieldSelector{ContainerName: "c", Resource: tc.res}
		if tc.div != "" {
			ref.Divisor = resource.MustParse(tc.div)
		}
		allocatable := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("4Gi"),
			corev1.ResourceEphemeralStorage: resource.MustParse("20Gi")}
		if got, err := Resource(pod, ref, allocatable); err != nil || got != tc.want {
			t.Errorf("Resource(%s/%s) = %q, %v; want %q", tc.res, tc.div, got, err, tc.want)
		}
	}
}
