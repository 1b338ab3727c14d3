package clusterdns

import (
	"context"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	podutil "k8s.io/kubernetes/pkg/api/v1/pod"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// ScheduleOnFargate moves CoreDNS to Fargate as eksctl does once a profile
// that selects it exists: the Deployment's pod template is annotated
// compute-type: fargate (and added capabilities, which Fargate refuses, are
// taken off), and the rollout that follows replaces the pods. It reports
// whether it changed anything (false: no CoreDNS Deployment, or it is already
// made for Fargate).
func ScheduleOnFargate(ctx context.Context, cl client.Client) (bool, error) {
	d := &appsv1.Deployment{}
	if err := cl.Get(ctx, client.ObjectKey{Namespace: Namespace, Name: Name}, d); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("reading Deployment %s/%s: %w", Namespace, Name, err)
	}
	patch := client.MergeFrom(d.DeepCopy())
	changed := d.Spec.Template.Annotations[v1alpha1.AnnotationComputeType] != v1alpha1.ComputeFargate
	if d.Spec.Template.Annotations == nil {
		d.Spec.Template.Annotations = map[string]string{}
	}
	d.Spec.Template.Annotations[v1alpha1.AnnotationComputeType] = v1alpha1.ComputeFargate
	// Fargate refuses added capabilities; its default set has
	// NET_BIND_SERVICE, so CoreDNS binds port 53 without it (as the EKS
	// add-on's computeType: Fargate value leaves the set alone).
	for i := range d.Spec.Template.Spec.Containers {
		sc := d.Spec.Template.Spec.Containers[i].SecurityContext
		if sc != nil && sc.Capabilities != nil && len(sc.Capabilities.Add) > 0 {
			sc.Capabilities, changed = nil, true
		}
	}
	if !changed {
		return false, nil
	}
	if err := cl.Patch(ctx, d, patch); err != nil {
		return false, fmt.Errorf("annotating Deployment %s/%s compute-type %s: %w", Namespace, Name, v1alpha1.ComputeFargate, err)
	}
	return true, nil
}

// WaitOnFargate waits until the CoreDNS Deployment's rollout is complete with
// every pod Ready on a Fargate node, as eksctl waits before it says the pods
// are scheduled onto Fargate.
func WaitOnFargate(ctx context.Context, cl client.Client, timeout time.Duration) error {
	var last string
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		var err error
		last, err = notOnFargate(ctx, cl)
		return last == "", err
	})
	if err != nil {
		return fmt.Errorf("waiting for the %s pods to run on Fargate (%s): %w", Name, last, err)
	}
	return nil
}

// notOnFargate says what keeps CoreDNS from being all on Fargate, or "".
func notOnFargate(ctx context.Context, cl client.Client) (string, error) {
	d := &appsv1.Deployment{}
	if err := cl.Get(ctx, client.ObjectKey{Namespace: Namespace, Name: Name}, d); err != nil {
		return "", fmt.Errorf("reading Deployment %s/%s: %w", Namespace, Name, err)
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	var pods corev1.PodList
	if err := cl.List(ctx, &pods, client.InNamespace(Namespace), client.MatchingLabels(d.Spec.Selector.MatchLabels)); err != nil {
		return "", fmt.Errorf("listing the %s pods: %w", Name, err)
	}
	ready := int32(0)
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil {
			return "pod " + p.Name + " is terminating", nil
		}
		if p.Spec.NodeName == "" {
			return "pod " + p.Name + " is not scheduled" + unscheduled(&p), nil
		}
		if !strings.HasPrefix(p.Spec.NodeName, "fargate-") {
			return fmt.Sprintf("pod %s is on node %s", p.Name, p.Spec.NodeName), nil
		}
		if podutil.IsPodReady(&p) {
			ready++
		}
	}
	if ready < want {
		return fmt.Sprintf("%d of %d ready on Fargate", ready, want), nil
	}
	return "", nil
}

// unscheduled is why the scheduler left p unscheduled, if it said.
func unscheduled(p *corev1.Pod) string {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Message != "" {
			return ": " + c.Message
		}
	}
	return ""
}
