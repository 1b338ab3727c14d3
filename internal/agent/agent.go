// Package agent is the host agent: it registers its host and capacity, turns each
// Sandbox placed on the host into a running sandbox through a runtime backend,
// registers the sandbox as its own node with a lease, runs the pod's containers
// and keeps the pod's status current; when the pod goes, it tears everything down.
//
// It runs inside `fargo server` (one machine is a whole cluster) or alone as
// `fargo agent` against a remote server, with the same code.
package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/fargo-dev/fargo/internal/network"
	"github.com/fargo-dev/fargo/internal/runtime"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// Config is what an agent is told.
type Config struct {
	// HostName names the Host object; unique per machine.
	HostName string
	Region   string
	// Capacity is what the host offers to sandboxes.
	Capacity v1alpha1.HostCapacity
	Runtime  runtime.Runtime
	// KubeletVersion is reported on nodes (the embedded Kubernetes version).
	KubeletVersion string
	// Heartbeat is how often the host and the node leases are renewed.
	Heartbeat time.Duration
	// Workers is how many sandboxes are worked on at once.
	Workers int
	// DataDir holds pods' volumes (DATA/pods/<uid>).
	DataDir string
	// ClusterDNS is the cluster DNS service's address, for pods' resolv.conf
	// (nil: pods with dnsPolicy ClusterFirst get no nameserver).
	ClusterDNS net.IP
}

// Agent is one host's agent.
type Agent struct {
	cfg      Config
	client   client.Client
	reader   client.Reader // uncached: configMaps and secrets of pods, read when needed
	recorder record.EventRecorder
	probes   *prober
	// wake re-queues a sandbox (a probe result changed, a container was killed).
	wake chan event.GenericEvent
	// killing and preStopped hold container IDs being killed after a failed probe
	// and those whose preStop hook has run.
	killing, preStopped sync.Map
	tokens              tokenCache
}

// New checks cfg and returns an agent that SetupWithManager wires in.
func New(cfg Config) (*Agent, error) {
	if cfg.HostName == "" {
		return nil, errors.New("host agent: empty host name (set --host-name)")
	}
	if cfg.Runtime == nil {
		return nil, errors.New("host agent: no runtime")
	}
	if cfg.DataDir == "" {
		return nil, errors.New("host agent: no data dir")
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = 10 * time.Second
	}
	if cfg.Workers == 0 {
		cfg.Workers = 16
	}
	a := &Agent{cfg: cfg, wake: make(chan event.GenericEvent, 1024)}
	a.probes = newProber(a.runProbe, a.wakeSandbox, func(t probeTarget, kind probeType, out string) {
		a.event(t.pod, corev1.EventTypeWarning, "Unhealthy", "%s probe failed: %s", kind, out)
	})
	return a, nil
}

// wakeSandbox re-queues a sandbox's reconcile now.
func (a *Agent) wakeSandbox(name string) {
	select {
	case a.wake <- event.GenericEvent{Object: &v1alpha1.Sandbox{ObjectMeta: metav1.ObjectMeta{Name: name}}}:
	default: // full: the periodic resync picks it up
	}
}

// SetupWithManager registers the host (a runnable that also renews heartbeats and
// leases) and the sandbox reconciler with mgr.
func (a *Agent) SetupWithManager(mgr ctrl.Manager) error {
	a.client, a.reader = mgr.GetClient(), mgr.GetAPIReader()
	a.recorder = mgr.GetEventRecorderFor("kubelet")
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &corev1.Pod{}, nodeNameField, indexNodeName); err != nil {
		return fmt.Errorf("indexing pods by node: %w", err)
	}
	if err := mgr.Add(manager.RunnableFunc(a.heartbeat)); err != nil {
		return fmt.Errorf("adding the host heartbeat: %w", err)
	}
	mine := predicate.NewPredicateFuncs(func(o client.Object) bool {
		sb, ok := o.(*v1alpha1.Sandbox)
		return ok && sb.Spec.Host == a.cfg.HostName
	})
	return ctrl.NewControllerManagedBy(mgr).Named("host-agent").
		WithOptions(controller.Options{MaxConcurrentReconciles: a.cfg.Workers}).
		For(&v1alpha1.Sandbox{}, builder.WithPredicates(mine)).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(podSandbox)).
		WatchesRawSource(source.Channel(a.wake, &handler.EnqueueRequestForObject{})).
		Complete(reconcile.Func(a.reconcile))
}

// podSandbox maps a pod bound to a Fargate node to the node's sandbox.
func podSandbox(_ context.Context, o client.Object) []reconcile.Request {
	pod, ok := o.(*corev1.Pod)
	if !ok {
		return nil
	}
	name, ok := network.SandboxOfNode(pod.Spec.NodeName)
	if !ok {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: name}}}
}

func (a *Agent) event(pod *corev1.Pod, kind, reason, format string, args ...any) {
	a.recorder.Eventf(pod, kind, reason, format, args...)
}

// heartbeat registers the host, renews its heartbeat and every node lease, and
// sweeps leftovers, until ctx ends.
func (a *Agent) heartbeat(ctx context.Context) error {
	log := klog.FromContext(ctx).WithValues("host", a.cfg.HostName)
	tick := time.NewTicker(a.cfg.Heartbeat)
	defer tick.Stop()
	for {
		if err := a.registerHost(ctx); err != nil {
			log.Error(err, "host heartbeat failed")
		}
		if err := a.renewLeases(ctx); err != nil {
			log.Error(err, "renewing node leases failed")
		}
		if err := a.sweep(ctx); err != nil {
			log.Error(err, "sweeping leftovers failed")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
