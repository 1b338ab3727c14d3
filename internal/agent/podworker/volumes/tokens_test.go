package volumes

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

func TestTokenCache(t *testing.T) {
	var c tokenCache
	clk := clocktesting.NewFakePassiveClock(time.Now())
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: "u1"}}
	src := &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To[int64](3600)}
	fetches := 0
	life := time.Hour
	fetch := func(context.Context) (string, time.Time, error) {
		fetches++
		return "t" + string(rune('0'+fetches)), clk.Now().Add(life), nil
	}
	a, _ := c.get(context.Background(), clk, pod, src, fetch)
	b, _ := c.get(context.Background(), clk, pod, src, fetch)
	if a != "t1" || b != "t1" || fetches != 1 {
		t.Fatalf("tokens %q, %q after %d requests: want the first reused", a, b, fetches)
	}
	// A token past 80% of its life is replaced.
	life = 10 * time.Millisecond
	c.forget(pod.UID)
	c.get(context.Background(), clk, pod, src, fetch)
	clk.SetTime(clk.Now().Add(9 * time.Millisecond))
	if got, _ := c.get(context.Background(), clk, pod, src, fetch); got != "t3" || fetches != 3 {
		t.Errorf("token %q after %d requests: want a new one past 80%% of its life", got, fetches)
	}
}
