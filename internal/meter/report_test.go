package meter

import (
	"math"
	"strconv"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// podRecord is a final record of a pod of size s run from start for d, as
// the ledger writes it.
func podRecord(ns, name string, s Size, start time.Time, d time.Duration) v1alpha1.UsageRecord {
	billed := Billed(start, start.Add(d))
	return v1alpha1.UsageRecord{ObjectMeta: metav1.ObjectMeta{Name: ns + "-" + name},
		Spec: v1alpha1.UsageRecordSpec{Kind: v1alpha1.UsagePod, Pod: &v1alpha1.PodReference{Namespace: ns, Name: name}, Profile: "fp-" + ns,
			Size: v1alpha1.UsageSize{Name: s.String(), MilliCPU: s.MilliCPU, MemoryMiB: s.MemoryMiB, StorageGiB: 20}},
		Status: v1alpha1.UsageRecordStatus{Start: &metav1.Time{Time: start}, Until: &metav1.Time{Time: start.Add(d)}, Final: true,
			BilledSeconds: int64(billed / time.Second), Currency: "USD",
			Cost: strconv.FormatFloat(DefaultPrices().Cost(s, billed), 'f', 6, 64)}}
}

func near(a, b float64) bool { return math.Abs(a-b) < 0.000002 }

func TestSummarize(t *testing.T) {
	small, big := Size{MilliCPU: 250, MemoryMiB: 512}, Size{MilliCPU: 1000, MemoryMiB: 2048}
	records := []v1alpha1.UsageRecord{
		podRecord("a", "short", small, t0, 20*time.Second), // billed 60 s
		podRecord("a", "long", big, t0, 2*time.Hour),
		podRecord("b", "night", small, t0.Add(3*time.Hour), 22*time.Hour), // 13:00 to 11:00 the next day (UTC)
	}
	node := podRecord("x", "y", Size{InstanceType: "m5.large"}, t0, time.Hour)
	node.Spec = v1alpha1.UsageRecordSpec{Kind: v1alpha1.UsageNode, NodeGroup: "ng-1", Node: "ip-1", Size: v1alpha1.UsageSize{Name: "m5.large", InstanceType: "m5.large"}}
	records = append(records, node)
	all, err := Summarize(records, "pod", t0.Add(-time.Hour), t0.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"a/short": 60, "a/long": 7200, "b/night": 22 * 3600, "node/ip-1": 3600}
	for _, l := range all.Lines {
		if l.Seconds != want[l.Key] {
			t.Errorf("%s: %g s; want %g", l.Key, l.Seconds, want[l.Key])
		}
	}
	if len(all.Lines) != 4 || all.Total.Runs != 4 {
		t.Errorf("lines %+v, total runs %d", all.Lines, all.Total.Runs)
	}
	if l := all.Lines[0]; l.Key != "a/long" || !near(l.VCPUHours, 2) || !near(l.GBHours, 4) || !near(l.Cost, 2*0.04937) {
		t.Errorf("a/long = %+v; want 2 vCPU-hours, 4 GB-hours, %g", l, 2*0.04937)
	}
	hs, _ := DefaultPrices().Hourly(small)
	if !near(all.Total.Cost, 0.000206+2*0.04937+22*hs+0.096) || !near(all.Total.NodeHours, 1) {
		t.Errorf("total %+v", all.Total)
	}
	// A window cutting runs: the part inside; the minimum where the run starts.
	cut, _ := Summarize(records, "namespace", t0.Add(time.Hour), t0.Add(4*time.Hour))
	got := map[string]float64{}
	for _, l := range cut.Lines {
		got[l.Key] = l.Seconds
	}
	if got["a"] != 3600 || got["b"] != 3600 || got["(node groups)"] != 0 {
		t.Errorf("window 11:00–14:00 by namespace: %v; want a 3600 (long's second hour), b 3600 (night's first)", got)
	}
	days, _ := Summarize(records[2:3], "day", t0.Add(-24*time.Hour), t0.Add(72*time.Hour))
	if len(days.Lines) != 2 || days.Lines[0].Key != "2026-12-03" || days.Lines[0].Seconds != 11*3600 || days.Lines[1].Seconds != 11*3600 {
		t.Errorf("by day: %+v; want 11 h on the 3rd and 11 h on the 4th", days.Lines)
	}
	if _, err := Summarize(records, "colour", t0, t0.Add(time.Hour)); err == nil {
		t.Error("--by colour accepted")
	}
	if _, err := Summarize(records, "pod", t0, t0); err == nil {
		t.Error("an empty window accepted")
	}
}

func TestRightsize(t *testing.T) {
	big := Size{MilliCPU: 2000, MemoryMiB: 9216}
	over := podRecord("a", "oversized", big, t0, time.Hour)
	over.Status.CPUSecondsUsed, over.Status.MemoryPeakBytes = "36", 40<<20 // 0.01 vCPU on average, 40 MiB at most
	fit := podRecord("a", "fitting", Size{MilliCPU: 250, MemoryMiB: 512}, t0, time.Hour)
	fit.Status.CPUSecondsUsed, fit.Status.MemoryPeakBytes = "600", 200<<20
	advice := Rightsize([]v1alpha1.UsageRecord{over, fit}, DefaultPrices())
	if len(advice) != 1 || advice[0].Pod != "oversized" || advice[0].Suggested != "0.25vCPU 0.5GB" {
		t.Fatalf("advice %+v; want oversized → 0.25vCPU 0.5GB", advice)
	}
	if want := (0.120965 - 0.0123425) * HoursPerMonth; !near(advice[0].MonthlySaving, want) { // the exact hourly rates
		t.Errorf("monthly saving %g; want %g", advice[0].MonthlySaving, want)
	}
}
