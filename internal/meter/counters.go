package meter

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// Counters count what the usage records bill, as Prometheus metrics: each
// record's billed seconds are counted once as they grow (a record first seen
// after a restart counts in full, so the counters start at the ledger's
// totals); running records are carried on to the time of each scrape. The
// methods of a nil *Counters do nothing.
type Counters struct {
	prices Prices
	mu     sync.Mutex
	// counted is the billed seconds counted per record; running the records
	// still running, as last seen.
	counted map[string]int64
	running map[string]*v1alpha1.UsageRecord
	// until is how far running records may be counted (Ledger.countableUntil).
	until func() time.Time

	vcpuSeconds, gbSeconds, fargateCost *prometheus.CounterVec
	nodeSeconds, nodeCost               *prometheus.CounterVec
	pods                                *prometheus.GaugeVec
}

// NewCounters makes the meter's metrics, priced at prices.
func NewCounters(prices Prices) *Counters {
	pod := []string{"namespace", "profile"}
	node := []string{"nodegroup", "instance_type"}
	return &Counters{prices: prices, counted: map[string]int64{}, running: map[string]*v1alpha1.UsageRecord{},
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
func (c *Counters) Collectors() []prometheus.Collector { return []prometheus.Collector{c} }

func (c *Counters) vecs() []prometheus.Collector {
	return []prometheus.Collector{c.vcpuSeconds, c.gbSeconds, c.fargateCost, c.nodeSeconds, c.nodeCost, c.pods}
}

// Describe implements prometheus.Collector.
func (c *Counters) Describe(ch chan<- *prometheus.Desc) {
	for _, v := range c.vecs() {
		v.Describe(ch)
	}
}

// Collect implements prometheus.Collector: running records are counted up to
// now first (less countLag, not past the checkpoint).
func (c *Counters) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	if c.until != nil {
		until := c.until()
		for _, rec := range c.running {
			c.count(rec, until)
		}
	}
	c.mu.Unlock()
	for _, v := range c.vecs() {
		v.Collect(ch)
	}
}

// countUntil sets how far running records are counted at a scrape.
func (c *Counters) countUntil(until func() time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.until = until
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
// running record up to until, and keeps a running record for the scrapes.
func (c *Counters) observe(rec *v1alpha1.UsageRecord, until time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count(rec, until)
	if old, was := c.running[rec.Name]; was {
		if old.Spec.Kind == v1alpha1.UsagePod {
			c.pods.WithLabelValues(old.Spec.Size.Name).Dec()
		}
		delete(c.running, rec.Name)
	}
	if !rec.Status.Final {
		c.running[rec.Name] = &v1alpha1.UsageRecord{ObjectMeta: metav1.ObjectMeta{Name: rec.Name}, Spec: *rec.Spec.DeepCopy(), Status: *rec.Status.DeepCopy()}
		if rec.Spec.Kind == v1alpha1.UsagePod {
			c.pods.WithLabelValues(rec.Spec.Size.Name).Inc()
		}
	}
}

// count adds what rec bills up to until beyond what was counted of it.
func (c *Counters) count(rec *v1alpha1.UsageRecord, until time.Time) {
	n := countable(rec, until)
	if delta := n - c.counted[rec.Name]; delta > 0 {
		c.counted[rec.Name] = n
		c.add(rec, time.Duration(delta)*time.Second)
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
	delete(c.running, name)
}
