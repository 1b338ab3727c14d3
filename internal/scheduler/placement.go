package scheduler

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/fargo-dev/fargo/internal/sizing"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// errNoRoom marks a claim that failed because no host can take the sandbox yet.
var errNoRoom = errors.New("no host has room")

// Placement is how the scheduler chooses among hosts with room.
type Placement string

// Placements.
const (
	// Spread puts a sandbox on the host with the most room left (fewest neighbours).
	Spread Placement = "spread"
	// BinPack fills the fullest host that fits first, keeping others free.
	BinPack Placement = "binpack"
)

// ParsePlacement checks a --placement value.
func ParsePlacement(s string) (Placement, error) {
	switch p := Placement(s); p {
	case Spread, BinPack:
		return p, nil
	}
	return "", fmt.Errorf("unknown placement %q: use %q or %q", s, Spread, BinPack)
}

// DefaultHostGrace is how long a host may miss heartbeats before it gets no new
// sandboxes (kube-controller-manager's node-monitor grace period).
const DefaultHostGrace = 40 * time.Second

// room is a host's capacity minus the sandboxes it holds.
type room struct {
	name                       string
	cpu, mem, slots            int64 // free; slots < 0 means no cap
	capCPU, capMem             int64
	unschedulable, unreachable bool
	heartbeat                  time.Time
	// isolations are the tiers the host offers; lacks is the one asked for
	// that it does not (see offering).
	isolations []string
	lacks      string
}

// rooms computes every host's free capacity. Sandboxes count until they are gone,
// terminating ones too (their host has not released them yet), but for stopped
// ones, whose pods have finished.
func rooms(hosts []v1alpha1.Host, sandboxes []*v1alpha1.Sandbox, now time.Time, grace time.Duration) []*room {
	byName := map[string]*room{}
	out := make([]*room, 0, len(hosts))
	for i := range hosts {
		h := &hosts[i]
		r := &room{name: h.Name, cpu: h.Spec.Capacity.MilliCPU, mem: h.Spec.Capacity.MemoryMiB, slots: -1,
			capCPU: h.Spec.Capacity.MilliCPU, capMem: h.Spec.Capacity.MemoryMiB, unschedulable: h.Spec.Unschedulable,
			isolations: h.Spec.Isolations}
		if len(r.isolations) == 0 {
			r.isolations = []string{v1alpha1.IsolationContainer} // agents from before tiers
		}
		if h.Spec.Capacity.Sandboxes > 0 {
			r.slots = h.Spec.Capacity.Sandboxes
		}
		if hb := h.Status.HeartbeatTime; hb != nil {
			r.heartbeat = hb.Time
		}
		r.unreachable = now.Sub(r.heartbeat) > grace
		byName[h.Name] = r
		out = append(out, r)
	}
	for _, sb := range sandboxes {
		if meta.IsStatusConditionTrue(sb.Status.Conditions, v1alpha1.SandboxStopped) {
			continue // its pod finished: the compute is released, only the IP is held
		}
		if r := byName[sb.Spec.Host]; r != nil {
			r.cpu -= sb.Spec.MilliCPU
			r.mem -= sb.Spec.MemoryMiB
			if r.slots > 0 {
				r.slots--
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// offering marks the hosts that do not offer isolation ("" is any host's
// default) and returns all.
func offering(all []*room, isolation string) []*room {
	for _, r := range all {
		if isolation != "" && !slices.Contains(r.isolations, isolation) {
			r.lacks = isolation
		}
	}
	return all
}

func (r *room) fits(size sizing.Size) bool {
	return r.lacks == "" && !r.unschedulable && !r.unreachable && r.slots != 0 && r.cpu >= size.MilliCPU && r.mem >= size.MemoryMiB
}

// left is the share of the host still free after placing size: the scarcer of CPU
// and memory, so both policies look at the resource that runs out first.
func (r *room) left(size sizing.Size) float64 {
	c := float64(r.cpu-size.MilliCPU) / float64(max(r.capCPU, 1))
	m := float64(r.mem-size.MemoryMiB) / float64(max(r.capMem, 1))
	return min(c, m)
}

// pickHost returns the host for a sandbox of size, or an error saying, host by host,
// why none can take it.
func pickHost(all []*room, size sizing.Size, p Placement) (string, error) {
	var best *room
	for _, r := range all {
		if !r.fits(size) {
			continue
		}
		if best == nil || (p == BinPack && r.left(size) < best.left(size)) || (p != BinPack && r.left(size) > best.left(size)) {
			best = r
		}
	}
	if best != nil {
		return best.name, nil
	}
	if len(all) == 0 {
		return "", fmt.Errorf("%w for %s: no host is registered (run `fargo agent`, or `fargo server` with its built-in agent)", errNoRoom, size)
	}
	why := make([]string, 0, len(all))
	for _, r := range all {
		why = append(why, r.name+": "+r.refusal(size))
	}
	return "", fmt.Errorf("%w for %s: 0/%d hosts fit: %s", errNoRoom, size, len(all), strings.Join(why, "; "))
}

func (r *room) refusal(size sizing.Size) string {
	switch {
	case r.lacks != "":
		return "runs no " + r.lacks + " sandboxes (" + strings.Join(r.isolations, ", ") + " only)"
	case r.unschedulable:
		return "unschedulable"
	case r.unreachable && r.heartbeat.IsZero():
		return "no heartbeat yet"
	case r.unreachable:
		return "no heartbeat since " + r.heartbeat.UTC().Format(time.RFC3339)
	case r.slots == 0:
		return "sandbox limit reached"
	}
	return fmt.Sprintf("%s vCPU and %d MiB free", strconv.FormatFloat(float64(max(r.cpu, 0))/1000, 'f', -1, 64), max(r.mem, 0))
}
