package clusterdns

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Warn records a Warning event on the coredns Deployment, where kubectl
// describe shows it.
func Warn(ctx context.Context, cl client.Client, reason, message string) error {
	now := metav1.NewTime(time.Now())
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{GenerateName: Name + ".", Namespace: Namespace},
		InvolvedObject: corev1.ObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Namespace: Namespace, Name: Name},
		Type:           corev1.EventTypeWarning, Reason: reason, Message: message,
		Source:         corev1.EventSource{Component: "fargo"},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}
	if err := cl.Create(ctx, ev); err != nil {
		return fmt.Errorf("recording event %s on Deployment %s/%s: %w", reason, Namespace, Name, err)
	}
	return nil
}
