package meter

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestBilled(t *testing.T) {
	start := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		run  time.Duration
		want time.Duration
	}{
		{20 * time.Second, time.Minute}, // the one-minute minimum
		{0, time.Minute},
		{59*time.Second + 999*time.Millisecond, time.Minute},
		{60 * time.Second, time.Minute},
		{60*time.Second + time.Millisecond, 61 * time.Second}, // rounded up to the second
		{90*time.Second + 500*time.Millisecond, 91 * time.Second},
		{3 * time.Hour, 3 * time.Hour},
	} {
		if got := Billed(start, start.Add(tc.run)); got != tc.want {
			t.Errorf("Billed(%s) = %s; want %s", tc.run, got, tc.want)
		}
	}
	if got := Billed(time.Time{}, start); got != 0 {
		t.Errorf("a run whose image never started to download is billed %s", got)
	}
}

// The reference's worked costs at the default rates.
func TestHourlyAtDefaultRates(t *testing.T) {
	p := DefaultPrices()
	for _, tc := range []struct {
		size Size
		want float64
	}{
		{Size{MilliCPU: 250, MemoryMiB: 512, StorageGiB: 20}, 0.012343},
		{Size{MilliCPU: 1000, MemoryMiB: 2048, StorageGiB: 20}, 0.04937},
		{Size{MilliCPU: 2000, MemoryMiB: 9216, StorageGiB: 20}, 0.120965},
		{Size{MilliCPU: 16000, MemoryMiB: 122880, StorageGiB: 20}, 1.18108},
		{Size{MilliCPU: 250, MemoryMiB: 512, StorageGiB: 30}, 0.012343 + 10*0.000111}, // 10 GiB above the free 20
		{Size{InstanceType: "m5.large"}, 0.096},
	} {
		got, ok := p.Hourly(tc.size)
		if !ok || math.Abs(got-tc.want) > 0.0000005 {
			t.Errorf("Hourly(%s) = %g, %v; want %g", tc.size, got, ok, tc.want)
		}
	}
	// A 20-second pod of 0.25/0.5 is billed as 60 s: $0.000206.
	start := time.Now()
	if got := p.Cost(Size{MilliCPU: 250, MemoryMiB: 512}, Billed(start, start.Add(20*time.Second))); math.Abs(got-0.000206) > 0.0000005 {
		t.Errorf("a 20 s pod of 0.25vCPU 0.5GB costs %g; want 0.000206", got)
	}
	if _, ok := p.Hourly(Size{InstanceType: "p4d.24xlarge"}); ok {
		t.Error("an instance type without a price has one")
	}
}

func TestPricesConfig(t *testing.T) {
	p := Prices{Currency: "EUR", VCPUHour: 0.05, InstanceHour: map[string]float64{"m5.large": 0.1, "x1.big": 2}}.WithDefaults()
	if p.Currency != "EUR" || p.VCPUHour != 0.05 || p.GBHour != 0.004445 || p.InstanceHour["m5.large"] != 0.1 ||
		p.InstanceHour["x1.big"] != 2 || p.InstanceHour["t3.micro"] != 0.0104 {
		t.Errorf("WithDefaults = %+v", p)
	}
	err := Prices{VCPUHour: -1, InstanceHour: map[string]float64{"m5.large": -2}}.Validate()
	if err == nil || !strings.Contains(err.Error(), "fargo.prices.vcpuHour is -1") || !strings.Contains(err.Error(), "instanceHour[m5.large]") {
		t.Errorf("Validate of negative prices: %v", err)
	}
}

func TestSizeString(t *testing.T) {
	if got := (Size{MilliCPU: 250, MemoryMiB: 512}).String(); got != "0.25vCPU 0.5GB" {
		t.Errorf("String = %q", got)
	}
	if _, err := ParseStopRule("never"); err == nil || !strings.Contains(err.Error(), `"containers"`) {
		t.Errorf("ParseStopRule(never): %v", err)
	}
}
