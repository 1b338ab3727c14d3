//go:build integration

package integration

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/fargo-dev/fargo/test/benchdoc"
	"github.com/fargo-dev/fargo/test/harness"
)

const (
	meterPods = 200
	// meterWindow is five of the meter's default intervals (a checkpoint
	// each). The agents' usage readings (a Sandbox and a record write per
	// pod) are hourly at the default interval; the fast row's interval puts
	// one reading of every pod in the window, twelve times their default rate.
	meterWindow = 5 * time.Minute
)

// BenchmarkMetering measures what metering costs the server: its CPU time
// over a window and its memory with 200 running Fargate pods (fake runtime)
// metered at the default interval, against the same without the meter, in
// the same run.
func BenchmarkMetering(b *testing.B) {
	var cpu, mem [3][]float64 // [metered, metered fast, off]
	// b.Loop: exactly -benchtime Nx runs (a plain b.N loop runs once more first).
	for b.Loop() {
		for k, flags := range [][]string{nil, {"--meter-interval", "5s"}, {"--without-meter"}} {
			s := harness.StartServer(b, append([]string{"--runtime", "fake", "--host-name", "h", "--host-cpu", "1000", "--host-memory", "4Ti"}, flags...)...)
			if out, err := s.KubectlStdin(profileJSON("bench", `{"selectors":[{"namespace":"fargate"}]}`), "create", "-f", "-"); err != nil {
				b.Fatalf("%v: %s", err, out)
			}
			c := s.CRClient()
			namespaces(b, s, "fargate")
			createPods(b, c, "fargate", meterPods)
			waitPods(b, c, "fargate", meterPods, "running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
			time.Sleep(idleWait)
			before := cpuSeconds(b, s.Pid())
			time.Sleep(meterWindow)
			cpu[k] = append(cpu[k], cpuSeconds(b, s.Pid())-before)
			mem[k] = append(mem[k], rssMiB(b, s))
			if k < 2 {
				if n := strings.Count(s.Kubectl("get", "usagerecords", "-o", "name"), "\n"); n != meterPods {
					b.Fatalf("%d usage records for %d metered pods", n, meterPods)
				}
			}
			s.Stop()
		}
	}
	ratio := func(v [3][]float64, k int) float64 { return benchdoc.Median(v[k]) / max(benchdoc.Median(v[2]), 0.001) }
	b.ReportMetric(ratio(cpu, 0), "cpu-ratio")
	b.ReportMetric(ratio(mem, 0), "memory-ratio")
	if doc := benchdoc.Path(); doc != "" {
		var sec strings.Builder
		fmt.Fprintf(&sec, "Measured %s, %d running Fargate pods (fake runtime), %d runs; server CPU time over %s once all run, and RSS; median (min–max).\n\n",
			time.Now().UTC().Format("2006-01-02"), meterPods, len(cpu[0]), meterWindow)
		sec.WriteString("| server | CPU seconds | RSS MiB | ratio to baseline (CPU, memory) | target |\n|---|---|---|---|---|\n")
		fmt.Fprintf(&sec, "| metered (default interval 1m: records, checkpoint, counters; readings hourly) | %s | %s | %.2f×, %.2f× | ≤ 1.05× |\n",
			benchdoc.Spread(cpu[0]), benchdoc.Spread(mem[0]), ratio(cpu, 0), ratio(mem, 0))
		fmt.Fprintf(&sec, "| metered, `--meter-interval 5s` (a usage reading of every pod in the window) | %s | %s | %.2f×, %.2f× | |\n",
			benchdoc.Spread(cpu[1]), benchdoc.Spread(mem[1]), ratio(cpu, 1), ratio(mem, 1))
		fmt.Fprintf(&sec, "| baseline: `--without-meter` | %s | %s | 1× | |\n", benchdoc.Spread(cpu[2]), benchdoc.Spread(mem[2]))
		if err := benchdoc.ReplaceSection(doc, "bench-metering", sec.String()); err != nil {
			b.Fatal(err)
		}
	}
}

// cpuSeconds is the user and system CPU time of process pid so far.
func cpuSeconds(b *testing.B, pid int) float64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command (which may hold spaces): utime and stime are 14th and 15th.
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // clock ticks (USER_HZ)
}
