//go:build integration

package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/fargo-dev/fargo/test/benchdoc"
	"github.com/fargo-dev/fargo/test/harness"
)

const densityPods = 200

// BenchmarkDensity measures the server's memory per extra Fargate pod with the fake
// runtime (so it is fargo's own cost: Sandbox, node, lease, agent state, with no
// container), and, as the baseline in the same run, per extra ordinary pod bound by
// kube-scheduler to one node (the control plane's cost of any pod).
func BenchmarkDensity(b *testing.B) {
	var fargate, baseline []float64
	for i := 0; i < b.N; i++ {
		s := harness.StartServer(b, "--runtime", "fake", "--host-name", "h", "--host-cpu", "1000", "--host-memory", "4Ti")
		if out, err := s.KubectlStdin(profileJSON("bench", `{"selectors":[{"namespace":"fargate"}]}`), "create", "-f", "-"); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
		c := s.CRClient()
		bigNode(b, c)
		namespaces(b, s, "fargate", "plain")
		perPod := func(ns string, done func(*corev1.Pod) bool) float64 {
			time.Sleep(idleWait)
			before := rssMiB(b, s)
			createPods(b, c, ns, densityPods)
			waitPods(b, c, ns, densityPods, "placed", done)
			time.Sleep(idleWait)
			return (rssMiB(b, s) - before) / densityPods
		}
		baseline = append(baseline, perPod("plain", func(p *corev1.Pod) bool { return p.Spec.NodeName != "" }))
		fargate = append(fargate, perPod("fargate", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning }))
		s.Stop()
	}
	b.ReportMetric(benchdoc.Median(fargate), "fargate-MiB/pod")
	b.ReportMetric(benchdoc.Median(baseline), "plain-MiB/pod")
	if doc := benchdoc.Path(); doc != "" {
		var sec strings.Builder
		fmt.Fprintf(&sec, "Measured %s, %d pods per run, %d runs; server RSS growth per pod after %s idle, median (min–max).\n\n",
			time.Now().UTC().Format("2006-01-02"), densityPods, len(fargate), idleWait)
		sec.WriteString("| pods | MiB per extra pod | ratio to baseline | target |\n|---|---|---|---|\n")
		fmt.Fprintf(&sec, "| Fargate pods, `fake` runtime (Sandbox, node, lease, pod status; no container) | %s | %.2f× | ≤ 10 |\n",
			benchdoc.Spread(fargate), benchdoc.Median(fargate)/max(benchdoc.Median(baseline), 0.001))
		fmt.Fprintf(&sec, "| baseline: ordinary pods bound by kube-scheduler to one node | %s | 1× | |\n", benchdoc.Spread(baseline))
		if err := benchdoc.ReplaceSection(doc, "bench-density", sec.String()); err != nil {
			b.Fatal(err)
		}
	}
}

func rssMiB(b *testing.B, s *harness.Server) float64 {
	r, err := s.RSS()
	if err != nil {
		b.Fatal(err)
	}
	return float64(r) / (1 << 20)
}
