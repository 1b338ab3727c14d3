package sizing

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func ctr(cpu, mem string) corev1.Container {
	c := corev1.Container{Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{}}}
	if cpu != "" {
		c.Resources.Requests[corev1.ResourceCPU] = resource.MustParse(cpu)
	}
	if mem != "" {
		c.Resources.Requests[corev1.ResourceMemory] = resource.MustParse(mem)
	}
	return c
}

func TestCombinations(t *testing.T) {
	if len(Combinations) != 74 {
		t.Fatalf("%d combinations, want 74", len(Combinations))
	}
	perTier := map[int64]int{}
	for _, s := range Combinations {
		perTier[s.MilliCPU]++
	}
	want := map[int64]int{250: 3, 500: 4, 1000: 7, 2000: 13, 4000: 23, 8000: 12, 16000: 12}
	for cpu, n := range want {
		if perTier[cpu] != n {
			t.Errorf("%dm: %d memory steps, want %d", cpu, perTier[cpu], n)
		}
	}
}

// Every row of reference §4.3 and the seed's five examples.
func TestRoundingTable(t *testing.T) {
	cases := []struct {
		name string
		spec corev1.PodSpec
		want string
	}{
		{"nothing requested", corev1.PodSpec{Containers: []corev1.Container{{}}}, "0.25vCPU 0.5GB"},
		{"CoreDNS 100m/70Mi", corev1.PodSpec{Containers: []corev1.Container{ctr("100m", "70Mi")}}, "0.25vCPU 0.5GB"},
		{"0.25/512Mi", corev1.PodSpec{Containers: []corev1.Container{ctr("250m", "512Mi")}}, "0.25vCPU 1GB"},
		{"0.25/1792Mi", corev1.PodSpec{Containers: []corev1.Container{ctr("250m", "1792Mi")}}, "0.25vCPU 2GB"},
		{"0.25/1793Mi", corev1.PodSpec{Containers: []corev1.Container{ctr("250m", "1793Mi")}}, "0.5vCPU 3GB"},
		{"0.5/3Gi", corev1.PodSpec{Containers: []corev1.Container{ctr("500m", "3Gi")}}, "0.5vCPU 4GB"},
		{"1/8Gi (doc)", corev1.PodSpec{Containers: []corev1.Container{ctr("1", "8Gi")}}, "2vCPU 9GB"},
		{"2/2Gi", corev1.PodSpec{Containers: []corev1.Container{ctr("2", "2Gi")}}, "2vCPU 4GB"},
		{"init 2/4Gi beside two 0.5/1Gi", corev1.PodSpec{InitContainers: []corev1.Container{ctr("2", "4Gi")}, Containers: []corev1.Container{ctr("500m", "1Gi"), ctr("500m", "1Gi")}}, "2vCPU 5GB"},
		{"3/10Gi", corev1.PodSpec{Containers: []corev1.Container{ctr("3", "10Gi")}}, "4vCPU 11GB"},
		{"4/30Gi", corev1.PodSpec{Containers: []corev1.Container{ctr("4", "30Gi")}}, "8vCPU 32GB"},
		// The seed's examples.
		{"seed 0.25/512MB", corev1.PodSpec{Containers: []corev1.Container{ctr("250m", "512Mi")}}, "0.25vCPU 1GB"},
		{"seed 0.5/1GB", corev1.PodSpec{Containers: []corev1.Container{ctr("500m", "1Gi")}}, "0.5vCPU 2GB"},
		{"seed 1/1750M", corev1.PodSpec{Containers: []corev1.Container{ctr("1", "1750M")}}, "1vCPU 2GB"},
		{"seed 1/4GB", corev1.PodSpec{Containers: []corev1.Container{ctr("1", "4Gi")}}, "1vCPU 5GB"},
		{"seed 1/8GB", corev1.PodSpec{Containers: []corev1.Container{ctr("1", "8Gi")}}, "2vCPU 9GB"},
		{"seed 1/3750MB", corev1.PodSpec{Containers: []corev1.Container{ctr("1", "3750Mi")}}, "1vCPU 4GB"},
		// Limits without requests count, as Kubernetes defaults them.
		{"limits only", corev1.PodSpec{Containers: []corev1.Container{{Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("2Gi")}}}}}, "1vCPU 3GB"},
		// Limits above requests count (the first seed's curl pod, provisioned 1vCPU 2GB there).
		{"limits above requests", corev1.PodSpec{Containers: []corev1.Container{{Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("128Mi")}}}}}, "1vCPU 2GB"},
		{"limit below request", corev1.PodSpec{Containers: []corev1.Container{{Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("4Gi")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}}}}, "2vCPU 5GB"},
		{"pod overhead", corev1.PodSpec{Containers: []corev1.Container{ctr("250m", "256Mi")}, Overhead: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")}}, "0.25vCPU 1GB"},
	}
	for _, c := range cases {
		got, err := ForPod(&c.spec)
		if err != nil || got.String() != c.want {
			t.Errorf("%s: got %s (err %v), want %s", c.name, got, err, c.want)
		}
	}
}

func TestTooLarge(t *testing.T) {
	_, err := ForPod(&corev1.PodSpec{Containers: []corev1.Container{ctr("16", "120Gi")}})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("16/120Gi: %v, want %s", err, ReasonTooLarge)
	}
	if _, err := ForPod(&corev1.PodSpec{Containers: []corev1.Container{ctr("17", "1Gi")}}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("17 vCPU: %v", err)
	}
}

// Requests whose sum passes int64 are too large, not wrapped around to the
// smallest size.
func TestHugeRequestsDoNotOverflow(t *testing.T) {
	for _, spec := range []*corev1.PodSpec{
		{Containers: []corev1.Container{ctr("", "5Ei"), ctr("", "5Ei")}},
		{Containers: []corev1.Container{ctr("5E", ""), ctr("5E", "")}},
		{Containers: []corev1.Container{ctr("", "8Ei")}, Overhead: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("8Ei")}},
		{InitContainers: []corev1.Container{sidecar(ctr("", "5Ei"))}, Containers: []corev1.Container{ctr("", "5Ei")}},
	} {
		if size, err := ForPod(spec); !errors.Is(err, ErrTooLarge) {
			t.Errorf("%+v: sized %s (err %v), want too large", spec, size, err)
		}
	}
}

func TestHugeStorageRequestDoesNotOverflow(t *testing.T) {
	c := ctr("", "")
	c.Resources.Requests[corev1.ResourceEphemeralStorage] = resource.MustParse("5Ei")
	if gib, err := EphemeralStorageGiB(&corev1.PodSpec{Containers: []corev1.Container{c, c}}); err == nil {
		t.Errorf("2 x 5Ei of ephemeral storage: %d GiB, want an error", gib)
	}
}

func sidecar(c corev1.Container) corev1.Container {
	always := corev1.ContainerRestartPolicyAlways
	c.RestartPolicy = &always
	return c
}

func TestEphemeralStorage(t *testing.T) {
	storage := func(sizes ...string) *corev1.PodSpec {
		spec := &corev1.PodSpec{}
		for _, s := range sizes {
			spec.Containers = append(spec.Containers, corev1.Container{Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse(s)}}})
		}
		return spec
	}
	for _, c := range []struct {
		spec *corev1.PodSpec
		want int64
	}{{storage(), 20}, {storage("10Gi"), 20}, {storage("100Gi"), 115}, {storage("50Gi", "50Gi"), 115}, {storage("175Gi"), 198}} {
		got, err := EphemeralStorageGiB(c.spec)
		if err != nil || got != c.want {
			t.Errorf("got %d (err %v), want %d", got, err, c.want)
		}
	}
	if _, err := EphemeralStorageGiB(storage("176Gi")); err == nil {
		t.Error("176 GiB accepted")
	}
}

// FuzzRound: never panics; a result always covers the request plus 256 MiB and is
// one of the 74 combinations, and no cheaper combination would have fit.
func FuzzRound(f *testing.F) {
	f.Add(int64(0), int64(0))
	f.Add(int64(1000), int64(8<<30))
	f.Add(int64(16000), int64(120<<30))
	f.Fuzz(func(t *testing.T, milliCPU, memBytes int64) {
		if milliCPU < 0 || memBytes < 0 || memBytes > 1<<50 {
			return
		}
		s, err := Round(Request{MilliCPU: milliCPU, MemoryBytes: memBytes})
		needMiB := (memBytes+(1<<20)-1)/(1<<20) + AgentMemoryMiB
		idx := -1
		for i, c := range Combinations {
			if c == s {
				idx = i
			}
		}
		if err != nil {
			for _, c := range Combinations {
				if c.MilliCPU >= milliCPU && c.MemoryMiB >= needMiB {
					t.Fatalf("refused %dm/%dB though %s fits", milliCPU, memBytes, c)
				}
			}
			return
		}
		if idx < 0 || s.MilliCPU < milliCPU || s.MemoryMiB < needMiB {
			t.Fatalf("%dm/%dB → %s, which is not a combination covering it", milliCPU, memBytes, s)
		}
		for _, c := range Combinations[:idx] {
			if c.MilliCPU >= milliCPU && c.MemoryMiB >= needMiB {
				t.Fatalf("%dm/%dB → %s, but %s comes first and fits", milliCPU, memBytes, s, c)
			}
		}
	})
}
