package fargate

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/component-base/metrics/legacyregistry"

	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// stepSeconds times each step of a sandbox's start; served on the process's
// /metrics (the server's apiserver, or an agent's kubelet API).
var stepSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "fargo_sandbox_start_step_duration_seconds",
	Help:    "Time each step of a sandbox's start took: launch (from its claim), register (from launch), ready (from register), pulling (from ready to the pod's first image pull).",
	Buckets: prometheus.ExponentialBuckets(0.01, 2, 14)}, []string{"step"})

func init() { legacyregistry.RawMustRegister(stepSeconds) }

// steps are the start steps, each timed from the one before.
var steps = map[string]struct{ name, after string }{
	v1alpha1.SandboxLaunched:   {"launch", ""},
	v1alpha1.SandboxRegistered: {"register", v1alpha1.SandboxLaunched},
	v1alpha1.SandboxReady:      {"ready", v1alpha1.SandboxRegistered},
	v1alpha1.SandboxPulling:    {"pulling", v1alpha1.SandboxReady},
}

// observeStep times step t, just done at now.
func observeStep(sb *v1alpha1.Sandbox, t string, now time.Time) {
	s, ok := steps[t]
	if !ok {
		return
	}
	from := sb.CreationTimestamp.Time
	if s.after != "" {
		c := meta.FindStatusCondition(sb.Status.Conditions, s.after)
		if c == nil {
			return
		}
		from = c.LastTransitionTime.Time
	}
	stepSeconds.WithLabelValues(s.name).Observe(now.Sub(from).Seconds())
}
