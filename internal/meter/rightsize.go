package meter

import (
	"math"
	"sort"
	"strconv"

	"github.com/fargo-dev/fargo/internal/sizing"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// HoursPerMonth is the month AWS prices by.
const HoursPerMonth = 730

// Headroom is kept above what a pod was seen to use when sizing it again:
// its peak memory and its average CPU both times 1.5.
const Headroom = 1.5

// Advice is a pod whose provisioned size is far above what it used, with
// the size its use asks for.
type Advice struct {
	Pod, Namespace  string
	Size, Suggested string
	// CPUUsed is its average use in vCPUs; MemoryPeakMiB its peak.
	CPUUsed       float64
	MemoryPeakMiB int64
	MonthlySaving float64
	Currency      string
}

// Rightsize lists the pods (latest run of each) whose size's hourly price is
// at least twice that of the smallest Fargate size covering their use with
// Headroom (and Fargate's 256 MiB for its agents), biggest saving first.
func Rightsize(records []v1alpha1.UsageRecord, prices Prices) []Advice {
	latest := map[string]*v1alpha1.UsageRecord{}
	for i := range records {
		rec := &records[i]
		if rec.Spec.Kind != v1alpha1.UsagePod || rec.Spec.Pod == nil || rec.Status.MemoryPeakBytes == 0 || rec.Status.Start == nil || rec.Status.Until == nil {
			continue
		}
		key := rec.Spec.Pod.Namespace + "/" + rec.Spec.Pod.Name
		if old := latest[key]; old == nil || old.Status.Start.Before(rec.Status.Start) {
			latest[key] = rec
		}
	}
	var out []Advice
	for _, rec := range latest {
		ran := rec.Status.Until.Sub(rec.Status.Start.Time).Seconds()
		cpuSecs, _ := strconv.ParseFloat(rec.Status.CPUSecondsUsed, 64)
		cores := 0.0
		if ran > 0 {
			cores = cpuSecs / ran
		}
		want, err := sizing.Round(sizing.Request{MilliCPU: int64(math.Ceil(cores * Headroom * 1000)),
			MemoryBytes: int64(float64(rec.Status.MemoryPeakBytes) * Headroom)})
		if err != nil {
			continue // uses more than the largest size: nothing smaller to offer
		}
		now, _ := prices.Hourly(size(rec.Spec.Size))
		then, _ := prices.Hourly(Size{MilliCPU: want.MilliCPU, MemoryMiB: want.MemoryMiB, StorageGiB: rec.Spec.Size.StorageGiB})
		if then*2 > now {
			continue
		}
		out = append(out, Advice{Pod: rec.Spec.Pod.Name, Namespace: rec.Spec.Pod.Namespace, Size: rec.Spec.Size.Name, Suggested: want.String(),
			CPUUsed: cores, MemoryPeakMiB: rec.Status.MemoryPeakBytes >> 20, MonthlySaving: (now - then) * HoursPerMonth,
			Currency: prices.Currency})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].MonthlySaving > out[j].MonthlySaving })
	return out
}
