// Package host keeps this machine's Host object: what it offers to sandboxes,
// which runtime it runs, where its kubelet API listens, and a heartbeat; on each
// beat it also runs the heartbeat work of what runs on the host (node leases,
// the sweep of leftovers).
package host

import (
	"context"
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// Heartbeat registers the host and renews its heartbeat.
type Heartbeat struct {
	Client client.Client
	Name   string
	Spec   v1alpha1.HostSpec
	// KubeletEndpoint is host:port of the agent's kubelet API ("" for none).
	KubeletEndpoint string
	Every           time.Duration
	Clock           clock.WithTicker
	// Beats run after each heartbeat, in order.
	Beats []func(context.Context) error
}

// Start beats until ctx ends (a controller-runtime Runnable). The Host's own
// heartbeat runs apart from the Beats, so renewing hundreds of leases on a busy
// machine never makes the host look silent to the scheduler.
func (h *Heartbeat) Start(ctx context.Context) error {
	log := klog.FromContext(ctx).WithValues("host", h.Name)
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.every(ctx, func() {
			for _, beat := range h.Beats {
				if err := beat(ctx); err != nil {
					log.Error(err, "heartbeat work failed")
				}
			}
		})
	}()
	h.every(ctx, func() {
		if err := h.Register(ctx); err != nil {
			log.Error(err, "host heartbeat failed")
		}
	})
	<-done
	return nil
}

// every runs f now and then once per period until ctx ends.
func (h *Heartbeat) every(ctx context.Context, f func()) {
	tick := h.Clock.NewTicker(h.Every)
	defer tick.Stop()
	for {
		f()
		select {
		case <-ctx.Done():
			return
		case <-tick.C():
		}
	}
}

// Register creates or updates the Host object with this agent's capacity and
// runtime, and stamps its heartbeat and kubelet endpoint.
func (h *Heartbeat) Register(ctx context.Context) error {
	host := &v1alpha1.Host{}
	err := h.Client.Get(ctx, client.ObjectKey{Name: h.Name}, host)
	switch {
	case apierrors.IsNotFound(err):
		host = &v1alpha1.Host{ObjectMeta: metav1.ObjectMeta{Name: h.Name}, Spec: h.Spec}
		if err := h.Client.Create(ctx, host); err != nil {
			return fmt.Errorf("registering host %s: %w", h.Name, err)
		}
	case err != nil:
		return fmt.Errorf("reading host %s: %w", h.Name, err)
	case host.Spec.Capacity != h.Spec.Capacity || host.Spec.Machine != h.Spec.Machine || host.Spec.Runtime != h.Spec.Runtime ||
		!slices.Equal(host.Spec.Isolations, h.Spec.Isolations):
		// Unschedulable is the operator's.
		host.Spec.Capacity, host.Spec.Machine, host.Spec.Runtime, host.Spec.Isolations = h.Spec.Capacity, h.Spec.Machine, h.Spec.Runtime, h.Spec.Isolations
		if err := h.Client.Update(ctx, host); err != nil {
			return fmt.Errorf("updating host %s: %w", h.Name, err)
		}
	}
	now := metav1.NewTime(h.Clock.Now())
	host.Status.HeartbeatTime, host.Status.KubeletEndpoint = &now, h.KubeletEndpoint
	if err := h.Client.Status().Update(ctx, host); err != nil {
		return fmt.Errorf("host %s heartbeat: %w", h.Name, err)
	}
	return nil
}
