package sizing

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// FuzzForPod: any requests give a size that covers them (with the agents' 256 MiB)
// or ErrTooLarge, and a second container never makes the size smaller.
func FuzzForPod(f *testing.F) {
	for _, s := range [][4]string{{"250m", "512Mi", "1", "1Gi"}, {"5E", "5Ei", "5E", "5Ei"}, {"0", "0", "16", "120Gi"}, {"1n", "1", "999999999999", "1k"}} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	f.Fuzz(func(t *testing.T, cpu1, mem1, cpu2, mem2 string) {
		c1, ok1 := fuzzContainer(cpu1, mem1)
		c2, ok2 := fuzzContainer(cpu2, mem2)
		if !ok1 || !ok2 {
			return
		}
		one := &corev1.PodSpec{Containers: []corev1.Container{c1}}
		two := &corev1.PodSpec{Containers: []corev1.Container{c1, c2}}
		s1, err1 := ForPod(one)
		s2, err2 := ForPod(two)
		for _, c := range []struct {
			spec *corev1.PodSpec
			size Size
			err  error
		}{{one, s1, err1}, {two, s2, err2}} {
			if c.err != nil {
				if !errors.Is(c.err, ErrTooLarge) {
					t.Fatalf("unexpected error %v", c.err)
				}
				continue
			}
			r := PodRequest(c.spec)
			if c.size.MilliCPU < r.MilliCPU || c.size.MemoryMiB<<20 < r.MemoryBytes {
				t.Fatalf("size %s does not cover %+v", c.size, r)
			}
		}
		if err2 == nil && (err1 != nil || s2.MilliCPU < s1.MilliCPU || s2.MemoryMiB < s1.MemoryMiB) {
			t.Fatalf("one container: %s %v; two: %s %v", s1, err1, s2, err2)
		}
	})
}

func fuzzContainer(cpu, mem string) (corev1.Container, bool) {
	q1, err1 := resource.ParseQuantity(cpu)
	q2, err2 := resource.ParseQuantity(mem)
	if err1 != nil || err2 != nil || q1.Sign() < 0 || q2.Sign() < 0 {
		return corev1.Container{}, false
	}
	return corev1.Container{Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: q1, corev1.ResourceMemory: q2}}}, true
}
