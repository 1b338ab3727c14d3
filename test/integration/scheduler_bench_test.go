//go:build integration

package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fargo-dev/fargo/test/benchdoc"
	"github.com/fargo-dev/fargo/test/harness"
)

const (
	benchPods     = 200
	benchCreators = 16
)

// BenchmarkSchedulerThroughput measures pods created → bound per second: through
// the fargate-scheduler (with the test host registering a node per sandbox), and,
// as the baseline in the same run, through kube-scheduler onto one big node.
func BenchmarkSchedulerThroughput(b *testing.B) {
	var fargate, baseline []float64
	for i := 0; i < b.N; i++ {
		s := harness.StartServer(b)
		s.RunTestHost()
		if out, err := s.KubectlStdin(profileJSON("bench", `{"selectors":[{"namespace":"fargate"}]}`), "create", "-f", "-"); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
		c := s.CRClient()
		ctx := context.Background()
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "big"}}
		if err := c.Create(ctx, node); err != nil {
			b.Fatal(err)
		}
		node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now()}}
		node.Status.Allocatable = corev1.ResourceList{corev1.ResourcePods: resource.MustParse("1000"), corev1.ResourceCPU: resource.MustParse("1000"), corev1.ResourceMemory: resource.MustParse("1Ti")}
		node.Status.Capacity = node.Status.Allocatable
		if err := c.Status().Update(ctx, node); err != nil {
			b.Fatal(err)
		}
		for _, ns := range []string{"fargate", "plain"} {
			s.Kubectl("create", "namespace", ns)
			harness.Eventually(b, 30*time.Second, "service account", func() bool { _, err := s.TryKubectl("get", "sa", "default", "-n", ns); return err == nil })
		}
		harness.Eventually(b, 30*time.Second, "profile ACTIVE", func() bool {
			out, _ := s.TryKubectl("get", "fp", "bench", "-o", "jsonpath={.status.status}")
			return out == "ACTIVE"
		})
		baseline = append(baseline, bindRate(b, c, "plain"))
		fargate = append(fargate, bindRate(b, c, "fargate"))
		s.Stop()
	}
	b.ReportMetric(benchdoc.Median(fargate), "fargate-pods/s")
	b.ReportMetric(benchdoc.Median(baseline), "kube-scheduler-pods/s")
	if doc := benchdoc.Path(); doc != "" {
		var sec strings.Builder
		fmt.Fprintf(&sec, "Measured %s, %d pods per run, %d runs; median (min–max).\n\n", time.Now().UTC().Format("2006-01-02"), benchPods, len(fargate))
		sec.WriteString("| path | pods/s (created → bound) | ratio to baseline | target |\n|---|---|---|---|\n")
		fmt.Fprintf(&sec, "| fargate-scheduler + test host (a Sandbox and a node per pod) | %s | %.2f× | ≥ 100 |\n", benchdoc.Spread(fargate), benchdoc.Median(fargate)/benchdoc.Median(baseline))
		fmt.Fprintf(&sec, "| baseline: kube-scheduler onto one node | %s | 1× | |\n", benchdoc.Spread(baseline))
		if err := benchdoc.ReplaceSection(doc, "bench-scheduler", sec.String()); err != nil {
			b.Fatal(err)
		}
	}
}

// bindRate creates benchPods pods in ns and returns how many per second were bound.
func bindRate(b *testing.B, c client.WithWatch, ns string) float64 {
	ctx := context.Background()
	start := time.Now()
	// All at once, as a ReplicaSet's scale-up does: creators in parallel.
	var g errgroup.Group
	g.SetLimit(benchCreators)
	for i := 0; i < benchPods; i++ {
		g.Go(func() error {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%03d", i), Namespace: ns},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}}}
			return c.Create(ctx, pod)
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	// Count bindings from a watch: polling 200 pods would load the server under test.
	w, err := c.Watch(ctx, &corev1.PodList{}, client.InNamespace(ns))
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	bound := map[string]bool{}
	timeout := time.After(5 * time.Minute)
	for len(bound) < benchPods {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				b.Fatalf("pod watch ended with %d of %d pods bound in %s", len(bound), benchPods, ns)
			}
			if p, isPod := ev.Object.(*corev1.Pod); isPod && p.Spec.NodeName != "" {
				bound[p.Name] = true
			}
		case <-timeout:
			b.Fatalf("%d of %d pods bound in %s after 5 minutes", len(bound), benchPods, ns)
		}
	}
	return float64(benchPods) / time.Since(start).Seconds()
}
