package conformance

import (
	"errors"
	"maps"
	"testing"

	"github.com/fargo-dev/fargo/internal/runtime"
)

// containerResources: a container's own limits are in force from its start,
// change in place while it runs (an in-place resize: same process, no
// restart), and its status says what is in force, with its annotations.
func containerResources(t *testing.T, f Fixture) {
	ctx, rt, sb := setup(t, f, 19)
	first := runtime.Resources{CPUShares: 512, CPUQuota: 20000, CPUPeriod: 100000, MemoryLimit: 128 << 20}
	c := runtime.Container{Name: "main", Image: f.Image, Command: f.Sleep, Resources: first,
		Annotations: map[string]string{"size": "first"}}
	started, err := rt.StartContainer(ctx, sb.ID, c)
	if err != nil {
		t.Fatal(err)
	}
	check := func(want runtime.Resources, annotations map[string]string) {
		t.Helper()
		st := status(t, ctx, rt, sb.ID, "main")
		if st.ID != started.ID || st.State != runtime.StateRunning {
			t.Fatalf("container is %s %s; want %s still running", st.ID, st.State, started.ID)
		}
		if st.Resources != want || !maps.Equal(st.Annotations, annotations) {
			t.Errorf("status resources %+v, annotations %v; want %+v, %v", st.Resources, st.Annotations, want, annotations)
		}
		if f.ContainerLimits != nil {
			if got := f.ContainerLimits(t, sb.ID, st); got != want {
				t.Errorf("cgroup of the container holds %+v; want %+v", got, want)
			}
		}
	}
	check(first, c.Annotations)
	// Smaller, and the CPU limit lifted.
	second := runtime.Resources{CPUShares: 256, MemoryLimit: 96 << 20}
	if err := rt.UpdateContainer(ctx, sb.ID, "main", second, map[string]string{"size": "second"}); err != nil {
		t.Fatalf("UpdateContainer: %v", err)
	}
	check(second, map[string]string{"size": "second"})
	if err := rt.UpdateContainer(ctx, sb.ID, "missing", second, nil); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("UpdateContainer of a missing container: %v, want ErrNotFound", err)
	}
}
