package server

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// controllerMetrics puts controller-runtime's own metrics (reconciles,
// errors, reconcile time, workers: controller_runtime_*) on the apiserver's
// /metrics beside fargo's. Its registry also holds client-go and workqueue
// metrics under the names the Kubernetes components already serve there,
// which are left out.
type controllerMetrics struct{}

// Describe describes nothing: the collector is unchecked, its metrics known
// only when gathered.
func (controllerMetrics) Describe(chan<- *prometheus.Desc) {}

func (controllerMetrics) Collect(ch chan<- prometheus.Metric) {
	families, _ := crmetrics.Registry.Gather() // what it gathered, even on a partial error
	for _, mf := range families {
		if !strings.HasPrefix(mf.GetName(), "controller_runtime_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName())
			}
			ch <- gathered{desc: prometheus.NewDesc(mf.GetName(), mf.GetHelp(), labels, nil), m: m}
		}
	}
}

// gathered is a metric already gathered, written as it was.
type gathered struct {
	desc *prometheus.Desc
	m    *dto.Metric
}

func (g gathered) Desc() *prometheus.Desc { return g.desc }

func (g gathered) Write(out *dto.Metric) error {
	out.Label, out.Gauge, out.Counter, out.Summary, out.Untyped, out.Histogram, out.TimestampMs =
		g.m.Label, g.m.Gauge, g.m.Counter, g.m.Summary, g.m.Untyped, g.m.Histogram, g.m.TimestampMs
	return nil
}
