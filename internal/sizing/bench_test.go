package sizing

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	resourcehelper "k8s.io/component-helpers/resource"

	"github.com/fargo-dev/fargo/test/benchdoc"
)

// benchPod has an init container larger than the sum of its two regular ones.
var benchPod = &corev1.Pod{Spec: corev1.PodSpec{InitContainers: []corev1.Container{ctr("2", "4Gi")},
	Containers: []corev1.Container{ctr("500m", "1Gi"), ctr("500m", "1Gi")}}}

func BenchmarkForPod(b *testing.B) {
	for b.Loop() {
		if _, err := ForPod(&benchPod.Spec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUpstreamPodRequests is the baseline: Kubernetes' own effective-request
// computation (what kube-scheduler and kubelet use), without rounding.
func BenchmarkUpstreamPodRequests(b *testing.B) {
	for b.Loop() {
		_ = resourcehelper.PodRequests(benchPod, resourcehelper.PodResourcesOptions{})
	}
}

// BenchmarkSizing times both, interleaved, b.N rounds of sizingRound calls each,
// and under `make bench-sizing` writes the figures and their ratio to
// docs/benchmarks.md. (testing.Benchmark cannot nest inside a benchmark.)
func BenchmarkSizing(b *testing.B) {
	const sizingRound = 200_000
	perCall := func(f func()) float64 {
		start := time.Now()
		for range sizingRound {
			f()
		}
		return float64(time.Since(start).Nanoseconds()) / sizingRound
	}
	var ours, upstream []float64
	for range b.N {
		ours = append(ours, perCall(func() { _, _ = ForPod(&benchPod.Spec) }))
		upstream = append(upstream, perCall(func() { _ = resourcehelper.PodRequests(benchPod, resourcehelper.PodResourcesOptions{}) }))
	}
	b.ReportMetric(benchdoc.Median(ours), "sizing-ns/pod")
	b.ReportMetric(benchdoc.Median(upstream), "upstream-ns/pod")
	doc := benchdoc.Path()
	if doc == "" {
		return
	}
	sec := fmt.Sprintf("Measured %s on %d cores (%s/%s), %d runs; median (min–max).\n\n"+
		"| figure | ns per pod | ratio to baseline |\n|---|---|---|\n"+
		"| `sizing.ForPod`: effective request + 256 MiB, rounded to one of the 74 sizes | %s | %.2f× |\n"+
		"| baseline: upstream `resource.PodRequests` (effective request only) | %s | 1× |\n",
		time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, len(ours),
		benchdoc.Spread(ours), benchdoc.Median(ours)/benchdoc.Median(upstream), benchdoc.Spread(upstream))
	if err := benchdoc.ReplaceSection(doc, "bench-sizing", sec); err != nil {
		b.Fatal(err)
	}
}
