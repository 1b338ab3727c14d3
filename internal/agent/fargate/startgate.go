package fargate

import (
	"cmp"
	"context"
	"slices"
	"sync"
)

// startGate lets a few pods on their way to Running be worked on at once, the
// first seen first. On a busy host, pods that share the CPU all finish late (ten
// pods started together each take about ten pods' time), while taken in turn
// half of them run in under half of it and the last no later. A step that waits
// on something other than this host's CPU (a registry pull, a postStart hook)
// leaves the gate first (runtime.Blocking), so one slow pod never holds it.
type startGate struct {
	mu      sync.Mutex
	free    int
	next    uint64
	order   map[string]uint64 // sandbox → when the gate first saw it
	waiting []*gateWaiter     // by order
}

type gateWaiter struct {
	order uint64
	ready chan struct{}
}

func newStartGate(n int) *startGate {
	return &startGate{free: max(n, 1), order: map[string]uint64{}}
}

// enter waits for a place for sandbox id, the sandboxes seen earliest first,
// and returns the function that gives it back (once, however often called).
func (g *startGate) enter(ctx context.Context, id string) (func(), error) {
	g.mu.Lock()
	seq, ok := g.order[id]
	if !ok {
		g.next++
		seq = g.next
		g.order[id] = seq
	}
	if g.free > 0 {
		g.free--
		g.mu.Unlock()
		return sync.OnceFunc(g.leave), nil
	}
	w := &gateWaiter{order: seq, ready: make(chan struct{})}
	i, _ := slices.BinarySearchFunc(g.waiting, seq, func(w *gateWaiter, s uint64) int { return cmp.Compare(w.order, s) })
	g.waiting = slices.Insert(g.waiting, i, w)
	g.mu.Unlock()
	select {
	case <-w.ready:
		return sync.OnceFunc(g.leave), nil
	case <-ctx.Done():
		g.mu.Lock()
		defer g.mu.Unlock()
		if i := slices.Index(g.waiting, w); i >= 0 {
			g.waiting = slices.Delete(g.waiting, i, i+1)
		} else { // handed a place as ctx ended: pass it on
			g.handOn()
		}
		return nil, ctx.Err()
	}
}

func (g *startGate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.handOn()
}

// handOn gives a freed place to the earliest waiter, else back to the pool.
func (g *startGate) handOn() {
	if len(g.waiting) == 0 {
		g.free++
		return
	}
	w := g.waiting[0]
	g.waiting = g.waiting[1:]
	close(w.ready)
}

// forget drops sandbox id's turn: its pod runs, or it is gone.
func (g *startGate) forget(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.order, id)
}
