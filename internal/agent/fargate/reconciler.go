// Package fargate takes each Sandbox placed on this host through its life, one
// small ordered step per file, as Karpenter's NodeClaim lifecycle does:
// launch (network + runtime sandbox) → register (node + lease) → ready (the
// pod may run; its pod worker runs it) → release (everything torn down). Each
// step is idempotent and recorded as a condition with its time on the Sandbox's
// status, so a restart in the middle repeats the current step and metering and
// debugging can read when each happened.
package fargate

import (
	"context"
	"errors"
	"fmt"
	"net"
	goruntime "runtime"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/fargo-dev/fargo/internal/agent/podworker"
	"github.com/fargo-dev/fargo/internal/runtime"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// Network is the host dataplane a sandbox's network is prepared on
// (internal/network/cni, or nothing for backends that bring their own).
type Network interface {
	// Setup prepares sandbox id's network at ip in subnet and returns its netns
	// path ("" when the backend needs none).
	Setup(ctx context.Context, id string, ip net.IP, subnet *net.IPNet) (string, error)
	// Teardown removes it; a missing one is fine.
	Teardown(ctx context.Context, id string) error
	// Sandboxes lists the sandboxes with a network here, for the sweep.
	Sandboxes() ([]string, error)
}

// NodeEndpoints serve the kubelet API at a sandbox's own address, inside its
// network namespace (kubeletapi.Endpoints).
type NodeEndpoints interface {
	Open(id, netnsPath string, ip net.IP) error
	Close(id string)
}

// Reconciler runs the Sandboxes of one host.
type Reconciler struct {
	Client client.Client
	// Reader reads uncached, for what the cache may not show yet (another
	// process's write); nil: the cache's answer stands.
	Reader   client.Reader
	Recorder record.EventRecorder
	Runtime  runtime.Runtime
	Network  Network
	Pods     *podworker.Worker
	// Endpoints, if set, serve each node's kubelet API at its own address.
	Endpoints NodeEndpoints
	Clock     clock.WithTicker
	// Host names this host; Region and KubeletVersion go on its nodes.
	Host, Region, KubeletVersion string
	// UsageInterval is how often a running sandbox's usage is read into its
	// status for the meter (0: a minute; negative: never, the meter is off).
	UsageInterval time.Duration
	// Workers is how many sandboxes are worked on at once.
	Workers int
	// Starts is how many of them may be pods on their way to Running, taken
	// in the order they came (startgate.go); 0: the host's CPUs plus one.
	Starts int

	wake chan event.GenericEvent
	// seen is the relist's last view of each sandbox's containers.
	seen map[string]string
	// launched holds, per sandbox, the pod UID this process launched it for:
	// later reconciles skip the launch (netns, CNI, cgroup, files: the costliest
	// step, redone on every pod event otherwise). An agent restart, or the
	// relist finding the sandbox gone from the runtime, launches it again.
	launched sync.Map
	gate     *startGate
}

// Wake re-queues a sandbox's reconcile now.
func (r *Reconciler) Wake(id string) {
	select {
	case r.wake <- event.GenericEvent{Object: &v1alpha1.Sandbox{ObjectMeta: metav1.ObjectMeta{Name: id}}}:
	default: // full: the relist or the next event picks it up
	}
}

// SetupWithManager registers the reconciler for this host's Sandboxes and their
// pods with mgr.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.wake == nil {
		r.wake = make(chan event.GenericEvent, 1024)
	}
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.Starts == 0 {
		r.Starts = goruntime.NumCPU() + 1
	}
	r.gate = newStartGate(r.Starts)
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &corev1.Pod{}, nodeNameField, indexNodeName); err != nil {
		return fmt.Errorf("indexing pods by node: %w", err)
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.Sandbox{}, sandboxNodeField, indexSandboxNode); err != nil {
		return fmt.Errorf("indexing sandboxes by node: %w", err)
	}
	mine := predicate.NewPredicateFuncs(func(o client.Object) bool {
		sb, ok := o.(*v1alpha1.Sandbox)
		return ok && sb.Spec.Host == r.Host
	})
	return ctrl.NewControllerManagedBy(mgr).Named("host-agent").
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.Workers, 1)}).
		For(&v1alpha1.Sandbox{}, builder.WithPredicates(mine)).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(r.podSandbox)).
		WatchesRawSource(source.Channel(r.wake, &handler.EnqueueRequestForObject{})).
		Complete(r)
}

// Reconcile takes one Sandbox of this host through its steps in order; once it
// is released (deleted), through release.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	sb := &v1alpha1.Sandbox{}
	if err := r.Client.Get(ctx, req.NamespacedName, sb); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if sb.Spec.Host != r.Host {
		return ctrl.Result{}, nil
	}
	if sb.DeletionTimestamp != nil {
		return ctrl.Result{}, r.release(ctx, sb)
	}
	pod, err := r.podOf(ctx, sb)
	if err != nil {
		return ctrl.Result{}, err
	}
	if !starting(pod) {
		r.gate.forget(sb.Name)
	}
	if pod == nil {
		return ctrl.Result{}, nil // the scheduler's releaser deletes the Sandbox
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return ctrl.Result{}, r.stop(ctx, sb, pod)
	}
	if starting(pod) {
		leave, err := r.gate.enter(ctx, sb.Name)
		if err != nil {
			return ctrl.Result{}, err
		}
		defer leave()
		ctx = runtime.WithBlocking(ctx, leave)
	}
	before := sb.Status.DeepCopy()
	err = r.launch(ctx, sb, pod) // its failure is an event of its own
	if err == nil {
		if err = r.register(ctx, sb); err != nil {
			r.failed(pod, "FailedRegisterNode", "Failed to register node "+sb.Spec.NodeName, err)
		}
	}
	if err == nil {
		r.ready(sb)
	}
	if werr := r.writeStatus(ctx, sb, before); werr != nil {
		return ctrl.Result{}, werr
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	res, err := r.run(ctx, sb, pod)
	if err != nil {
		r.failed(pod, "FailedSync", "Error syncing pod", err)
	}
	return res, err
}

// failed records err on the pod as a Warning event, as kubelet does: what keeps
// a pod from running shows in kubectl describe, not only in the agent's log.
// Conflicts (retried at once) and the agent stopping are not the pod's news.
func (r *Reconciler) failed(pod *corev1.Pod, reason, what string, err error) {
	if apierrors.IsConflict(err) || errors.Is(err, context.Canceled) {
		return
	}
	r.Recorder.Eventf(pod, corev1.EventTypeWarning, reason, "%s: %v", what, err)
}

// starting is true for a pod on its way to Running: not yet running, not
// being deleted.
func starting(pod *corev1.Pod) bool {
	return pod != nil && pod.DeletionTimestamp == nil && (pod.Status.Phase == "" || pod.Status.Phase == corev1.PodPending)
}

// podOf is the sandbox's pod, or nil when it is gone or replaced.
func (r *Reconciler) podOf(ctx context.Context, sb *v1alpha1.Sandbox) (*corev1.Pod, error) {
	pod := &corev1.Pod{}
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: sb.Spec.Pod.Namespace, Name: sb.Spec.Pod.Name}, pod)
	if apierrors.IsNotFound(err) || (err == nil && string(pod.UID) != sb.Spec.Pod.UID) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading pod of sandbox %s: %w", sb.Name, err)
	}
	return pod, nil
}

// writeStatus writes what the steps changed of the sandbox's status, once.
func (r *Reconciler) writeStatus(ctx context.Context, sb *v1alpha1.Sandbox, before *v1alpha1.SandboxStatus) error {
	if equality.Semantic.DeepEqual(before, &sb.Status) {
		return nil
	}
	if err := r.Client.Status().Update(ctx, sb); err != nil {
		return fmt.Errorf("recording the status of sandbox %s: %w", sb.Name, err)
	}
	return nil
}

// setCondition records step t's outcome, keeping its time while it holds.
func (r *Reconciler) setCondition(sb *v1alpha1.Sandbox, t string, ok bool, reason, msg string) {
	s := metav1.ConditionFalse
	if ok {
		s = metav1.ConditionTrue
	}
	now := metav1.NewTime(r.Clock.Now())
	for i := range sb.Status.Conditions {
		c := &sb.Status.Conditions[i]
		if c.Type != t {
			continue
		}
		if c.Status != s {
			c.LastTransitionTime = now
			if ok {
				observeStep(sb, t, now.Time)
			}
		}
		c.Status, c.Reason, c.Message, c.ObservedGeneration = s, reason, msg, sb.Generation
		return
	}
	if ok {
		observeStep(sb, t, now.Time)
	}
	sb.Status.Conditions = append(sb.Status.Conditions, metav1.Condition{Type: t, Status: s, Reason: reason, Message: msg,
		LastTransitionTime: now, ObservedGeneration: sb.Generation})
}

// done reports whether step t has succeeded.
func done(sb *v1alpha1.Sandbox, t string) bool {
	for _, c := range sb.Status.Conditions {
		if c.Type == t {
			return c.Status == metav1.ConditionTrue
		}
	}
	return false
}

// placement is where the pod of sb runs, for its pod worker.
func placement(sb *v1alpha1.Sandbox) podworker.Placement {
	return podworker.Placement{SandboxID: sb.Name, PodIP: sb.Spec.IP, HostIP: sb.Spec.IP, NodeName: sb.Spec.NodeName, Allocatable: sandboxCapacity(sb)}
}
