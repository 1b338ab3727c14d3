package meter

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// The price table in docs/metering.md is computed here: the seed's sizes at
// the default rates, per hour and per month.
func TestDocsPriceTable(t *testing.T) {
	p := DefaultPrices()
	var b strings.Builder
	b.WriteString("| Size | vCPU-hour part | GB-hour part | Per hour | Per month (730 h) |\n|---|---|---|---|---|\n")
	for _, s := range []Size{{MilliCPU: 250, MemoryMiB: 512}, {MilliCPU: 1000, MemoryMiB: 2048}, {MilliCPU: 2000, MemoryMiB: 9216}} {
		hourly, _ := p.Hourly(s)
		fmt.Fprintf(&b, "| %s | $%g | $%g | $%.6f | $%.2f |\n", s, s.VCPU()*p.VCPUHour, s.GB()*p.GBHour, hourly, hourly*HoursPerMonth)
	}
	table := b.String()
	for _, want := range []string{"$0.012343", "$0.049370", "$0.120965"} { // the reference's worked costs
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %s:\n%s", want, table)
		}
	}
	const path, begin, end = "../../docs/metering.md", "<!-- prices:begin -->\n", "<!-- prices:end -->"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i < 0 || j < i {
		t.Fatalf("%s has no %q … %q block", path, begin, end)
	}
	if got := doc[i+len(begin) : j]; got != table {
		if os.Getenv("FARGO_UPDATE_DOCS") == "1" {
			if err := os.WriteFile(path, []byte(doc[:i+len(begin)]+table+doc[j:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("the price table in %s is stale; run FARGO_UPDATE_DOCS=1 go test ./internal/meter/ to rewrite it.\nwant:\n%s", path, table)
	}
}
