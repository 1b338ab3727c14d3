package scheduler

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// Retry pacing for pods that cannot be placed yet: doubling from backoffBase up to
// backoffMax, like kube-scheduler's unschedulable queue. Events that may change the
// answer (a profile, a host, a released sandbox) re-queue pods at once regardless.
const (
	backoffBase = 500 * time.Millisecond
	backoffMax  = time.Minute
)

// retries tracks, per pod, the failed attempts (for back-off) and whether the pod
// waits for host room (so freed capacity wakes exactly those pods).
type retries struct {
	mu       sync.Mutex
	attempts map[types.NamespacedName]int
	starved  map[types.NamespacedName]bool
}

// next records a failed attempt and returns how long to wait before the next.
func (r *retries) next(pod types.NamespacedName, starved bool) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.attempts == nil {
		r.attempts, r.starved = map[types.NamespacedName]int{}, map[types.NamespacedName]bool{}
	}
	n := r.attempts[pod]
	r.attempts[pod] = n + 1
	if starved {
		r.starved[pod] = true
	} else {
		delete(r.starved, pod)
	}
	d := backoffBase << min(n, 16)
	return min(d, backoffMax)
}

// forget clears a pod that was placed or is gone.
func (r *retries) forget(pod types.NamespacedName) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.attempts, pod)
	delete(r.starved, pod)
}

// hungry lists the pods waiting for host room.
func (r *retries) hungry() []types.NamespacedName {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]types.NamespacedName, 0, len(r.starved))
	for p := range r.starved {
		out = append(out, p)
	}
	return out
}
