//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/fargo-dev/fargo/test/benchdoc"
	"github.com/fargo-dev/fargo/test/harness"
	"github.com/fargo-dev/fargo/test/images"
)

// benchConfig has one private subnet and a node group of one node that takes
// the largest batch.
const benchConfig = `apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
metadata: {name: bench, region: ap-southeast-1}
vpc:
  subnets:
    private:
      ap-southeast-1a: { id: subnet-a, cidr: 192.168.96.0/19 }
managedNodeGroups:
  - name: bench-ng
    instanceType: m5.xlarge
    desiredCapacity: 1
`

// nodeMem is the PSS of every process of the node-group nodes under dataDir:
// kubelet and containerd (no pods run when it is called).
func nodeMem(b *testing.B, dataDir string) int64 {
	pids, _ := exec.Command("pgrep", "-f", dataDir+"/nodes/").Output()
	var sum int64
	for _, p := range strings.Fields(string(pids)) {
		pid, _ := strconv.Atoi(p)
		if pss, err := harness.PSS(pid); err == nil {
			sum += pss
		}
	}
	return sum
}

// startupRounds are the batch sizes `make bench-startup` measures; ROUNDS=10,50
// (FARGO_BENCH_ROUNDS) measures only those, for a quick look, and logs the
// figures instead of writing them to the doc.
var startupRounds = []int{1, 10, 50}

// benchRounds is startupRounds, or those FARGO_BENCH_ROUNDS names; partial says
// the doc must not take them.
func benchRounds(b *testing.B) (rounds []int, partial bool) {
	env := os.Getenv("FARGO_BENCH_ROUNDS")
	if env == "" {
		return startupRounds, false
	}
	for _, f := range strings.Split(env, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			b.Fatalf("FARGO_BENCH_ROUNDS=%q: want batch sizes such as 10,50", env)
		}
		rounds = append(rounds, n)
	}
	return rounds, true
}

// BenchmarkStartup measures, under real containerd, the time from creating Fargate
// pods (a cached busybox image) to each being Running and Ready, for batches of
// 1, 10 and 50, with the floor measured in the same run: `ctr run` of the same
// image on fargo's containerd, and the same batches on a node group's kubelet. The 50-pod batch also gives the host's memory per
// extra Fargate pod beyond the container itself (fargo, containerd, shims).
// Each run ends with the microvm row: batches of 1 and 10 on --runtime microvm.
func BenchmarkStartup(b *testing.B) {
	harness.RequireRoot(b)
	rounds, partial := benchRounds(b)
	img, err := images.Busybox()
	ref := images.Serve(b, "busybox", img, err)
	running := map[int][]float64{}
	ready := map[int][]float64{}
	ngRunning, ngReady := map[int][]float64{}, map[int][]float64{}
	var floor, density, nodeIdle, nodeAfter []float64
	var parts [][3]float64 // server, containerd, shims per pod
	vm := &vmStartup{running: map[int][]float64{}, ready: map[int][]float64{}, boots: map[int][]vmBoot{}}
	for i := 0; i < b.N; i++ {
		before := harness.LeftoversOnHost()
		dataDir, err := os.MkdirTemp("", "fargo-bench-")
		if err != nil {
			b.Fatal(err)
		}
		cfg := filepath.Join(dataDir, "cluster.yaml")
		if err := os.WriteFile(cfg, []byte(benchConfig), 0o600); err != nil {
			b.Fatal(err)
		}
		args := append(harness.ServerArgs(b, dataDir), "--config", cfg, "--runtime", "containerd", "--host-name", "bench", "--host-cpu", "64", "--host-memory", "64Gi")
		s := harness.StartServerWith(b, args)
		// Once, at the end of the round or when it fails: sandboxes outlive the server.
		cleanup := sync.OnceFunc(func() {
			s.Stop()
			harness.CleanupSandboxes(b, dataDir)
			harness.RemoveNodeLeftovers(b, before)
			os.RemoveAll(dataDir)
		})
		b.Cleanup(cleanup)
		s.CreateManifest(`{"apiVersion":"fargo.dev/v1alpha1","kind":"FargateProfile","metadata":{"name":"bench"},"spec":{"selectors":[{"namespace":"bench"}]}}`)
		for _, ns := range []string{"bench", "bench-ng"} {
			s.Kubectl("create", "namespace", ns)
			harness.Eventually(b, 30*time.Second, "service account", func() bool { _, err := s.TryKubectl("get", "sa", "default", "-n", ns); return err == nil })
		}
		c := s.Client()
		nodeIdle = append(nodeIdle, float64(nodeMem(b, dataDir))/(1<<20))
		for _, ns := range []string{"bench", "bench-ng"} {
			startPods(b, c, ns, ref, "warm", 1) // pulls the image: every round after starts from the cache
			deletePods(b, c, ns)
		}
		settle(b, dataDir)
		for _, n := range rounds {
			if n == rounds[len(rounds)-1] {
				time.Sleep(5 * time.Second)
				s0, c0, sh0 := hostMemory(b, s, dataDir)
				r, rd := startPods(b, c, "bench", ref, fmt.Sprintf("r%d", n), n)
				time.Sleep(5 * time.Second)
				s1, c1, sh1 := hostMemory(b, s, dataDir)
				perPod := func(d int64) float64 { return float64(d) / (1 << 20) / float64(n) }
				density = append(density, perPod(s1-s0+c1-c0+sh1-sh0))
				parts = append(parts, [3]float64{perPod(s1 - s0), perPod(c1 - c0), perPod(sh1 - sh0)})
				running[n], ready[n] = append(running[n], r...), append(ready[n], rd...)
			} else {
				r, rd := startPods(b, c, "bench", ref, fmt.Sprintf("r%d", n), n)
				running[n], ready[n] = append(running[n], r...), append(ready[n], rd...)
			}
			deletePods(b, c, "bench")
			settle(b, dataDir)
			// The same batch on the node group's kubelet, in the same run.
			r, rd := startPods(b, c, "bench-ng", ref, fmt.Sprintf("n%d", n), n)
			ngRunning[n], ngReady[n] = append(ngRunning[n], r...), append(ngReady[n], rd...)
			deletePods(b, c, "bench-ng")
			settle(b, dataDir)
		}
		nodeAfter = append(nodeAfter, float64(nodeMem(b, dataDir))/(1<<20))
		floor = append(floor, ctrRun(b, dataDir, ref, 5)...)
		cleanup()
		microvmStartup(b, ref, rounds, vm)
	}
	b.ReportMetric(percentile(running[1], 50), "running-p50-s")
	b.ReportMetric(percentile(ready[1], 50), "ready-p50-s")
	b.ReportMetric(percentile(floor, 50), "ctr-run-p50-s")
	b.ReportMetric(benchdoc.Median(density), "host-MiB/pod")
	b.ReportMetric(percentile(vm.running[1], 50), "vm-running-p50-s")
	for _, n := range vmRounds {
		if v := sorted(vm.running[n]); len(v) > 0 {
			b.Logf("%d pods: microvm Running p50 %.3f s (%.3f–%.3f)", n, percentile(v, 50), v[0], v[len(v)-1])
		}
	}
	for _, n := range rounds {
		f, g := sorted(running[n]), sorted(ngRunning[n])
		b.Logf("%d pods: Fargate Running p50 %.3f s (%.3f–%.3f), node group %.3f s (%.3f–%.3f): ratio %.2f", n,
			percentile(f, 50), f[0], f[len(f)-1], percentile(g, 50), g[0], g[len(g)-1], percentile(f, 50)/percentile(g, 50))
	}
	if doc := benchdoc.Path(); doc != "" && !partial {
		var sec strings.Builder
		fmt.Fprintf(&sec, "Measured %s, %d run(s), containerd runtime, busybox `sleep` pods with the image cached; seconds from the pod's create call to the pod seen Running / Ready (watch).\n\n",
			time.Now().UTC().Format("2006-01-02"), b.N)
		sec.WriteString("| pods at once | Running p50 | Running p95 | Ready p50 | Ready p95 | p50 ÷ `ctr run` floor |\n|---|---|---|---|---|---|\n")
		f := percentile(floor, 50)
		for _, n := range startupRounds {
			fmt.Fprintf(&sec, "| %d | %.3f | %.3f | %.3f | %.3f | %.1f× |\n", n, percentile(running[n], 50), percentile(running[n], 95),
				percentile(ready[n], 50), percentile(ready[n], 95), percentile(running[n], 50)/f)
		}
		fmt.Fprintf(&sec, "| floor: `ctr run --rm` of the same image on fargo's containerd | %.3f | %.3f | | | 1× |\n\n", f, percentile(floor, 95))
		sec.WriteString("The same batches, in the same run, on a node of a managed node group (1 × m5.xlarge: the upstream kubelet with its own containerd through CRI), and the Fargate path's Running p50 as a share of the node group's (goal: at most 0.5 at every batch size):\n\n")
		sec.WriteString("| pods at once | node group Running p50 | Running p95 | Ready p50 | Ready p95 | Fargate p50 ÷ node group p50 |\n|---|---|---|---|---|---|\n")
		for _, n := range startupRounds {
			fmt.Fprintf(&sec, "| %d | %.3f | %.3f | %.3f | %.3f | %.2f |\n", n, percentile(ngRunning[n], 50), percentile(ngRunning[n], 95),
				percentile(ngReady[n], 50), percentile(ngReady[n], 95), percentile(running[n], 50)/percentile(ngRunning[n], 50))
		}
		fmt.Fprintf(&sec, "\nMemory of one node-group node (PSS of its kubelet and containerd): %s MiB just after start, %s MiB after the rounds with its pods deleted (the kubelet's Go heap and caches stay grown).\n\n",
			benchdoc.Spread(nodeIdle), benchdoc.Spread(nodeAfter))
		fmt.Fprintf(&sec, "Target: p50 ≤ 0.5 s for one pod with a cached image (EKS Fargate: ~55 s).\n\n")
		fmt.Fprintf(&sec, "Host memory per extra Fargate pod, containerd runtime, beyond the container itself: growth of the server's RSS plus the PSS of its containerd and of the pods' shims, 5 s after %d pods are Ready, divided by the pods: %s MiB (target ≤ 10); of which server %.2f, containerd %.2f, shims %.2f (medians).\n",
			startupRounds[len(startupRounds)-1], benchdoc.Spread(density), medianOf(parts, 0), medianOf(parts, 1), medianOf(parts, 2))
		sec.WriteString(vmSection(vm, running))
		if err := benchdoc.ReplaceSection(doc, "bench-startup", sec.String()); err != nil {
			b.Fatal(err)
		}
	}
}

// startPods creates n pods at once and returns, per pod, the seconds from its
// create call to Running and to Ready.
func startPods(b testing.TB, c kubernetes.Interface, ns, image, prefix string, n int) (running, ready []float64) {
	ctx := context.Background()
	w := podWatch(b, c, ns)
	defer w.Stop()
	created := make([]time.Time, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%02d", prefix, i)},
				Spec: corev1.PodSpec{TerminationGracePeriodSeconds: new(int64), Containers: []corev1.Container{{Name: "c", Image: image, Command: []string{"sleep", "3600"}}}}}
			created[i] = time.Now()
			if _, err := c.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				b.Error(err)
			}
		}()
	}
	runningAt, readyAt := map[string]time.Time{}, map[string]time.Time{}
	wait := max(3*time.Minute, time.Duration(n)*30*time.Second) // VM boots under TCG: ~10 s of both cores each
	timeout := time.After(wait)
	for len(readyAt) < n {
		select {
		case ev := <-w.ResultChan():
			pod, ok := ev.Object.(*corev1.Pod)
			if !ok || ev.Type == watch.Deleted || !strings.HasPrefix(pod.Name, prefix+"-") {
				continue
			}
			now := time.Now()
			if _, seen := runningAt[pod.Name]; !seen && pod.Status.Phase == corev1.PodRunning {
				runningAt[pod.Name] = now
			}
			for _, cond := range pod.Status.Conditions {
				if _, seen := readyAt[pod.Name]; !seen && cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
					readyAt[pod.Name] = now
				}
			}
		case <-timeout:
			b.Fatalf("%d of %d pods in %s Ready after %s", len(readyAt), n, ns, wait)
		}
	}
	wg.Wait()
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("%s-%02d", prefix, i)
		running = append(running, runningAt[name].Sub(created[i]).Seconds())
		ready = append(ready, readyAt[name].Sub(created[i]).Seconds())
	}
	return running, ready
}

// podWatch watches the pods of ns from now on, across the watch being closed:
// under a 50-pod burst the API server may end a watch, and a plain one then
// reports nothing more.
func podWatch(b testing.TB, c kubernetes.Interface, ns string) watch.Interface {
	ctx := context.Background()
	list, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	w, err := watchtools.NewRetryWatcherWithContext(ctx, list.ResourceVersion, &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return c.CoreV1().Pods(ns).Watch(ctx, o)
		}})
	if err != nil {
		b.Fatal(err)
	}
	return w
}

// deletePods deletes every pod of namespace ns and waits until they and their
// Fargate nodes are gone.
func deletePods(b testing.TB, c kubernetes.Interface, ns string) {
	ctx := context.Background()
	if err := c.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		b.Fatal(err)
	}
	harness.Eventually(b, 2*time.Minute, ns+" pods and Fargate nodes gone", func() bool {
		pods, err1 := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		nodes, err2 := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "eks.amazonaws.com/compute-type=fargate"})
		return err1 == nil && err2 == nil && len(pods.Items) == 0 && len(nodes.Items) == 0
	})
}

// settle waits until the last batch is torn down on the host, so that no batch
// pays for the one before: the API server forgets a pod with no grace period at
// once, while its kubelet (or fargo's agent) is still stopping its containers.
// Every shim under dataDir gone (fargo's containerd and the node's) is the sign;
// a second after it lets the last deletes settle.
func settle(b *testing.B, dataDir string) {
	harness.Eventually(b, 2*time.Minute, "every container under "+dataDir+" torn down", func() bool {
		return exec.Command("pgrep", "-f", "containerd-shim.*"+dataDir).Run() != nil
	})
	time.Sleep(time.Second)
}

// ctrRun times `ctr run --rm` of image (already pulled) on fargo's containerd,
// runs times.
func ctrRun(b *testing.B, dataDir, image string, runs int) []float64 {
	socket := filepath.Join(dataDir, "containerd", "containerd.sock")
	var out []float64
	for i := 0; i < runs; i++ {
		start := time.Now()
		cmd := exec.Command("ctr", "--address", socket, "--namespace", "fargo", "run", "--rm", image, "floor-"+strconv.Itoa(i), "true")
		if o, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("ctr run: %v: %s", err, o)
		}
		out = append(out, time.Since(start).Seconds())
	}
	return out
}

// hostMemory is what fargo holds on the host for its pods, in bytes: the
// server's RSS, and the proportional set size of its containerd and of every shim
// serving dataDir (shims share their binary's pages).
func hostMemory(b *testing.B, s *harness.Server, dataDir string) (server, containerd, shims int64) {
	server, err := s.RSS()
	if err != nil {
		b.Fatal(err)
	}
	pids, _ := exec.Command("pgrep", "-f", dataDir+"/containerd").Output()
	for _, p := range strings.Fields(string(pids)) {
		pid, _ := strconv.Atoi(p)
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		pss, err := harness.PSS(pid)
		if err != nil {
			continue
		}
		if strings.Contains(string(cmdline), "containerd-shim") {
			shims += pss
		} else {
			containerd += pss
		}
	}
	return server, containerd, shims
}

func sorted(xs []float64) []float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s
}

func percentile(xs []float64, p int) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := sorted(xs)
	i := (len(s)*p + 99) / 100
	return s[max(i-1, 0)]
}

func medianOf(rows [][3]float64, col int) float64 {
	xs := make([]float64, len(rows))
	for i, r := range rows {
		xs[i] = r[col]
	}
	return benchdoc.Median(xs)
}
