//go:build integration

package integration

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fargo-dev/fargo/test/harness"
)

const benchPods = 200

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
	b.ReportMetric(median(fargate), "fargate-pods/s")
	b.ReportMetric(median(baseline), "kube-scheduler-pods/s")
	if doc := os.Getenv("FARGO_BENCH_DOC"); doc != "" {
		var sec strings.Builder
		fmt.Fprintf(&sec, "Measured %s, %d pods per run, %d runs; median (min–max).\n\n", time.Now().UTC().Format("2006-01-02"), benchPods, len(fargate))
		sec.WriteString("| path | pods/s (created → bound) | ratio to baseline | target |\n|---|---|---|---|\n")
		fmt.Fprintf(&sec, "| fargate-scheduler + test host (a Sandbox and a node per pod) | %s | %.2f× | ≥ 100 |\n", spread(fargate), median(fargate)/median(baseline))
		fmt.Fprintf(&sec, "| baseline: kube-scheduler onto one node | %s | 1× | |\n", spread(baseline))
		if err := replaceSection(doc, "bench-scheduler", sec.String()); err != nil {
			b.Fatal(err)
		}
	}
}

// bindRate creates benchPods pods in ns and returns how many per second were bound.
func bindRate(b *testing.B, c client.Client, ns string) float64 {
	ctx := context.Background()
	start := time.Now()
	for i := 0; i < benchPods; i++ {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%03d", i), Namespace: ns},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}}}
		if err := c.Create(ctx, pod); err != nil {
			b.Fatal(err)
		}
	}
	harness.Eventually(b, 5*time.Minute, "all pods bound in "+ns, func() bool {
		pods := &corev1.PodList{}
		if err := c.List(ctx, pods, client.InNamespace(ns)); err != nil {
			return false
		}
		bound := 0
		for _, p := range pods.Items {
			if p.Spec.NodeName != "" {
				bound++
			}
		}
		return bound == benchPods
	})
	return float64(benchPods) / time.Since(start).Seconds()
}
