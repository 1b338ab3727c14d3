package meter

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// Counters count what the usage records bill, as Prometheus metrics: each
// record's billed seconds are counted once as they grow (a record first seen
// after a restart counts in full, so the counters start at the ledger's
// totals). The methods of a nil *Counters do nothing.
type Counters struct {
	prices Prices
	mu     sync.Mutex
	// counted is the billed seconds counted per record; running the size of
	// each record still running.
	counted map[string]int64
	running map[string]string

	vcpuSeconds, gbSeconds, fargateCost *prometheus.CounterVec
	nodeSeconds, nodeCost               *prometheus.CounterVec
	pods                                *prometheus.GaugeVec
}

// NewCounters makes the meter's metrics, priced at prices.
func NewCounters(prices Prices) *Counters {
	pod := []string{"namespace", "profile"}
	node := []string{"nodegroup", "instance_type"}
	return &Counters{prices: prices, counted: map[string]int64{}, running: map[string]string{},
		vcpuSeconds: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fargo_fargate_vcpu_seconds_total",
			Help: "vCPU-seconds billed for Fargate pods: provisioned vCPUs times billed seconds."}, pod),
		gbSeconds: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fargo_fargate_memory_gb_seconds_total",
			Help: "GB-seconds billed for Fargate pods: provisioned memory (GB) times billed seconds."}, pod),
		fargateCost: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fargo_fargate_cost_total",
			Help: "What Fargate pods cost at the cluster's rates, in the currency of the label."}, append(pod, "currency")),
		nodeSeconds: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fargo_nodegroup_node_seconds_total",
			Help: "Seconds billed for node-group nodes."}, node),
		nodeCost: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fargo_nodegroup_cost_total",
			Help: "What node-group nodes cost at the cluster's instance prices, in the currency of the label."}, append(node, "currency")),
		pods: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "fargo_fargate_pods",
			Help: "Fargate pods being metered, by provisioned size."}, []string{"size"}),
	}
}

// Collectors are the metrics, to register.
func (c *Counters) Collectors() []prometheus.Collector {
	return []prometheus.Collector{c.vcpuSeconds, c.gbSeconds, c.fargateCost, c.nodeSeconds, c.nodeCost, c.pods}
}

// countLag is how far a running run's counters stay behind now: a run that
// has stopped, the ledger not yet told, still looks like it runs, and a counter
// cannot go back. The agent reports a stop within a relist (1 s) and a write.
const countLag = 10 * time.Second

// countable is what the counters may hold of rec: all of a final record, a
// running one's up to until (Ledger.countableUntil: countLag before now, not
// past the checkpoint), its minimum at once.
func countable(rec *v1alpha1.UsageRecord, until time.Time) int64 {
	st := rec.Status
	if st.Final || st.Start == nil || st.Until == nil {
		return st.BilledSeconds
	}
	return int64(Billed(st.Start.Time, until) / time.Second)
}

// observe counts what rec bills beyond what was counted of it before, a
// running record up to until.
func (c *Counters) observe(rec *v1alpha1.UsageRecord, until time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n := countable(rec, until)
	delta := n - c.counted[rec.Name]
	if delta > 0 {
		c.counted[rec.Name] = n
		c.add(rec, time.Duration(delta)*time.Second)
	}
	if rec.Spec.Kind == v1alpha1.UsagePod {
		old, was := c.running[rec.Name]
		if was {
			c.pods.WithLabelValues(old).Dec()
			delete(c.running, rec.Name)
		}
		if !rec.Status.Final {
			c.running[rec.Name] = rec.Spec.Size.Name
			c.pods.WithLabelValues(rec.Spec.Size.Name).Inc()
		}
	}
}

func (c *Counters) add(rec *v1alpha1.UsageRecord, d time.Duration) {
	s := size(rec.Spec.Size)
	cost := c.prices.Cost(s, d)
	if rec.Spec.Kind == v1alpha1.UsageNode {
		c.nodeSeconds.WithLabelValues(rec.Spec.NodeGroup, s.InstanceType).Add(d.Seconds())
		c.nodeCost.WithLabelValues(rec.Spec.NodeGroup, s.InstanceType, c.prices.Currency).Add(cost)
		return
	}
	ns := ""
	if rec.Spec.Pod != nil {
		ns = rec.Spec.Pod.Namespace
	}
	c.vcpuSeconds.WithLabelValues(ns, rec.Spec.Profile).Add(s.VCPU() * d.Seconds())
	c.gbSeconds.WithLabelValues(ns, rec.Spec.Profile).Add(s.GB() * d.Seconds())
	c.fargateCost.WithLabelValues(ns, rec.Spec.Profile, c.prices.Currency).Add(cost)
}

// forget drops a deleted record (its counts stay counted).
func (c *Counters) forget(name string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.counted, name)
}
