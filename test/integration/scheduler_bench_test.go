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
// the fargate-scheduler onto a host that only registers a node per sandbox (the
// scheduler alone), through the fargate-scheduler with the real agent on the
// fake runtime (the whole Fargate path: pods also run and report status), and,
// as the baseline in the same run, through kube-scheduler onto one big node.
func BenchmarkSchedulerThroughput(b *testing.B) {
	var fargate, agent, baseline []float64
	for i := 0; i < b.N; i++ {
		s := harness.StartServer(b)
		if out, err := s.KubectlStdin(profileJSON("bench", `{"selectors":[{"namespace":"fargate"},{"namespace":"agent"}]}`), "create", "-f", "-"); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
		c := s.CRClient()
		bigNode(b, c)
		namespaces(b, s, "fargate", "agent", "plain")
		harness.Eventually(b, 30*time.Second, "profile ACTIVE", func() bool {
			out, _ := s.TryKubectl("get", "fp", "bench", "-o", "jsonpath={.status.status}")
			return out == "ACTIVE"
		})
		baseline = append(baseline, bindRate(b, c, "plain"))
		stop := nodeStub(b, c, "stub")
		fargate = append(fargate, bindRate(b, c, "fargate"))
		stop()
		s.Kubectl("patch", "host", "stub", "--type", "merge", "-p", `{"spec":{"unschedulable":true}}`)
		s.RunTestHost()
		agent = append(agent, bindRate(b, c, "agent"))
		s.Stop()
	}
	b.ReportMetric(benchdoc.Median(fargate), "fargate-pods/s")
	b.ReportMetric(benchdoc.Median(agent), "fargate-agent-pods/s")
	b.ReportMetric(benchdoc.Median(baseline), "kube-scheduler-pods/s")
	if doc := benchdoc.Path(); doc != "" {
		var sec strings.Builder
		fmt.Fprintf(&sec, "Measured %s, %d pods per run, %d runs; median (min–max).\n\n", time.Now().UTC().Format("2006-01-02"), benchPods, len(fargate))
		sec.WriteString("| path | pods/s (created → bound) | ratio to baseline | target |\n|---|---|---|---|\n")
		fmt.Fprintf(&sec, "| fargate-scheduler onto a host that only registers nodes (a Sandbox and a node per pod) | %s | %.2f× | ≥ 100 |\n", benchdoc.Spread(fargate), benchdoc.Median(fargate)/benchdoc.Median(baseline))
		fmt.Fprintf(&sec, "| fargate-scheduler + `fargo agent --runtime fake` (pods also run: lease, token, status, events) | %s | %.2f× | |\n", benchdoc.Spread(agent), benchdoc.Median(agent)/benchdoc.Median(baseline))
		fmt.Fprintf(&sec, "| baseline: kube-scheduler onto one node | %s | 1× | |\n", benchdoc.Spread(baseline))
		if err := benchdoc.ReplaceSection(doc, "bench-scheduler", sec.String()); err != nil {
			b.Fatal(err)
		}
	}
}

// bigNode registers a Ready node with room for 1000 pods, for kube-scheduler.
func bigNode(b *testing.B, c client.Client) {
	ctx := context.Background()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "big"}}
	node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now()}}
	node.Status.Allocatable = corev1.ResourceList{corev1.ResourcePods: resource.MustParse("1000"), corev1.ResourceCPU: resource.MustParse("1000"), corev1.ResourceMemory: resource.MustParse("1Ti")}
	node.Status.Capacity = node.Status.Allocatable
	if err := c.Create(ctx, node); err != nil {
		b.Fatal(err)
	}
}

// namespaces creates each namespace and waits for its default service account.
func namespaces(b *testing.B, s *harness.Server, names ...string) {
	for _, ns := range names {
		s.Kubectl("create", "namespace", ns)
		harness.Eventually(b, 30*time.Second, "service account", func() bool { _, err := s.TryKubectl("get", "sa", "default", "-n", ns); return err == nil })
	}
}

// bindRate creates benchPods pods in ns and returns how many per second were bound.
func bindRate(b *testing.B, c client.WithWatch, ns string) float64 {
	start := time.Now()
	createPods(b, c, ns, benchPods)
	waitPods(b, c, ns, benchPods, "bound", func(p *corev1.Pod) bool { return p.Spec.NodeName != "" })
	return float64(benchPods) / time.Since(start).Seconds()
}

// createPods creates n pods in ns all at once, as a ReplicaSet's scale-up does:
// creators in parallel.
func createPods(b *testing.B, c client.Client, ns string, n int) {
	var g errgroup.Group
	g.SetLimit(benchCreators)
	for i := 0; i < n; i++ {
		g.Go(func() error {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%03d", i), Namespace: ns},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}}}
			return c.Create(context.Background(), pod)
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
}

// waitPods waits until n pods of ns satisfy done, counted from a watch: polling
// hundreds of pods would load the server under test.
func waitPods(b *testing.B, c client.WithWatch, ns string, n int, what string, done func(*corev1.Pod) bool) {
	w, err := c.Watch(context.Background(), &corev1.PodList{}, client.InNamespace(ns))
	if err != nil {
		b.Fatal(err)
	}
	defer func() { w.Stop() }()
	ok := map[string]bool{}
	timeout := time.After(5 * time.Minute)
	for len(ok) < n {
		select {
		case ev, open := <-w.ResultChan():
			if !open { // the API server ends watches now and then: watch again
				// (a watch without a resourceVersion starts with every pod)
				if w, err = c.Watch(context.Background(), &corev1.PodList{}, client.InNamespace(ns)); err != nil {
					b.Fatalf("watching pods again with %d of %d %s in %s: %v", len(ok), n, what, ns, err)
				}
				continue
			}
			if p, isPod := ev.Object.(*corev1.Pod); isPod && done(p) {
				ok[p.Name] = true
			}
		case <-timeout:
			b.Fatalf("%d of %d pods %s in %s after 5 minutes", len(ok), n, what, ns)
		}
	}
}
