package server

import (
	"fmt"
	"sync"

	"k8s.io/component-base/metrics/legacyregistry"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/fargo-dev/fargo/internal/meter"
)

// registerMeterMetrics puts the meter's counters and controller-runtime's
// metrics on the apiserver's /metrics (`kubectl get --raw /metrics`), once
// per process.
var registerMeterMetrics sync.Once

// setupMeter registers the ledger, which keeps a usage record per Fargate pod
// and node-group node, priced at the cluster's rates.
func (s *started) setupMeter(mgr ctrl.Manager) error {
	if s.o.Meter.Off {
		return nil
	}
	f := s.cluster.Fargo
	counters := meter.NewCounters(f.Prices)
	registerMeterMetrics.Do(func() { legacyregistry.RawMustRegister(append(counters.Collectors(), controllerMetrics{})...) })
	l := &meter.Ledger{Client: mgr.GetClient(), Prices: f.Prices, Stop: f.Metering.StopRule, Interval: f.Metering.IntervalDuration,
		Retention: f.Metering.RetentionDuration, Counters: counters}
	if err := l.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the meter: %w", err)
	}
	return nil
}
