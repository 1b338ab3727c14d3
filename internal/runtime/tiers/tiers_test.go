package tiers

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/fargo-dev/fargo/internal/runtime"
	"github.com/fargo-dev/fargo/internal/runtime/conformance"
	"github.com/fargo-dev/fargo/internal/runtime/fake"
)

// vmFake is the fake backend posing as the microvm tier.
type vmFake struct{ *fake.Runtime }

func (vmFake) Name() string { return "fakevm" }
func (v vmFake) Capabilities() runtime.Capabilities {
	c := v.Runtime.Capabilities()
	c.Isolation = runtime.IsolationMicroVM
	return c
}

// The seam's suite passes through tiers (sandboxes of the default tier).
func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Fake(func(t *testing.T) runtime.Runtime {
		r, err := New(fake.New(), vmFake{fake.New()})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}))
}

func TestRoutesByIsolation(t *testing.T) {
	ctx := context.Background()
	plain, vm := fake.New(), vmFake{fake.New()}
	r, err := New(plain, vm)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(runtime.IsolationsOf(r), ","); got != "container,microvm" || r.Name() != "fake,fakevm" {
		t.Errorf("isolations %q, name %q", got, r.Name())
	}
	sb := func(id, isolation string) runtime.Sandbox {
		return runtime.Sandbox{ID: id, IP: net.ParseIP("192.168.100.9"), MilliCPU: 250, MemoryMiB: 512, Isolation: isolation}
	}
	for _, s := range []runtime.Sandbox{sb("a", ""), sb("b", runtime.IsolationMicroVM), sb("c", runtime.IsolationContainer)} {
		if err := r.CreateSandbox(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(b runtime.Runtime) []string { l, _ := b.Sandboxes(ctx); slices.Sort(l); return l }
	if got := ids(plain); !slices.Equal(got, []string{"a", "c"}) {
		t.Errorf("container tier holds %v, want a c", got)
	}
	if got := ids(vm); !slices.Equal(got, []string{"b"}) {
		t.Errorf("microvm tier holds %v, want b", got)
	}
	// Another instance over the same backends (an agent restart) finds b's.
	r2, _ := New(plain, vm)
	if _, err := vm.PullImage(ctx, "registry.local/busybox:1", runtime.PullIfNotPresent, nil); err != nil { // the fakes share no image store
		t.Fatal(err)
	}
	if _, err := r2.StartContainer(ctx, "b", runtime.Container{Name: "c", Image: "registry.local/busybox:1", Command: []string{"sleep"}}); err != nil {
		t.Fatal(err)
	}
	if st, _ := vm.Containers(ctx, "b"); len(st) != 1 {
		t.Errorf("container of b not in the microvm tier: %v", st)
	}
	// A tier the host lacks, and a sandbox asked again in another tier.
	only, _ := New(plain)
	if err := only.CreateSandbox(ctx, sb("d", runtime.IsolationMicroVM)); err == nil || !strings.Contains(err.Error(), "runs no microvm sandboxes") {
		t.Errorf("microvm on a container-only host: %v", err)
	}
	if err := r2.CreateSandbox(ctx, sb("b", runtime.IsolationContainer)); err == nil || !strings.Contains(err.Error(), "exists in fakevm") {
		t.Errorf("b again in the container tier: %v", err)
	}
	if _, err := New(plain, fake.New()); err == nil {
		t.Error("two container backends accepted")
	}
}
