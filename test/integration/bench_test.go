//go:build integration

package integration

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/fargo-dev/fargo/test/benchdoc"
	"github.com/fargo-dev/fargo/test/harness"
)

// idleWait is how long a server idles before its RSS is read.
const idleWait = 10 * time.Second

// BenchmarkControlPlane starts fargo server repeatedly and reports time to ready
// (cold: new data dir, PKI generated; warm: restart on the same dir) and idle RSS.
// The baseline, measured in the same run, is a bare etcd (bin/etcd) start, so the
// ratios hold on a noisy machine. With FARGO_BENCH_DOC set, the figures are written
// into that markdown file (make bench-controlplane does this for docs/benchmarks.md).
func BenchmarkControlPlane(b *testing.B) {
	var cold, warm, rss, etcdReady, etcdRSS []float64
	for i := 0; i < b.N; i++ {
		start := time.Now()
		e := harness.StartEtcd(b)
		etcdReady = append(etcdReady, time.Since(start).Seconds())
		time.Sleep(idleWait)
		if r, err := harness.RSS(e.Pid); err == nil {
			etcdRSS = append(etcdRSS, float64(r)/(1<<20))
		}

		args := harness.ServerArgs(b, b.TempDir())
		s := harness.StartServerWith(b, args)
		cold = append(cold, s.Ready.Sub(s.Started).Seconds())
		time.Sleep(idleWait)
		r, err := s.RSS()
		if err != nil {
			b.Fatal(err)
		}
		rss = append(rss, float64(r)/(1<<20))
		s.Stop()
		s2 := harness.StartServerWith(b, args)
		warm = append(warm, s2.Ready.Sub(s2.Started).Seconds())
		s2.Stop()
	}
	b.ReportMetric(benchdoc.Median(cold), "ready-cold-s")
	b.ReportMetric(benchdoc.Median(warm), "ready-warm-s")
	b.ReportMetric(benchdoc.Median(rss), "idle-rss-MiB")
	b.ReportMetric(benchdoc.Median(etcdReady), "etcd-ready-s")
	b.ReportMetric(benchdoc.Median(etcdRSS), "etcd-rss-MiB")
	if doc := benchdoc.Path(); doc != "" {
		if err := writeBenchDoc(doc, b.N, cold, warm, rss, etcdReady, etcdRSS); err != nil {
			b.Fatal(err)
		}
	}
}

func writeBenchDoc(path string, n int, cold, warm, rss, etcdReady, etcdRSS []float64) error {
	var sec strings.Builder
	fmt.Fprintf(&sec, "Measured %s on %d cores (%s/%s), %d starts each; median (min–max).\n\n",
		time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, n)
	sec.WriteString("| figure | fargo server | baseline: bare etcd | ratio | target |\n|---|---|---|---|---|\n")
	fmt.Fprintf(&sec, "| time to ready, new data dir | %s s | %s s | %.1f× | ≤ 5 s |\n", benchdoc.Spread(cold), benchdoc.Spread(etcdReady), benchdoc.Median(cold)/benchdoc.Median(etcdReady))
	fmt.Fprintf(&sec, "| time to ready, restart | %s s | | %.1f× | ≤ 5 s |\n", benchdoc.Spread(warm), benchdoc.Median(warm)/benchdoc.Median(etcdReady))
	fmt.Fprintf(&sec, "| idle RSS after %s | %s MiB | %s MiB | %.1f× | ≤ 600 MiB |\n", idleWait, benchdoc.Spread(rss), benchdoc.Spread(etcdRSS), benchdoc.Median(rss)/benchdoc.Median(etcdRSS))
	return benchdoc.ReplaceSection(path, "bench-controlplane", sec.String())
}
