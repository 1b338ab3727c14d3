package containerd

import (
	"context"
	"encoding/json"
	"fmt"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/fargo-dev/fargo/internal/runtime"
)

// The container's resources and annotations, kept as labels (JSON) so a
// status reads them with the rest, as CRI keeps kubelet's annotations.
const (
	labelResources   = "fargo.dev/resources"
	labelAnnotations = "fargo.dev/annotations"
)

// withResources sets the container's own cgroup limits; zero values are left
// unset (no limit under the sandbox's).
func withResources(res runtime.Resources) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if s.Linux == nil {
			s.Linux = &specs.Linux{}
		}
		if s.Linux.Resources == nil {
			s.Linux.Resources = &specs.LinuxResources{}
		}
		l := linuxResources(res, false)
		s.Linux.Resources.CPU, s.Linux.Resources.Memory = l.CPU, l.Memory
		return nil
	}
}

// linuxResources is res for the OCI spec. An update says "no limit" outright
// (-1), as runc leaves a setting that is absent as it was.
func linuxResources(res runtime.Resources, update bool) *specs.LinuxResources {
	out := &specs.LinuxResources{CPU: &specs.LinuxCPU{}, Memory: &specs.LinuxMemory{}}
	if res.CPUShares > 0 {
		out.CPU.Shares = &res.CPUShares
	}
	unlimited := int64(-1)
	switch {
	case res.CPUQuota > 0:
		out.CPU.Quota, out.CPU.Period = &res.CPUQuota, &res.CPUPeriod
	case update:
		out.CPU.Quota = &unlimited
	}
	switch {
	case res.MemoryLimit > 0:
		out.Memory.Limit = &res.MemoryLimit
	case update:
		out.Memory.Limit = &unlimited
	}
	return out
}

// withResourceLabels adds the labels recording res and annotations to labels.
func withResourceLabels(labels map[string]string, res runtime.Resources, annotations map[string]string) map[string]string {
	r, _ := json.Marshal(res) // plain struct and map of strings: cannot fail
	a, _ := json.Marshal(annotations)
	labels[labelResources], labels[labelAnnotations] = string(r), string(a)
	return labels
}

// resourcesFromLabels reads what withResourceLabels recorded; a container made
// before the labels has neither.
func resourcesFromLabels(labels map[string]string) (res runtime.Resources, annotations map[string]string) {
	_ = json.Unmarshal([]byte(labels[labelResources]), &res)
	_ = json.Unmarshal([]byte(labels[labelAnnotations]), &annotations)
	return res, annotations
}

// UpdateContainer implements runtime.Runtime: the task's cgroup first, then
// the labels, so a status never claims a setting not in force.
func (r *Runtime) UpdateContainer(ctx context.Context, sandboxID, name string, res runtime.Resources, annotations map[string]string) error {
	ctx = r.ctx(ctx)
	c, task, err := r.runningContainer(ctx, sandboxID, name)
	if err != nil {
		return err
	}
	if err := task.Update(ctx, containerd.WithResources(linuxResources(res, true))); err != nil {
		return fmt.Errorf("updating resources of container %s: %w", name, err)
	}
	if _, err := c.SetLabels(ctx, withResourceLabels(map[string]string{}, res, annotations)); err != nil {
		return fmt.Errorf("labelling container %s: %w", c.ID(), err)
	}
	return nil
}
