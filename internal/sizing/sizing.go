// Package sizing turns a pod's resource requests into one of Fargate's 74 vCPU/memory
// combinations, as EKS does: the larger of (largest init container, sum of regular
// containers) per resource, plus pod overhead, plus 256 MiB for the node's own
// agents, rounded up to the cheapest combination that covers both. A container
// counts the larger of its request and its limit: EKS requires requests equal to
// limits (so both rules agree there), and a pod whose limits are above its
// requests gets room for its limits (the first seed's 250m/64Mi request with a
// 1/128Mi limit is provisioned 1vCPU 2GB, as that seed reports). It is pure.
package sizing

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// AgentMemoryMiB is what Fargate adds for kubelet, kube-proxy and containerd.
const AgentMemoryMiB = 256

// ReasonTooLarge is the PodScheduled reason EKS gives a pod no combination fits.
const ReasonTooLarge = "POD_CPU_MEM_EXCEEDS_MAX_FARGATE_SIZE"

// ErrTooLarge means no Fargate combination covers the request.
var ErrTooLarge = errors.New(ReasonTooLarge)

// Size is a vCPU/memory combination. "GB" in EKS's notation is GiB.
type Size struct {
	MilliCPU  int64
	MemoryMiB int64
}

// String is the CapacityProvisioned annotation value: "0.25vCPU 0.5GB", "2vCPU 9GB".
func (s Size) String() string {
	return strconv.FormatFloat(float64(s.MilliCPU)/1000, 'f', -1, 64) + "vCPU " +
		strconv.FormatFloat(float64(s.MemoryMiB)/1024, 'f', -1, 64) + "GB"
}

// Combinations are Fargate's sizes, smallest vCPU first, then smallest memory: the
// first that fits is also the cheapest.
var Combinations = buildCombinations()

func buildCombinations() []Size {
	tiers := []struct {
		milliCPU         int64
		fromMiB, toMiB   int64
		stepMiB          int64
		explicitMemories []int64
	}{
		{milliCPU: 250, explicitMemories: []int64{512, 1024, 2048}},
		{milliCPU: 500, fromMiB: 1024, toMiB: 4096, stepMiB: 1024},
		{milliCPU: 1000, fromMiB: 2048, toMiB: 8192, stepMiB: 1024},
		{milliCPU: 2000, fromMiB: 4096, toMiB: 16384, stepMiB: 1024},
		{milliCPU: 4000, fromMiB: 8192, toMiB: 30720, stepMiB: 1024},
		{milliCPU: 8000, fromMiB: 16384, toMiB: 61440, stepMiB: 4096},
		{milliCPU: 16000, fromMiB: 32768, toMiB: 122880, stepMiB: 8192},
	}
	var out []Size
	for _, t := range tiers {
		mems := t.explicitMemories
		for m := t.fromMiB; t.stepMiB > 0 && m <= t.toMiB; m += t.stepMiB {
			mems = append(mems, m)
		}
		for _, m := range mems {
			out = append(out, Size{MilliCPU: t.milliCPU, MemoryMiB: m})
		}
	}
	return out
}

// Request is a pod's effective request.
type Request struct {
	MilliCPU    int64
	MemoryBytes int64
}

// PodRequest computes the effective request of a pod spec: per resource, the larger
// of the largest init container and the sum of the regular containers, plus the pod
// overhead. A container counts the larger of its request and its limit per
// resource (a limit alone too, as Kubernetes defaults requests from limits).
func PodRequest(spec *corev1.PodSpec) Request {
	var initCPU, initMem, sumCPU, sumMem int64
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		cpu, mem := containerRequest(c)
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			// Sidecars run alongside the regular containers.
			sumCPU, sumMem = satAdd(sumCPU, cpu), satAdd(sumMem, mem)
			continue
		}
		initCPU, initMem = max(initCPU, cpu), max(initMem, mem)
	}
	for i := range spec.Containers {
		cpu, mem := containerRequest(&spec.Containers[i])
		sumCPU, sumMem = satAdd(sumCPU, cpu), satAdd(sumMem, mem)
	}
	r := Request{MilliCPU: max(initCPU, sumCPU), MemoryBytes: max(initMem, sumMem)}
	if q, ok := spec.Overhead[corev1.ResourceCPU]; ok {
		r.MilliCPU = satAdd(r.MilliCPU, milliValue(q))
	}
	if q, ok := spec.Overhead[corev1.ResourceMemory]; ok {
		r.MemoryBytes = satAdd(r.MemoryBytes, value(q))
	}
	return r
}

func containerRequest(c *corev1.Container) (milliCPU, memBytes int64) {
	get := func(name corev1.ResourceName) int64 {
		var n int64
		if q, ok := c.Resources.Requests[name]; ok {
			n = quantity(name, q)
		}
		if q, ok := c.Resources.Limits[name]; ok {
			n = max(n, quantity(name, q))
		}
		return n
	}
	return get(corev1.ResourceCPU), get(corev1.ResourceMemory)
}

// quantity is CPU in millicores, anything else in units, saturated: Quantity's
// MilliValue and Value wrap around past int64.
func quantity(name corev1.ResourceName, q resource.Quantity) int64 {
	if name == corev1.ResourceCPU {
		return milliValue(q)
	}
	return value(q)
}

func milliValue(q resource.Quantity) int64 {
	if q.AsApproximateFloat64() >= math.MaxInt64/1000 {
		return math.MaxInt64
	}
	return q.MilliValue()
}

func value(q resource.Quantity) int64 {
	if q.AsApproximateFloat64() >= math.MaxInt64 {
		return math.MaxInt64
	}
	return q.Value()
}

// Round picks the cheapest combination covering r plus the agents' 256 MiB.
func Round(r Request) (Size, error) {
	needMiB := ceilDiv(r.MemoryBytes, 1<<20) + AgentMemoryMiB
	for _, s := range Combinations {
		if s.MilliCPU >= r.MilliCPU && s.MemoryMiB >= needMiB {
			return s, nil
		}
	}
	return Size{}, fmt.Errorf("%w: the pod needs %dm CPU and %d MiB memory (with %d MiB for Fargate's agents); the largest Fargate size is %s",
		ErrTooLarge, r.MilliCPU, needMiB, AgentMemoryMiB, Combinations[len(Combinations)-1])
}

// ForPod is PodRequest then Round.
func ForPod(spec *corev1.PodSpec) (Size, error) { return Round(PodRequest(spec)) }

func ceilDiv(a, b int64) int64 {
	if a <= 0 {
		return 0
	}
	q := a / b
	if a%b != 0 {
		q++
	}
	return q
}

// satAdd adds non-negative requests, stopping at the largest int64: requests of
// exabytes must come out too large, not wrap around to small.
func satAdd(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
