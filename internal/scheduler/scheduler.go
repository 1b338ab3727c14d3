// Package scheduler is the fargate-scheduler: it takes the Pending pods the webhook
// handed to it, checks and sizes them, claims a Sandbox (subnet, IP) for each, and
// binds the pod to the sandbox's node once the host has registered it, with EKS's
// events at each step. Failures are retried, and every waiting pod is looked at
// again when profiles or sandboxes change.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fargo-dev/fargo/internal/profile"
	"github.com/fargo-dev/fargo/internal/sizing"
	"github.com/fargo-dev/fargo/internal/support"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

const tooLargeMessage = "Your pod's cpu/memory requirements exceed the max Fargate configuration"

// Subnet is what placement needs to know of a subnet.
type Subnet struct {
	Net  *net.IPNet
	Zone string
}

// Scheduler reconciles Pending pods whose schedulerName is fargate-scheduler.
type Scheduler struct {
	Client   client.Client
	Reader   client.Reader // uncached, for PVCs
	Recorder record.EventRecorder
	Region   string
	Subnets  map[string]Subnet
	// Placement chooses among hosts with room; HostGrace is how long a host may be
	// silent and still get sandboxes.
	Placement Placement
	HostGrace time.Duration
	// Reserved reports addresses held outside Sandboxes (node groups' shares of
	// their subnets); nil: none.
	Reserved func(net.IP) bool
	// Clock is the time source (a fake one in tests); nil is the real clock.
	Clock clock.PassiveClock

	// claimMu serialises IP and host choice across concurrent reconciles; claimed are
	// sandboxes this scheduler created that its cache may not show yet, by IP.
	claimMu sync.Mutex
	claimed map[string]*v1alpha1.Sandbox
	retries retries
	// bound holds the UIDs of pods this scheduler bound that its cache may still
	// show unbound (a second binding is refused, 409), with when.
	bound sync.Map
	// waiting counts the pods to place, for the queue depth metric.
	waiting pending
}

// Reconcile places one pod, in ordered sub-steps: profile → support → size →
// claim a sandbox → bind (with the CapacityProvisioned annotation).
func (s *Scheduler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	pod := &corev1.Pod{}
	if err := s.Client.Get(ctx, req.NamespacedName, pod); err != nil {
		s.retries.forget(req.NamespacedName)
		s.waiting.set(req.NamespacedName, false)
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	s.waiting.set(req.NamespacedName, waiting(pod))
	if !waiting(pod) {
		s.retries.forget(req.NamespacedName)
		s.bound.Delete(pod.UID)
		return ctrl.Result{}, nil
	}
	if _, ok := s.bound.Load(pod.UID); ok {
		return ctrl.Result{}, nil // the binding's watch event is on its way
	}
	prof, err := s.profileFor(ctx, pod)
	if err != nil {
		return ctrl.Result{}, err
	}
	if prof == nil {
		s.fail(pod, reasonNoProfile, "Pod not matched by any ACTIVE Fargate profile; it stays Pending until one matches (or remove schedulerName: "+v1alpha1.SchedulerName+")")
		return ctrl.Result{}, nil // a profile change re-queues it
	}
	lookup := func(ns, name string) (*corev1.PersistentVolumeClaim, error) {
		pvc := &corev1.PersistentVolumeClaim{}
		return pvc, s.Reader.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, pvc)
	}
	if msg := support.Check(pod, lookup); msg != "" {
		s.fail(pod, reasonUnsupported, msg)
		return ctrl.Result{RequeueAfter: s.retries.next(req.NamespacedName, false)}, nil // a PVC may bind meanwhile
	}
	if msg := notApplicable(pod); msg != "" {
		s.Recorder.Event(pod, corev1.EventTypeWarning, "NotApplicable", msg)
	}
	size, err := sizing.ForPod(&pod.Spec)
	if errors.Is(err, sizing.ErrTooLarge) {
		return ctrl.Result{}, s.tooLarge(ctx, pod, err)
	}
	storage, serr := sizing.EphemeralStorageGiB(&pod.Spec)
	if serr != nil {
		s.fail(pod, reasonUnsupported, "Pod not supported on Fargate: "+serr.Error())
		return ctrl.Result{}, nil
	}
	sb, err := s.claim(ctx, pod, prof, size, storage)
	if err != nil {
		reason := reasonError
		if errors.Is(err, errNoRoom) {
			reason = reasonNoRoom
		}
		s.fail(pod, reason, err.Error())
		return ctrl.Result{RequeueAfter: s.retries.next(req.NamespacedName, errors.Is(err, errNoRoom))}, nil
	}
	s.retries.forget(req.NamespacedName)
	if pod.Status.NominatedNodeName != sb.Name {
		patch := client.MergeFrom(pod.DeepCopy())
		pod.Status.NominatedNodeName = sb.Name
		if err := s.Client.Status().Patch(ctx, pod, patch); err != nil {
			return ctrl.Result{}, fmt.Errorf("nominating sandbox %s for pod %s: %w", sb.Name, req, err)
		}
	}
	return ctrl.Result{}, s.bind(ctx, pod, sb, size)
}

// waiting is a pod this scheduler still has to place.
func waiting(pod *corev1.Pod) bool {
	return pod.Spec.SchedulerName == v1alpha1.SchedulerName && pod.Spec.NodeName == "" && pod.DeletionTimestamp == nil &&
		pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed
}

func (s *Scheduler) profileFor(ctx context.Context, pod *corev1.Pod) (*v1alpha1.FargateProfile, error) {
	list := &v1alpha1.FargateProfileList{}
	if err := s.Client.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing Fargate profiles: %w", err)
	}
	var active []*v1alpha1.FargateProfile
	for i := range list.Items {
		if profile.State(&list.Items[i]) == v1alpha1.ProfileActive {
			active = append(active, &list.Items[i])
		}
	}
	return profile.Select(active, profile.Pod{Namespace: pod.Namespace, Labels: pod.Labels}), nil
}

func (s *Scheduler) fail(pod *corev1.Pod, reason, msg string) {
	failures.WithLabelValues(reason).Inc()
	s.Recorder.Event(pod, corev1.EventTypeWarning, "FailedScheduling", msg)
}

// tooLarge records EKS's PodScheduled=False condition and event.
func (s *Scheduler) tooLarge(ctx context.Context, pod *corev1.Pod, cause error) error {
	s.fail(pod, reasonTooLarge, cause.Error())
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Reason == sizing.ReasonTooLarge {
			return nil
		}
	}
	patch := client.MergeFrom(pod.DeepCopy())
	cond := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: sizing.ReasonTooLarge,
		Message: tooLargeMessage, LastTransitionTime: metav1.NewTime(s.now())}
	replaced := false
	for i, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled {
			pod.Status.Conditions[i], replaced = cond, true
		}
	}
	if !replaced {
		pod.Status.Conditions = append(pod.Status.Conditions, cond)
	}
	if err := s.Client.Status().Patch(ctx, pod, patch); err != nil {
		return fmt.Errorf("marking pod %s/%s too large: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// bind creates the pod's Binding once its sandbox's node is registered and Ready.
// The node says so itself: the host registers it before it records the
// sandbox's status, and binding on the node saves the pod that write's wait.
// The Binding carries the CapacityProvisioned annotation, which the API server
// copies onto the pod in the same write.
func (s *Scheduler) bind(ctx context.Context, pod *corev1.Pod, sb *v1alpha1.Sandbox, size sizing.Size) error {
	if sb.Status.Phase == v1alpha1.SandboxFailed {
		return nil // the host retries the launch; the sandbox watch brings the pod back
	}
	node := &corev1.Node{}
	if err := s.Client.Get(ctx, client.ObjectKey{Name: sb.Spec.NodeName}, node); err != nil {
		return client.IgnoreNotFound(err) // the node watch brings the pod back
	}
	if node.Labels[v1alpha1.LabelSandbox] != sb.Name || node.DeletionTimestamp != nil || !nodeReady(node) {
		return nil
	}
	binding := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID,
		Annotations: map[string]string{v1alpha1.AnnotationCapacity: size.String()}},
		Target: corev1.ObjectReference{Kind: "Node", Name: node.Name}}
	if err := s.Client.SubResource("binding").Create(ctx, pod, binding); err != nil {
		if apierrors.IsConflict(err) {
			return nil // already bound
		}
		return fmt.Errorf("binding pod %s/%s to %s: %w", pod.Namespace, pod.Name, node.Name, err)
	}
	s.markBound(pod.UID)
	s.waiting.set(client.ObjectKeyFromObject(pod), false)
	schedulingSeconds.Observe(s.now().Sub(pod.CreationTimestamp.Time).Seconds())
	s.Recorder.Eventf(pod, corev1.EventTypeNormal, "Scheduled", "Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, node.Name)
	return nil
}

// boundKept is how long a binding is remembered for a pod the cache never shows
// bound (deleted first).
const boundKept = 10 * time.Minute

// markBound remembers pod uid as bound and forgets old ones.
func (s *Scheduler) markBound(uid types.UID) {
	now := s.now()
	s.bound.Store(uid, now)
	s.bound.Range(func(k, v any) bool {
		if now.Sub(v.(time.Time)) > boundKept {
			s.bound.Delete(k)
		}
		return true
	})
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podKey is the pod a sandbox belongs to.
func podKey(sb *v1alpha1.Sandbox) types.NamespacedName {
	return types.NamespacedName{Namespace: sb.Spec.Pod.Namespace, Name: sb.Spec.Pod.Name}
}

func (s *Scheduler) now() time.Time {
	if s.Clock == nil {
		return time.Now()
	}
	return s.Clock.Now()
}
