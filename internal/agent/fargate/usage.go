package fargate

import (
	"context"
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// defaultUsageInterval is the meter's interval when the reconciler is given
// none.
const defaultUsageInterval = time.Minute

// readingsEvery is how many meter intervals pass between the usage readings
// of a running sandbox (an hour at the default interval). What a pod used is
// shown, not billed (billing is the provisioned size over time, from the
// Sandbox's steps), and the kernel keeps its CPU total and memory peak, so a
// rare reading loses nothing; the reading as the pod stops or is deleted is
// always taken. Each reading costs the server a Sandbox and a record write.
const readingsEvery = 60

// pulling records, before the pod worker first pulls the pod's images, that
// the meter starts (EKS: "when the container image starts to download"). It
// is written before the pull, so a crash during the pull loses none of it.
func (r *Reconciler) pulling(ctx context.Context, sb *v1alpha1.Sandbox, pod *corev1.Pod) error {
	if done(sb, v1alpha1.SandboxPulling) {
		return nil
	}
	before := sb.Status.DeepCopy()
	r.setCondition(sb, v1alpha1.SandboxPulling, true, "ImagePullStarted", "pod "+pod.Name+" is bound and its images are being pulled: the meter starts")
	return r.writeStatus(ctx, sb, before)
}

// readUsage puts the sandbox's resource counters in its status, when the
// last reading is older than readingsEvery intervals (or force: the pod is stopping
// and its cgroup is about to go). It returns when to read again (0: never,
// the meter is off).
func (r *Reconciler) readUsage(ctx context.Context, sb *v1alpha1.Sandbox, force bool) (time.Duration, error) {
	every := r.UsageInterval
	switch {
	case every < 0: // the meter is off
		return 0, nil
	case every == 0:
		every = defaultUsageInterval
	}
	every *= readingsEvery
	now := r.Clock.Now()
	if u := sb.Status.Usage; !force && u != nil && now.Sub(u.Time.Time) < every {
		return every - now.Sub(u.Time.Time), nil
	}
	st, err := r.Runtime.Stats(ctx, sb.Name)
	if err != nil {
		return every, fmt.Errorf("reading the usage of sandbox %s: %w", sb.Name, err)
	}
	peak := int64(st.MemoryMaxBytes)
	if u := sb.Status.Usage; u != nil { // a runtime restarted since keeps no peak of before
		peak = max(peak, u.MemoryPeakBytes)
	}
	sb.Status.Usage = &v1alpha1.SandboxUsage{CPUSeconds: strconv.FormatFloat(st.CPU.Seconds(), 'f', 3, 64),
		MemoryPeakBytes: peak, Time: metav1.NewTime(now)}
	return every, nil
}
