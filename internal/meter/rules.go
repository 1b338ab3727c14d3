// Package meter bills what runs as EKS bills it: a Fargate pod per second at
// its provisioned size (CapacityProvisioned) from the moment its first image
// starts to download until it stops, rounded up to the whole second with a
// one-minute minimum; a node-group node per second at its instance type's
// hourly price. It keeps one usage record per run in the cluster's store and
// counts the totals for Prometheus.
package meter

import (
	"fmt"
	"strings"
	"time"
)

// Minimum is the shortest run billed (EKS: "per second with a 1-minute minimum").
const Minimum = time.Minute

// FreeStorageGiB is the ephemeral storage every Fargate pod has at no charge.
const FreeStorageGiB = 20

// StopRule says when a Fargate pod's meter stops.
type StopRule string

const (
	// StopContainers stops it when all of the pod's containers have
	// terminated: a finished Job costs nothing more (beyond EKS; the default).
	StopContainers StopRule = "containers"
	// StopPod stops it when the pod is deleted and its sandbox released, as
	// on EKS, where a finished pod keeps its VM and keeps billing.
	StopPod StopRule = "pod"
)

// ParseStopRule reads a --meter-stop value.
func ParseStopRule(s string) (StopRule, error) {
	switch r := StopRule(s); r {
	case StopContainers, StopPod:
		return r, nil
	case "":
		return StopContainers, nil
	}
	return "", fmt.Errorf("meter stop rule %q: want %q (when the pod's containers have all terminated) or %q (when the pod is deleted, as EKS)",
		s, StopContainers, StopPod)
}

// Billed is how long a run from start to stop is billed: rounded up to the
// whole second, never less than Minimum. A run not yet started is not billed.
func Billed(start, stop time.Time) time.Duration {
	if start.IsZero() {
		return 0
	}
	d := stop.Sub(start)
	if r := d % time.Second; r != 0 {
		d += time.Second - r
	}
	return max(d, Minimum)
}

// Size is what a run is billed for: a Fargate pod's provisioned vCPU, memory
// and ephemeral storage, or a node's instance type.
type Size struct {
	MilliCPU   int64 `json:"milliCPU,omitempty"`
	MemoryMiB  int64 `json:"memoryMiB,omitempty"`
	StorageGiB int64 `json:"storageGiB,omitempty"`
	// InstanceType is set for node-group nodes, billed by the hour per type.
	InstanceType string `json:"instanceType,omitempty"`
}

// VCPU and GB are the size in Fargate's units (1 GB of memory is 1024 MiB:
// the 0.5 GB size is 512 MiB).
func (s Size) VCPU() float64 { return float64(s.MilliCPU) / 1000 }
func (s Size) GB() float64   { return float64(s.MemoryMiB) / 1024 }

// ExtraStorageGB is the ephemeral storage billed: what is above the free 20 GiB.
func (s Size) ExtraStorageGB() float64 { return float64(max(s.StorageGiB-FreeStorageGiB, 0)) }

// String is the size as EKS's CapacityProvisioned shows it, or the instance type.
func (s Size) String() string {
	if s.InstanceType != "" {
		return s.InstanceType
	}
	return strings.TrimSuffix(fmt.Sprintf("%gvCPU %gGB", s.VCPU(), s.GB()), " ")
}
