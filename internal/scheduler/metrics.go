package scheduler

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/component-base/metrics/legacyregistry"
)

// The fargate-scheduler's metrics, on the apiserver's /metrics beside
// kube-scheduler's own.
var (
	pendingPods = prometheus.NewGauge(prometheus.GaugeOpts{Name: "fargo_scheduler_pending_pods",
		Help: "Fargate pods waiting for the fargate-scheduler: its queue depth."})
	schedulingSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "fargo_scheduler_scheduling_duration_seconds",
		Help:    "Time from a Fargate pod's creation to its binding to its sandbox's node.",
		Buckets: prometheus.ExponentialBuckets(0.05, 2, 12)})
	failures = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fargo_scheduler_failures_total",
		Help: "Attempts to place a Fargate pod that failed, by reason."}, []string{"reason"})
)

func init() { legacyregistry.RawMustRegister(pendingPods, schedulingSeconds, failures) }

// Reasons a placement fails, for fargo_scheduler_failures_total.
const (
	reasonNoProfile   = "NoProfile"
	reasonUnsupported = "Unsupported"
	reasonTooLarge    = "TooLarge"
	reasonNoRoom      = "NoRoom"
	reasonError       = "Error"
)

// pending is the set of pods waiting, for the queue depth.
type pending struct {
	mu   sync.Mutex
	pods map[types.NamespacedName]bool
}

func (p *pending) set(pod types.NamespacedName, waiting bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pods == nil {
		p.pods = map[types.NamespacedName]bool{}
	}
	if waiting {
		p.pods[pod] = true
	} else {
		delete(p.pods, pod)
	}
	pendingPods.Set(float64(len(p.pods)))
}
