package fargate

import (
	"context"
	"testing"
	"time"
)

// A full gate lets its waiters in by when each sandbox was first seen, not by
// when they came back to wait.
func TestStartGateTakesTheEarliestFirst(t *testing.T) {
	g := newStartGate(1)
	ctx := context.Background()
	for _, id := range []string{"a", "b", "c"} { // seen in this order
		leave, err := g.enter(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		leave()
	}
	hold, _ := g.enter(ctx, "x")
	order := make(chan string, 3)
	for n, id := range []string{"c", "b", "a"} { // wait in the reverse order
		go func() {
			leave, err := g.enter(ctx, id)
			if err != nil {
				t.Error(err)
				return
			}
			order <- id
			leave()
		}()
		waitFor(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return len(g.waiting) == n+1 })
	}
	hold()
	var got string
	for range 3 {
		got += <-order
	}
	if got != "abc" {
		t.Fatalf("let in %q, want abc (first seen first)", got)
	}
}

func TestStartGateHoldsAtMostN(t *testing.T) {
	g := newStartGate(2)
	ctx := context.Background()
	l1, _ := g.enter(ctx, "a")
	l2, _ := g.enter(ctx, "b")
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := g.enter(short, "c"); err == nil {
		t.Fatal("a third sandbox got into a gate of two")
	}
	if len(g.waiting) != 0 {
		t.Fatalf("a waiter whose context ended is still queued: %d", len(g.waiting))
	}
	l1()
	l1() // leaving twice gives back one place
	l3, err := g.enter(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	if g.free != 0 {
		t.Fatalf("free places = %d after a double leave, want 0", g.free)
	}
	l2()
	l3()
	if g.free != 2 {
		t.Fatalf("free places = %d once all left, want 2", g.free)
	}
	g.forget("a")
	g.forget("b")
	g.forget("c")
	if len(g.order) != 0 {
		t.Fatalf("forgotten sandboxes kept: %v", g.order)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
}
