package kubeletapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/fargo-dev/fargo/internal/runtime"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// NodeInfo is what the stats need of a Fargate node.
type NodeInfo struct {
	Node, Sandbox string
	Pod           v1alpha1.PodReference
	// Since is when the sandbox was made: the node's start.
	Since time.Time
}

// NodePod finds the Fargate node of this host at ip.
type NodePod func(ctx context.Context, ip net.IP) (NodeInfo, error)

// A Fargate node is its pod's sandbox, so its usage is the pod's: the Summary
// API (/stats/summary) and /metrics/resource report the same figures for the
// node, the pod and each running container, as kubelet's do for metrics-server.

// sample is a sandbox's CPU time at one moment, for usage rates.
type sample struct {
	at  time.Time
	cpu time.Duration
}

// rates remembers the last sample of each sandbox and container; samples not
// renewed for sampleTTL (their sandbox is gone) are dropped.
type rates struct {
	mu     sync.Mutex
	last   map[string]sample
	pruned time.Time
}

const sampleTTL = 10 * time.Minute

// nanoCores is the CPU use since the previous call for key, in billionths of a
// core (nil on the first call).
func (r *rates) nanoCores(key string, now time.Time, cpu time.Duration) *uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil {
		r.last = map[string]sample{}
	}
	if now.Sub(r.pruned) > sampleTTL {
		for k, s := range r.last {
			if now.Sub(s.at) > sampleTTL {
				delete(r.last, k)
			}
		}
		r.pruned = now
	}
	prev, ok := r.last[key]
	r.last[key] = sample{now, cpu}
	if !ok || !now.After(prev.at) || cpu < prev.cpu {
		return nil
	}
	v := uint64(float64(cpu-prev.cpu) / now.Sub(prev.at).Seconds())
	return &v
}

func (s *Server) statsSummary(w http.ResponseWriter, r *http.Request) {
	sum, err := s.summary(r.Context(), nodeOf(r))
	if err != nil {
		httpError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(sum)
}

func (s *Server) summary(ctx context.Context, ip net.IP) (*statsapi.Summary, error) {
	if s.nodePod == nil {
		return nil, fmt.Errorf("stats: %w", runtime.ErrNotFound)
	}
	n, err := s.nodePod(ctx, ip)
	if err != nil {
		return nil, err
	}
	sandbox, pod, since := n.Sandbox, n.Pod, n.Since
	st, err := s.runtime.Stats(ctx, sandbox)
	if err != nil {
		return nil, fmt.Errorf("stats of %s: %w", sandbox, err)
	}
	now := metav1.Now()
	started := metav1.NewTime(since)
	cpu := func(key string, used time.Duration) *statsapi.CPUStats {
		ns := uint64(used)
		return &statsapi.CPUStats{Time: now, UsageCoreNanoSeconds: &ns, UsageNanoCores: s.rates.nanoCores(key, now.Time, used)}
	}
	mem := func(usage, ws uint64) *statsapi.MemoryStats {
		return &statsapi.MemoryStats{Time: now, UsageBytes: &usage, WorkingSetBytes: &ws}
	}
	// The node is its pod's sandbox: one set of figures for both.
	sandboxCPU, sandboxMem := cpu(sandbox, st.CPU), mem(st.MemoryBytes, st.WorkingSetBytes)
	podStats := statsapi.PodStats{PodRef: statsapi.PodReference{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID}, StartTime: started,
		CPU: sandboxCPU, Memory: sandboxMem}
	for _, c := range st.Containers {
		podStats.Containers = append(podStats.Containers, statsapi.ContainerStats{Name: c.Name, StartTime: started,
			CPU: cpu(sandbox+"/"+c.Name, c.CPU), Memory: mem(c.MemoryBytes, c.WorkingSetBytes)})
	}
	return &statsapi.Summary{
		Node: statsapi.NodeStats{NodeName: n.Node, StartTime: started, CPU: sandboxCPU, Memory: sandboxMem},
		Pods: []statsapi.PodStats{podStats},
	}, nil
}

// metricsResource serves kubelet's /metrics/resource (Prometheus text), what
// metrics-server scrapes: cumulative CPU seconds and working sets of the node,
// the pod and its containers.
func (s *Server) metricsResource(w http.ResponseWriter, r *http.Request) {
	sum, err := s.summary(r.Context(), nodeOf(r))
	if err != nil {
		httpError(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	writeResourceMetrics(w, sum)
}

func writeResourceMetrics(w io.Writer, sum *statsapi.Summary) {
	ts := sum.Node.CPU.Time.UnixMilli()
	family := func(name, help, typ string) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	seconds := func(c *statsapi.CPUStats) float64 { return float64(*c.UsageCoreNanoSeconds) / 1e9 }
	family("node_cpu_usage_seconds_total", "[STABLE] Cumulative cpu time consumed by the node in core-seconds", "counter")
	fmt.Fprintf(w, "node_cpu_usage_seconds_total %g %d\n", seconds(sum.Node.CPU), ts)
	family("node_memory_working_set_bytes", "[STABLE] Current working set of the node in bytes", "gauge")
	fmt.Fprintf(w, "node_memory_working_set_bytes %d %d\n", *sum.Node.Memory.WorkingSetBytes, ts)
	family("pod_cpu_usage_seconds_total", "[STABLE] Cumulative cpu time consumed by the pod in core-seconds", "counter")
	for _, p := range sum.Pods {
		fmt.Fprintf(w, "pod_cpu_usage_seconds_total{namespace=%q,pod=%q} %g %d\n", p.PodRef.Namespace, p.PodRef.Name, seconds(p.CPU), ts)
	}
	family("pod_memory_working_set_bytes", "[STABLE] Current working set of the pod in bytes", "gauge")
	for _, p := range sum.Pods {
		fmt.Fprintf(w, "pod_memory_working_set_bytes{namespace=%q,pod=%q} %d %d\n", p.PodRef.Namespace, p.PodRef.Name, *p.Memory.WorkingSetBytes, ts)
	}
	family("container_cpu_usage_seconds_total", "[STABLE] Cumulative cpu time consumed by the container in core-seconds", "counter")
	for _, p := range sum.Pods {
		for _, c := range p.Containers {
			fmt.Fprintf(w, "container_cpu_usage_seconds_total{container=%q,namespace=%q,pod=%q} %g %d\n", c.Name, p.PodRef.Namespace, p.PodRef.Name, seconds(c.CPU), ts)
		}
	}
	family("container_memory_working_set_bytes", "[STABLE] Current working set of the container in bytes", "gauge")
	for _, p := range sum.Pods {
		for _, c := range p.Containers {
			fmt.Fprintf(w, "container_memory_working_set_bytes{container=%q,namespace=%q,pod=%q} %d %d\n", c.Name, p.PodRef.Namespace, p.PodRef.Name, *c.Memory.WorkingSetBytes, ts)
		}
	}
	family("container_start_time_seconds", "[STABLE] Start time of the container since unix epoch in seconds", "gauge")
	for _, p := range sum.Pods {
		for _, c := range p.Containers {
			fmt.Fprintf(w, "container_start_time_seconds{container=%q,namespace=%q,pod=%q} %d %d\n", c.Name, p.PodRef.Namespace, p.PodRef.Name, c.StartTime.Unix(), ts)
		}
	}
	family("scrape_error", "[ALPHA] 1 if there was an error while getting container metrics, 0 otherwise", "gauge")
	fmt.Fprintln(w, "scrape_error 0")
}
