package webhook

import (
	"context"
	"fmt"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// AnnotationProbe marks the dry-run FargateProfile the server sends through
// the API server to learn that the API server calls its webhooks.
const AnnotationProbe = "fargo.dev/webhook-probe"

// Probe tells when the API server calls fargo's mutating webhooks. A
// registration takes effect once the API server's informer has it; until then
// pods pass unmutated (the pod webhook fails open, as EKS's does), so a pod
// created right after the server said ready could miss the fargate-scheduler.
// The profile defaulter is probed: it lives in the same configuration object as
// the pod webhook, which the API server loads whole, and a FargateProfile, unlike
// a pod, needs no service account to exist first.
type Probe struct {
	once sync.Once
	seen chan struct{}
}

// NewProbe returns a probe no call has reached yet.
func NewProbe() *Probe { return &Probe{seen: make(chan struct{})} }

// saw records a probe's call.
func (p *Probe) saw() {
	if p != nil {
		p.once.Do(func() { close(p.seen) })
	}
}

// probeEvery is how often a probe is sent.
const probeEvery = 50 * time.Millisecond

// Wait sends dry-run probe profiles through the API server until the
// defaulter has seen one, or timeout passes (the error says what the last try
// got).
func (p *Probe) Wait(ctx context.Context, c client.Client, timeout time.Duration) error {
	deadline := time.After(timeout)
	var last error
	for {
		fp := &v1alpha1.FargateProfile{ObjectMeta: metav1.ObjectMeta{Name: "fargo-webhook-probe", Annotations: map[string]string{AnnotationProbe: "true"}},
			Spec: v1alpha1.FargateProfileSpec{Selectors: []v1alpha1.FargateProfileSelector{{Namespace: "fargo-webhook-probe"}}}}
		last = c.Create(ctx, fp, client.DryRunAll)
		select {
		case <-p.seen:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			return fmt.Errorf("the API server did not call fargo's webhooks within %s (last dry-run profile create: %v)", timeout, last)
		case <-time.After(probeEvery):
		}
	}
}
