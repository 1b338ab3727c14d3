package agent

import (
	"context"
	goruntime "runtime"
	"strings"
	"testing"

	_ "github.com/fargo-dev/fargo/internal/runtime/fake"
)

// The CPU a host offers is the machine's CPUs times --cpu-overcommit (4 by
// default), or exactly --host-cpu; not both. Memory is not overcommitted
// unless asked.
func TestCPUOffer(t *testing.T) {
	offer := func(o Options) (int64, error) {
		o.Runtime = "fake"
		cfg, err := o.Config(context.Background(), Cluster{}, "v1.37.2", t.TempDir(), t.TempDir(), func(error) {})
		if err == nil {
			_ = cfg.Runtime.Close()
		}
		return cfg.Capacity.MilliCPU, err
	}
	cpus := int64(goruntime.NumCPU())
	for _, c := range []struct {
		o    Options
		want int64
	}{
		{Options{}, cpus * DefaultCPUOvercommit * 1000},
		{Options{CPUOvercommit: 1}, cpus * 1000},
		{Options{CPUOvercommit: 4}, cpus * 4000},
		{Options{CPUOvercommit: 1.5}, cpus * 1500},
		{Options{CPU: "3500m"}, 3500},
	} {
		if got, err := offer(c.o); err != nil || got != c.want {
			t.Errorf("%+v: offer %dm, %v; want %dm", c.o, got, err, c.want)
		}
	}
	for _, c := range []struct {
		o   Options
		msg string
	}{
		{Options{CPUOvercommit: 0.5}, "--cpu-overcommit 0.5: must be from 1"},
		{Options{CPUOvercommit: 100}, "--cpu-overcommit 100: must be from 1"},
		{Options{CPUOvercommit: 2, CPU: "8"}, "--host-cpu sets the offer itself"},
		{Options{MemoryOvercommit: 0.9}, "--memory-overcommit 0.9: must be from 1"},
		{Options{MemoryOvercommit: 2, Memory: "8Gi"}, "--host-memory sets the offer itself"},
	} {
		if _, err := offer(c.o); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%+v: %v; want an error with %q", c.o, err, c.msg)
		}
	}
}
