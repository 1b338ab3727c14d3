package ownwrites

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/fargo-dev/fargo/internal/scheme"
)

// laggingCache is a client whose Gets come from a snapshot the test takes, as an
// informer cache that has not yet seen the latest writes; writes go to the server.
type laggingCache struct {
	client.Client // the server
	snapshot      map[client.ObjectKey]*corev1.Node
}

func (l *laggingCache) Get(ctx context.Context, k client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	n, ok := l.snapshot[k]
	if !ok {
		return apierrors.NewNotFound(corev1.Resource("nodes"), k.Name)
	}
	n.DeepCopyInto(obj.(*corev1.Node))
	return nil
}

// catchUp makes the cache show the server's current state.
func (l *laggingCache) catchUp(t *testing.T) {
	t.Helper()
	l.snapshot = map[client.ObjectKey]*corev1.Node{}
	list := &corev1.NodeList{}
	if err := l.Client.List(context.Background(), list); err != nil {
		t.Fatal(err)
	}
	for i := range list.Items {
		l.snapshot[client.ObjectKeyFromObject(&list.Items[i])] = &list.Items[i]
	}
}

func setup(t *testing.T) (*Client, *laggingCache, *clocktesting.FakePassiveClock) {
	t.Helper()
	server := fake.NewClientBuilder().WithScheme(scheme.Scheme).WithStatusSubresource(&corev1.Node{}).Build()
	cache := &laggingCache{Client: server, snapshot: map[client.ObjectKey]*corev1.Node{}}
	c := New(cache)
	clk := clocktesting.NewFakePassiveClock(time.Now())
	c.clock = clk
	return c, cache, clk
}

var k = client.ObjectKey{Name: "fargate-ip-192-168-96-1"}

// get reads the node through c and returns its Ready reason ("" when none), or
// "not found".
func get(t *testing.T, c client.Client) string {
	t.Helper()
	n := &corev1.Node{}
	err := c.Get(context.Background(), k, n)
	if apierrors.IsNotFound(err) {
		return "not found"
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, cond := range n.Status.Conditions {
		return cond.Reason
	}
	return ""
}

func create(t *testing.T, c client.Client) {
	t.Helper()
	if err := c.Create(context.Background(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: k.Name}}); err != nil {
		t.Fatal(err)
	}
}

// expect fails unless c reads the node as want (see get), saying when.
func expect(t *testing.T, c client.Client, want, when string) {
	t.Helper()
	if got := get(t, c); got != want {
		t.Fatalf("%s: %q; want %q", when, got, want)
	}
}

func writeStatus(t *testing.T, c client.Client, reason string) {
	t.Helper()
	n := &corev1.Node{}
	if err := c.Get(context.Background(), k, n); err != nil {
		t.Fatal(err)
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: reason}}
	if err := c.Status().Update(context.Background(), n); err != nil {
		t.Fatalf("status update %s: %v", reason, err)
	}
}

func TestACreateIsSeenBeforeTheCacheHasIt(t *testing.T) {
	c, cache, _ := setup(t)
	create(t, c)
	expect(t, cache, "not found", "the cache alone")
	expect(t, c, "", "through ownwrites")
}

// Two status writes in a row, each on the previous one's result, with the cache
// behind by two, then one, then none: no write conflicts, the latest is seen.
func TestWritesOnWritesWhileTheCacheIsBehind(t *testing.T) {
	c, cache, _ := setup(t)
	create(t, c)
	cache.catchUp(t)
	writeStatus(t, c, "first")
	writeStatus(t, c, "second") // on a stale base this is a conflict
	expect(t, c, "second", "cache two writes behind")
	expect(t, cache, "", "the cache alone")
	cache.catchUp(t)
	expect(t, c, "second", "cache caught up")
	if len(c.entries) != 0 {
		t.Fatalf("%d entries once the cache caught up; want none", len(c.entries))
	}
}

// Once the cache shows a version this process did not write (another writer),
// the cache is right.
func TestAnotherWritersVersionWins(t *testing.T) {
	c, cache, _ := setup(t)
	create(t, c)
	cache.catchUp(t)
	writeStatus(t, c, "mine")
	writeStatus(t, cache.Client, "theirs") // straight to the server
	cache.catchUp(t)
	expect(t, c, "theirs", "after another writer")
}

func TestADeleteIsNotUndone(t *testing.T) {
	c, cache, _ := setup(t)
	create(t, c)
	cache.catchUp(t)
	writeStatus(t, c, "mine")
	// Deleted by someone else after the write: the cache no longer has it.
	if err := cache.Client.Delete(context.Background(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: k.Name}}); err != nil {
		t.Fatal(err)
	}
	cache.catchUp(t)
	expect(t, c, "not found", "deleted by another")
	// Deleted through ownwrites before the cache saw the create.
	create(t, c)
	if err := c.Delete(context.Background(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: k.Name}}); err != nil {
		t.Fatal(err)
	}
	expect(t, c, "not found", "deleted through ownwrites")
}

// A write the cache never shows (created and deleted before it looked) is not
// served for ever.
func TestAnOldWriteIsDropped(t *testing.T) {
	c, _, clk := setup(t)
	create(t, c)
	clk.SetTime(clk.Now().Add(maxAge + time.Second))
	expect(t, c, "not found", "after the cache missed it for longer than maxAge")
}
