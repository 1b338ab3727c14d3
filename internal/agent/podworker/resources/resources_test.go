package resources

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/kubernetes/pkg/kubelet/cm"

	"github.com/fargo-dev/fargo/internal/runtime"
)

// The CPU formulas are kubelet's.
func TestFormulasAreKubelets(t *testing.T) {
	for _, m := range []int64{0, 1, 2, 5, 10, 15, 20, 100, 250, 999, 1000, 1500, 4000, 16000, 300000} {
		if got, want := shares(m), cm.MilliCPUToShares(m); got != want {
			t.Errorf("shares(%dm) = %d; kubelet gives %d", m, got, want)
		}
		if got, want := quota(m), cm.MilliCPUToQuota(m, cm.QuotaPeriod); got != want {
			t.Errorf("quota(%dm) = %d; kubelet gives %d", m, got, want)
		}
	}
}

func TestCgroup(t *testing.T) {
	list := func(kv ...string) corev1.ResourceList {
		out := corev1.ResourceList{}
		for i := 0; i < len(kv); i += 2 {
			out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
		}
		return out
	}
	for _, tc := range []struct {
		name string
		r    corev1.ResourceRequirements
		want runtime.Resources
	}{
		{"best effort", corev1.ResourceRequirements{}, runtime.Resources{CPUShares: 2}},
		{"requests", corev1.ResourceRequirements{Requests: list("cpu", "250m", "memory", "64Mi")}, runtime.Resources{CPUShares: 256}},
		{"limits", corev1.ResourceRequirements{Requests: list("cpu", "250m"), Limits: list("cpu", "1", "memory", "128Mi")},
			runtime.Resources{CPUShares: 256, CPUQuota: 100000, CPUPeriod: 100000, MemoryLimit: 128 << 20}},
		{"limit alone", corev1.ResourceRequirements{Limits: list("cpu", "5m")}, runtime.Resources{CPUShares: 5, CPUQuota: 1000, CPUPeriod: 100000}},
		{"limits past the node", corev1.ResourceRequirements{Requests: list("cpu", "250m"), Limits: list("cpu", "8", "memory", "2Gi")},
			runtime.Resources{CPUShares: 256, CPUQuota: 400000, CPUPeriod: 100000, MemoryLimit: 1 << 30}},
	} {
		if got := Cgroup(tc.r, list("cpu", "4", "memory", "1Gi")); got != tc.want {
			t.Errorf("%s: Cgroup = %+v; want %+v", tc.name, got, tc.want)
		}
	}
}

// What a container is started with comes back from its status, equal by value.
func TestActuatedRoundTrip(t *testing.T) {
	c := &corev1.Container{Resources: corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("0.5"), corev1.ResourceEphemeralStorage: resource.MustParse("1Gi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")},
	}}
	r := Of(c)
	if _, ok := r.Requests[corev1.ResourceEphemeralStorage]; ok {
		t.Error("Of keeps ephemeral storage; only CPU and memory are resized")
	}
	if Of(&corev1.Container{}).Requests != nil {
		t.Error("Of a container without resources has a non-nil request list")
	}
	st := &runtime.ContainerStatus{Annotations: Annotations(r)}
	got, ok := Actuated(st)
	if !ok || !Equal(got, r) {
		t.Errorf("Actuated = %+v, %v; want %+v", got, ok, r)
	}
	if !Equal(got, corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")},
		Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")}}) {
		t.Error("Equal does not compare quantities by value")
	}
	if _, ok := Actuated(&runtime.ContainerStatus{}); ok {
		t.Error("Actuated of a container without the annotation reports one")
	}
}
