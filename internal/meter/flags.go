package meter

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"
)

// Flags are `fargo server`'s meter flags; each one set overrides the cluster
// config's fargo.metering.
type Flags struct {
	Stop                string
	Interval, Retention time.Duration
	// Off runs no meter: no usage records, no usage readings.
	Off bool
}

// AddFlags registers the flags on fs.
func (f *Flags) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.Stop, "meter-stop", "", `when a Fargate pod's meter stops: "containers" (once its containers have all terminated, so a finished Job costs nothing more; the default) or "pod" (once the pod is deleted, as EKS bills); overrides fargo.metering.stop`)
	fs.DurationVar(&f.Interval, "meter-interval", 0, "how often the meter writes its checkpoint for all running runs (a run lost with its host ends there); each running pod's use is read every 60 intervals (default 1m; overrides fargo.metering.interval)")
	fs.BoolVar(&f.Off, "without-meter", false, "run no meter: no usage records, counters or usage readings (for comparing what metering costs the server)")
	fs.DurationVar(&f.Retention, "meter-retention", 0, "how long the usage record of a finished run is kept (default 2160h, 90 days; overrides fargo.metering.retention)")
}

// Apply puts the flags given over stop, interval and retention.
func (f *Flags) Apply(stop *StopRule, interval, retention *time.Duration) error {
	if f.Stop != "" {
		rule, err := ParseStopRule(f.Stop)
		if err != nil {
			return fmt.Errorf("--meter-stop: %w", err)
		}
		*stop = rule
	}
	if f.Interval != 0 {
		if f.Interval < time.Second {
			return fmt.Errorf("--meter-interval %s: must be at least 1s", f.Interval)
		}
		*interval = f.Interval
	}
	if f.Retention != 0 {
		if f.Retention < time.Hour {
			return fmt.Errorf("--meter-retention %s: must be at least 1h", f.Retention)
		}
		*retention = f.Retention
	}
	return nil
}
