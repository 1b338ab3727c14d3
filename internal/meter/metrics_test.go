package meter

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	m := &dto.Metric{}
	if err := c.Write(m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// A run that has stopped, the ledger not yet told, is counted no further than
// countLag before now, and not past the checkpoint where a lost run ends: its
// final record never bills less than was counted (counters cannot go back).
func TestCountersNeverPassTheFinalRecord(t *testing.T) {
	c := NewCounters(DefaultPrices())
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	rec := &v1alpha1.UsageRecord{ObjectMeta: metav1.ObjectMeta{Name: "uid"}, Spec: v1alpha1.UsageRecordSpec{Kind: v1alpha1.UsagePod,
		Pod: &v1alpha1.PodReference{Namespace: "apps", Name: "p"}, Profile: "fp", Size: v1alpha1.UsageSize{Name: "1vCPU 2GB", MilliCPU: 1000, MemoryMiB: 2048}}}
	l := &Ledger{Clock: clocktesting.NewFakeClock(t0)}
	at := func(now, until time.Time, final bool) {
		l.Clock.(*clocktesting.FakeClock).SetTime(now)
		rec.Status = v1alpha1.UsageRecordStatus{Start: &metav1.Time{Time: t0}, Until: &metav1.Time{Time: until}, Final: final,
			BilledSeconds: int64(Billed(t0, until) / time.Second)}
		c.observe(rec, l.countableUntil())
	}
	vcpu := c.vcpuSeconds.WithLabelValues("apps", "fp")
	at(t0.Add(20*time.Second), t0.Add(20*time.Second), false)
	if got := counterValue(t, vcpu); got != 60 {
		t.Errorf("counted %g vCPU-s of a 20 s old run; want its minimum, 60", got)
	}
	l.checkpoint.set(t0.Add(200 * time.Second))
	at(t0.Add(134*time.Second), t0.Add(20*time.Second), false) // stopped at 124 s, not yet told
	at(t0.Add(135*time.Second), t0.Add(124*time.Second), true)
	if got := counterValue(t, vcpu); got != 124 {
		t.Errorf("counted %g vCPU-s; the final record bills 124", got)
	}
	// Counted no further than the checkpoint (200 s), where a lost run ends.
	rec.Name = "lost"
	at(t0.Add(400*time.Second), t0.Add(20*time.Second), false)
	if got := counterValue(t, vcpu); got != 124+200 {
		t.Errorf("counted %g vCPU-s; want 124 and a running run's 200 up to the checkpoint", got)
	}
}

// A running record is counted up to each scrape, with no reconcile between.
func TestCountersCarryRunningRecordsToTheScrape(t *testing.T) {
	c := NewCounters(DefaultPrices())
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	clock := clocktesting.NewFakeClock(t0.Add(2 * time.Minute))
	l := &Ledger{Clock: clock}
	l.checkpoint.set(t0.Add(time.Hour))
	c.countUntil(l.countableUntil)
	rec := &v1alpha1.UsageRecord{ObjectMeta: metav1.ObjectMeta{Name: "uid"}, Spec: v1alpha1.UsageRecordSpec{Kind: v1alpha1.UsagePod,
		Pod: &v1alpha1.PodReference{Namespace: "apps", Name: "p"}, Profile: "fp", Size: v1alpha1.UsageSize{Name: "1vCPU 2GB", MilliCPU: 1000, MemoryMiB: 2048}},
		Status: v1alpha1.UsageRecordStatus{Start: &metav1.Time{Time: t0}, Until: &metav1.Time{Time: t0}}}
	c.observe(rec, l.countableUntil())
	clock.SetTime(t0.Add(10 * time.Minute))
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c.Collectors()...)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			got[f.GetName()] += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	if want := (10*time.Minute - countLag).Seconds(); got["fargo_fargate_vcpu_seconds_total"] != want || got["fargo_fargate_pods"] != 1 {
		t.Errorf("scraped %v; want %g vCPU-seconds (10 min less the lag) and 1 pod", got, want)
	}
}
