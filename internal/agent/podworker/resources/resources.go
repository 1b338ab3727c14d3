// Package resources is what a pod worker knows of a container's CPU and
// memory: the cgroup settings kubelet gives its requests and limits, and the
// requirements a running container was last given (kept with it in the
// runtime, as kubelet keeps its actuated resources), which its status reports
// and an in-place resize changes.
package resources

import (
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/fargo-dev/fargo/internal/runtime"
)

// Annotation holds the requirements (JSON) a container was started or last
// resized with.
const Annotation = "fargo.dev/resources"

// Of is c's CPU and memory requests and limits: what cgroups enforce and a
// resize may change. Empty lists are nil, as in a spec that sets none.
func Of(c *corev1.Container) corev1.ResourceRequirements {
	pick := func(in corev1.ResourceList) corev1.ResourceList {
		var out corev1.ResourceList
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if q, ok := in[name]; ok {
				if out == nil {
					out = corev1.ResourceList{}
				}
				out[name] = q.DeepCopy()
			}
		}
		return out
	}
	return corev1.ResourceRequirements{Requests: pick(c.Resources.Requests), Limits: pick(c.Resources.Limits)}
}

// Cgroup is what kubelet sets for r: CPU shares from the request (from the
// limit when only that is set; the minimum when neither is), a CFS quota from
// the CPU limit, the memory limit as is; limits capped at the node's
// allocatable (on Fargate, the size provisioned for the pod, which its
// sandbox's cgroup enforces: the kernel refuses a CPU quota above a parent's).
func Cgroup(r corev1.ResourceRequirements, allocatable corev1.ResourceList) runtime.Resources {
	cpu, limit := r.Requests.Cpu(), r.Limits.Cpu()
	if cpu.IsZero() {
		cpu = limit
	}
	out := runtime.Resources{CPUShares: shares(cpu.MilliValue())}
	if !limit.IsZero() {
		milli := limit.MilliValue()
		if most, ok := allocatable[corev1.ResourceCPU]; ok {
			milli = min(milli, most.MilliValue())
		}
		out.CPUQuota, out.CPUPeriod = quota(milli), quotaPeriod
	}
	if mem := r.Limits.Memory(); !mem.IsZero() {
		out.MemoryLimit = mem.Value()
		if most, ok := allocatable[corev1.ResourceMemory]; ok {
			out.MemoryLimit = min(out.MemoryLimit, most.Value())
		}
	}
	return out
}

// Annotations record r with the container.
func Annotations(r corev1.ResourceRequirements) map[string]string {
	data, _ := json.Marshal(r) // lists of quantities: cannot fail
	return map[string]string{Annotation: string(data)}
}

// Actuated is what the container was last given, if it was recorded.
func Actuated(st *runtime.ContainerStatus) (corev1.ResourceRequirements, bool) {
	var r corev1.ResourceRequirements
	data, ok := st.Annotations[Annotation]
	if !ok || json.Unmarshal([]byte(data), &r) != nil {
		return r, false
	}
	return r, true
}

// Equal compares requirements by value (1000m is 1).
func Equal(a, b corev1.ResourceRequirements) bool {
	return equality.Semantic.DeepEqual(a, b)
}

// Kubelet's CPU formulas (cm.MilliCPUToShares and cm.MilliCPUToQuota, checked
// against them in the tests), written here because their package brings
// kubelet's whole container manager with it.
const (
	minShares      = 2
	maxShares      = 262144
	sharesPerCPU   = 1024
	quotaPeriod    = 100000 // µs
	minQuotaPeriod = 1000
)

func shares(milliCPU int64) uint64 {
	s := milliCPU * sharesPerCPU / 1000
	return uint64(min(max(s, minShares), maxShares))
}

func quota(milliCPU int64) int64 {
	if milliCPU == 0 {
		return 0
	}
	return max(milliCPU*quotaPeriod/1000, minQuotaPeriod)
}
